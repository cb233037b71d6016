//! What each kind of trigger watches, as the members in its condition now: the temp table
//! `mp_fired (member_id, facts)`, `facts` being the JSON of what fired. Every condition is
//! read as of the latest data day T, from the summary, the scores, the metrics' own SQL or
//! a saved segment's scope — the figures the dashboards show.

use app::model::{Metric, TriggerWhen};
use chrono::{Days, NaiveDate};
use duckdb::Connection;

use crate::{
    Result,
    metrics::{
        self, MetricConfig, Window,
        rfm::RfmRule,
        scope::{self, Criteria, Scope},
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

/// How a kind's condition is read between whole evaluations (while the latest day, the
/// scores, the rules and the broad changes stay the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Between {
    /// For the members a fold touched alone (`mp_touched`): each member's condition rests
    /// on their own data.
    Touched,
    /// Not at all: P(alive) rests on the model's scores, which only a refit (a new basis)
    /// or a merge (a broad change) stores again.
    Unmoved,
    /// For everyone, at intervals: RFM scores rank each member among all (a purchase moves
    /// others across a boundary), and a saved segment's scope is worked out for everyone.
    Whole,
}

/// How `when` is read between whole evaluations.
pub fn between(when: &TriggerWhen) -> Between {
    match when {
        TriggerWhen::EntersSegment { .. } | TriggerWhen::LeavesSegment { .. } => Between::Whole,
        TriggerWhen::PAliveBelow { .. } => Between::Unmoved,
        _ => Between::Touched,
    }
}

/// Fills `mp_fired` with the members in `t`'s condition as of `as_of`: every member, or
/// (`touched`) only those in the temp table `mp_touched (member_id, member_no,
/// first_purchase_at, last_purchase_at, purchases, tier)`, which holds their summary's
/// facts; a near-next-tier trigger reads them from `book` (kept by [`super::spend::keep`]).
pub fn fired(
    conn: &Connection,
    t: &Armed,
    as_of: NaiveDate,
    cfg: MetricConfig,
    rules: &[RfmRule],
    touched: bool,
    book: Option<&super::spend::Book>,
) -> Result<()> {
    let after = midnight(as_of + Days::new(1));
    let summary = if touched { "mp_touched" } else { "member_summary" };
    let only = if touched { "AND member_id IN (SELECT member_id FROM mp_touched)" } else { "" };
    let select = match &t.when {
        // The touched members' summary facts are in `mp_touched`.
        TriggerWhen::FirstPurchase { within_days } => Sql::new(format!(
            "SELECT member_id, '{{\"first_purchase_day\":\"' || CAST(CAST(first_purchase_at AS DATE) AS VARCHAR) || '\"}}'
             FROM {summary} WHERE first_purchase_at >= $from AND first_purchase_at < $after",
        ))
        .bind("from", midnight(as_of + Days::new(1) - Days::new(u64::from(*within_days))))
        .bind("after", after),
        TriggerWhen::NoPurchase { days } => Sql::new(format!(
            "SELECT member_id, '{{\"last_purchase_day\":\"' || CAST(CAST(last_purchase_at AS DATE) AS VARCHAR)
                    || '\",\"days_since\":' || date_diff('day', CAST(last_purchase_at AS DATE), CAST($as_of AS DATE)) || '}}'
             FROM {summary} WHERE purchases > 0 AND last_purchase_at < $cut",
        ))
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
        // The touched members from the spend book (`super::spend`), everyone from the days.
        TriggerWhen::NearNextTier { next_tier, threshold_yuan, within_yuan } if touched => {
            let Some(book) = book else { return Err(crate::Error::Internal("the spend book is not kept".into())) };
            super::spend::near(conn, book, next_tier, *threshold_yuan, *within_yuan)?;
            Sql::new(
                "SELECT member_id, '{\"spend_365d\":' || round(cents / 100.0, 2) || ',\"short_of\":'
                        || round($threshold - cents / 100.0, 2) || '}' FROM mp_near JOIN mp_touched USING (member_no)",
            )
            .bind("threshold", *threshold_yuan)
        }
        TriggerWhen::NearNextTier { next_tier, threshold_yuan, within_yuan } => {
            // The tier as the tier dimension reads it (`scope::tier_of`), for the members
            // with a spend in the last 365 days.
            Sql::new(format!(
                "SELECT s.member_id, '{{\"spend_365d\":' || round(x.cents / 100.0, 2) || ',\"short_of\":'
                        || round($threshold - x.cents / 100.0, 2) || '}}'
                 FROM (SELECT member_no, sum(cents) AS cents FROM member_days
                       WHERE day > $from AND day <= $as_of GROUP BY member_no) x
                 JOIN member_summary s ON s.member_no = x.member_no
                 LEFT JOIN members m ON m.member_id = s.member_id
                 LEFT JOIN (SELECT member_id, arg_max(tier, changed_at) FILTER (WHERE changed_at < CAST($after AS TIMESTAMP)) AS tier
                            FROM tier_changes GROUP BY member_id) th ON th.member_id = s.member_id
                 WHERE {tier} <> $tier AND x.cents >= ($threshold - $within) * 100 AND x.cents < $threshold * 100",
                tier = scope::tier_of("th"),
            ))
            .bind("after", after.clone())
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
        "CREATE OR REPLACE TEMP TABLE mp_fired AS SELECT * FROM ({}) AS f(member_id, facts) WHERE TRUE {only}",
        select.text(),
    ))
    .with(&select)
    .execute(conn)?;
    Ok(())
}
