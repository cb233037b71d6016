//! What each kind of trigger watches, as the members in its condition now: the temp table
//! `mp_fired (member_id, facts)`, `facts` being the JSON of what fired. Every condition is
//! read as of the latest data day T, from the summary, the scores, the metrics' own SQL or
//! a saved segment's scope — the figures the dashboards show.

use app::model::{Dimension, Metric, TriggerWhen};
use chrono::{Days, NaiveDate};
use duckdb::Connection;

use crate::{
    Result,
    metrics::{
        self, MetricConfig, Window,
        rfm::RfmRule,
        scope::{Criteria, Scope},
    },
    store::sql::{Sql, day, midnight},
};

/// A trigger as the evaluation needs it: its condition, and a segment's filters resolved.
#[derive(Clone, Debug)]
pub struct Armed {
    pub id: i64,
    pub when: TriggerWhen,
    /// The criteria of the segment an `EntersSegment` / `LeavesSegment` trigger watches.
    pub segment: Option<Criteria>,
    pub campaign: Option<i64>,
}

impl Armed {
    /// Whether the hand-on is on leaving the condition rather than entering it.
    pub fn on_leaving(&self) -> bool {
        matches!(self.when, TriggerWhen::LeavesSegment { .. })
    }
}

/// Fills `mp_fired` with the members in `t`'s condition as of `as_of`.
pub fn fired(conn: &Connection, t: &Armed, as_of: NaiveDate, cfg: MetricConfig, rules: &[RfmRule]) -> Result<()> {
    let after = midnight(as_of + Days::new(1));
    let select = match &t.when {
        TriggerWhen::FirstPurchase { within_days } => Sql::new(
            "SELECT member_id, '{\"first_purchase_day\":\"' || CAST(CAST(first_purchase_at AS DATE) AS VARCHAR) || '\"}'
             FROM member_summary WHERE first_purchase_at >= $from AND first_purchase_at < $after",
        )
        .bind("from", midnight(as_of + Days::new(1) - Days::new(u64::from(*within_days))))
        .bind("after", after),
        TriggerWhen::NoPurchase { days } => Sql::new(
            "SELECT member_id, '{\"last_purchase_day\":\"' || CAST(CAST(last_purchase_at AS DATE) AS VARCHAR)
                    || '\",\"days_since\":' || date_diff('day', CAST(last_purchase_at AS DATE), CAST($as_of AS DATE)) || '}'
             FROM member_summary WHERE purchases > 0 AND last_purchase_at < $cut",
        )
        .bind("cut", midnight(as_of + Days::new(1) - Days::new(u64::from(*days))))
        .bind("as_of", day(as_of)),
        TriggerWhen::PAliveBelow { below } => Sql::new(
            "SELECT member_id, '{\"p_alive\":' || round(p_alive, 4) || ',\"clv_12m\":' || round(clv_12m, 2) || '}'
             FROM member_scores WHERE high_value AND p_alive < $below",
        )
        .bind("below", *below),
        TriggerWhen::PointsExpiring { days, min_points } => {
            let metric = if *days == 30 { Metric::PointsExpiring30 } else { Metric::PointsExpiring90 };
            match metrics::per_member(metric, &Window { end: as_of, days: 30 }, cfg) {
                // The metric counts value (points × point value, in cents).
                Some(part) => Sql::new(format!(
                    "SELECT s.member_id, '{{\"points_expiring\":' || (x.n // $point_value) || ',\"within_days\":{days}}}'
                     FROM ({}) AS x(member_no, n, d) JOIN member_summary s ON s.member_no = CAST(x.member_no AS BIGINT)
                     WHERE x.n >= $min_value",
                    part.text()
                ))
                .with(&part)
                .bind("point_value", i64::from(cfg.point_value_cents.max(1)))
                .bind("min_value", min_points.saturating_mul(i64::from(cfg.point_value_cents.max(1)))),
                None => Sql::new("SELECT member_id, '' FROM member_summary WHERE FALSE"),
            }
        }
        TriggerWhen::NearNextTier { next_tier, threshold_yuan, within_yuan } => {
            Scope::of(Criteria::default(), Some(Dimension::Tier)).with_rules(rules.to_vec()).prepare(conn, as_of, cfg)?;
            Sql::new(
                "SELECT sc.member_id, '{\"spend_365d\":' || round(x.cents / 100.0, 2) || ',\"short_of\":'
                        || round($threshold - x.cents / 100.0, 2) || '}'
                 FROM mp_scope sc JOIN (SELECT member_no, sum(cents) AS cents FROM member_days
                                         WHERE day > $from AND day <= $as_of GROUP BY member_no) x USING (member_no)
                 WHERE coalesce(sc.grp, '') <> $tier AND x.cents >= ($threshold - $within) * 100 AND x.cents < $threshold * 100",
            )
            .bind("from", day(as_of - Days::new(365)))
            .bind("as_of", day(as_of))
            .bind("tier", next_tier.clone())
            .bind("threshold", *threshold_yuan)
            .bind("within", *within_yuan)
        }
        TriggerWhen::EntersSegment { segment } | TriggerWhen::LeavesSegment { segment } => {
            let criteria = t.segment.clone().unwrap_or_default();
            Scope::of(criteria, None).with_rules(rules.to_vec()).prepare(conn, as_of, cfg)?;
            // The key is a saved segment's ([a-z0-9_-]), checked when it was saved.
            Sql::new("SELECT member_id, $facts FROM mp_scope")
                .bind("facts", format!("{{\"segment\":\"{}\"}}", segment.replace(['"', '\\'], "")))
        }
    };
    Sql::new(format!(
        "CREATE OR REPLACE TEMP TABLE mp_fired AS SELECT * FROM ({}) AS f(member_id, facts)",
        select.text()
    ))
    .with(&select)
    .execute(conn)?;
    Ok(())
}
