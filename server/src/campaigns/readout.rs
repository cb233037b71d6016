//! A campaign's readout: per arm, the members, the goal's conversions and the net revenue
//! over the window, then the uplift and its tests ([`super::stats`]).
//!
//! What converts, by goal (the window is [start, start + window days), cut at the latest
//! data day):
//! - `reactivation`: a purchase in the window by a member dormant or churned at its start
//!   (no purchase in the `active_days` before it; as the reactivation rate counts them);
//! - `repurchase`: a purchase in the window by a member who had bought before its start;
//! - `revenue_per_member`: a purchase in the window (the revenue test is the one that
//!   matters);
//! - `points_redemption`: a points redemption in the window.
//!
//! Every member of an arm is in its denominator, buyers or not (that is what the draw made
//! comparable); revenue per member is each member's net revenue in the window (returns
//! subtract), 0 for those who bought nothing.

use app::model::{ArmReadout, Campaign, Comparison};
use chrono::{Days, NaiveDate};
use duckdb::Connection;

use super::stats::{self, Rate, Sums, Uplift};
use crate::{
    Result,
    metrics::MetricConfig,
    store::sql::{Sql, midnight},
};

/// One arm's sums over the window.
#[derive(Clone, Debug, PartialEq)]
pub struct ArmSums {
    pub arm: String,
    pub members: i64,
    pub conversions: i64,
    pub revenue_cents: i64,
    /// Σ revenue and Σ revenue², in yuan.
    pub revenue: Sums,
}

/// The condition a member converts on, by goal (see the module).
fn converts(goal: &str) -> &'static str {
    match goal {
        "reactivation" => "w.purchases > 0 AND b.last_purchase IS NOT NULL AND b.last_purchase < $active_from",
        "repurchase" => "w.purchases > 0 AND b.last_purchase IS NOT NULL",
        "points_redemption" => "r.member_id IS NOT NULL",
        _ => "w.purchases > 0",
    }
}

/// The arms' sums over [`first`, `last`] (days), treatment first.
pub fn sums(
    conn: &Connection,
    id: i64,
    goal: &str,
    first: NaiveDate,
    last: NaiveDate,
    cfg: MetricConfig,
) -> Result<Vec<ArmSums>> {
    let active_from = first - Days::new(1) - Days::new(u64::from(cfg.active_days));
    let rows = Sql::new(format!(
        "WITH a AS (SELECT member_id, arm FROM {arms}),
         w AS (SELECT o.member_id, count(*) FILTER (WHERE o.net_amount > 0) AS purchases,
                      sum(o.net_amount) AS revenue
               FROM orders o JOIN a USING (member_id)
               WHERE o.ordered_at >= $from AND o.ordered_at < $after GROUP BY o.member_id),
         b AS (SELECT o.member_id, max(CAST(o.ordered_at AS DATE)) AS last_purchase
               FROM orders o JOIN a USING (member_id)
               WHERE o.ordered_at < $from AND o.net_amount > 0 GROUP BY o.member_id),
         r AS (SELECT DISTINCT p.member_id FROM points p JOIN a USING (member_id)
               WHERE p.kind = 'redeem' AND p.occurred_at >= $from AND p.occurred_at < $after)
         SELECT a.arm, count(*), count(*) FILTER (WHERE {converts}),
                CAST(round(coalesce(sum(w.revenue), 0) * 100) AS BIGINT),
                CAST(coalesce(sum(w.revenue), 0) AS DOUBLE),
                CAST(coalesce(sum(w.revenue * w.revenue), 0) AS DOUBLE)
         FROM a LEFT JOIN w USING (member_id) LEFT JOIN b USING (member_id) LEFT JOIN r USING (member_id)
         GROUP BY a.arm ORDER BY a.arm DESC",
        converts = converts(goal),
        arms = super::arms::by_person("campaign_id = $id")
    ))
    .bind("id", id)
    .bind("from", midnight(first))
    .bind("after", midnight(last + Days::new(1)))
    .bind("active_from", crate::store::sql::day(active_from))
    .rows(conn, |r| {
        let members: i64 = r.get(1)?;
        Ok(ArmSums {
            arm: r.get(0)?,
            members,
            conversions: r.get(2)?,
            revenue_cents: r.get(3)?,
            revenue: Sums { n: members as u64, sum: r.get(4)?, sum_sq: r.get(5)? },
        })
    })?;
    Ok(rows)
}

/// The goal's name in Chinese and English, for verdicts.
pub fn goal_names(goal: &str) -> (&'static str, &'static str) {
    match goal {
        "reactivation" => ("唤醒率", "reactivation"),
        "repurchase" => ("复购率", "repurchase"),
        "points_redemption" => ("积分兑换率", "points redemption"),
        _ => ("人均消费", "revenue per member"),
    }
}

fn comparison(test: &str, u: &Uplift) -> Comparison {
    Comparison {
        test: test.into(),
        treatment: u.treatment,
        control: u.control,
        difference: u.difference,
        ci_low: u.ci_low,
        ci_high: u.ci_high,
        statistic: u.statistic,
        df: u.df,
        p_value: u.p_value,
    }
}

/// What a readout says, from the arms' sums.
pub struct Figures {
    pub arms: Vec<ArmReadout>,
    pub rate: Option<Comparison>,
    pub revenue: Option<Comparison>,
    pub sample_ratio: Option<stats::SampleRatio>,
    pub verdict: (String, String),
}

pub fn figures(c: &Campaign, sums: &[ArmSums]) -> Figures {
    let arm = |name: &str| sums.iter().find(|s| s.arm == name).cloned();
    let empty = |name: &str| ArmSums {
        arm: name.into(),
        members: 0,
        conversions: 0,
        revenue_cents: 0,
        revenue: Sums::default(),
    };
    let (t, k) =
        (arm("treatment").unwrap_or_else(|| empty("treatment")), arm("control").unwrap_or_else(|| empty("control")));
    let rate_of = |s: &ArmSums| Rate { members: s.members as u64, conversions: s.conversions as u64 };
    let rate = stats::rates(rate_of(&t), rate_of(&k));
    let revenue = stats::means(t.revenue, k.revenue);
    let sample_ratio = stats::sample_ratio(t.members as u64, k.members as u64, c.control_share);
    let (zh, en) = goal_names(&c.goal);
    let verdict = match (c.goal.as_str(), &rate, &revenue) {
        ("revenue_per_member", _, Some(u)) => stats::mean_verdict(zh, en, u),
        (_, Some(u), _) => stats::rate_verdict(zh, en, u),
        _ => ("两组数据不足以比较".to_string(), "the arms do not hold enough to compare".to_string()),
    };
    let verdict = match &sample_ratio {
        Some(s) if s.mismatch => (
            format!("分组比例异常（p = {}），结果不可信。{}", stats::p_text(s.p_value), verdict.0),
            format!(
                "sample ratio mismatch (p = {}): do not trust this readout. {}",
                stats::p_text(s.p_value),
                verdict.1
            ),
        ),
        _ => verdict,
    };
    let arms = [t, k]
        .into_iter()
        .map(|s| ArmReadout {
            rate: if s.members == 0 { 0.0 } else { s.conversions as f64 / s.members as f64 },
            revenue_per_member: if s.members == 0 { 0.0 } else { s.revenue_cents as f64 / 100.0 / s.members as f64 },
            arm: s.arm,
            members: s.members,
            conversions: s.conversions,
            revenue_cents: s.revenue_cents,
        })
        .collect();
    Figures {
        arms,
        rate: rate.as_ref().map(|u| comparison("two_proportion_z", u)),
        revenue: revenue.as_ref().map(|u| comparison("welch_t", u)),
        sample_ratio,
        verdict,
    }
}
