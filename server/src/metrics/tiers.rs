//! Tier migration (SPEC §4): from-tier × to-tier between two dates, from the tier history
//! in `tier_changes` (a member's tier as of a day: see [`crate::metrics::scope::tier_join`]).
//! Tier mix at T is the `members` metric broken down by the `tier` dimension, which is
//! also evaluated as of T.

use app::model::{TierFlow, TierMigration};
use chrono::{Days, NaiveDate};
use duckdb::Connection;

use crate::{
    Result,
    metrics::MetricConfig,
    metrics::scope::{Scope, tier_join, tier_of},
    store::sql::{Sql, midnight},
};

/// The members who had joined by the end of `from`, in the scope as of `to`, counted by
/// their tier at the end of `from` and at the end of `to`.
pub fn migration(
    conn: &Connection,
    from: NaiveDate,
    to: NaiveDate,
    scope: &Scope,
    cfg: MetricConfig,
) -> Result<TierMigration> {
    scope.prepare(conn, to, cfg)?;
    let after = |d: NaiveDate| midnight(d + Days::new(1));
    let flows = Sql::new(format!(
        "SELECT {before}, {now}, count(*) FROM members m {t1} {t2} {join}
         WHERE m.joined_at < CAST($from_after AS TIMESTAMP) GROUP BY 1, 2 ORDER BY 1, 2",
        before = tier_of("t1"),
        now = tier_of("t2"),
        join = scope.join("m"),
        t1 = tier_join("t1", "from_after"),
        t2 = tier_join("t2", "to_after"),
    ))
    .bind("from_after", after(from))
    .bind("to_after", after(to))
    .rows(conn, |r| Ok(TierFlow { from_tier: r.get(0)?, to_tier: r.get(1)?, members: Some(r.get(2)?) }))?;
    let mut tiers: Vec<String> = flows.iter().flat_map(|f| [f.from_tier.clone(), f.to_tier.clone()]).collect();
    tiers.sort();
    tiers.dedup();
    Ok(TierMigration {
        from: from.to_string(),
        to: to.to_string(),
        filters: scope.filters.clone(),
        ranges: scope.ranges.clone(),
        tiers,
        flows,
        withheld: None,
    })
}
