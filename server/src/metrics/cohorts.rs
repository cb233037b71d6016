//! Join-month cohorts (SPEC §4): the cohort retention matrix and cohort LTV at ages 1, 3,
//! 6, 12 and 24 months, as of T, over the members of a scope.
//!
//! - A member's cohort is the calendar month of `joined_at`; members who joined after T
//!   are in none.
//! - Retention cell k of a cohort: the share of its members with a purchase (an order
//!   with a positive amount) in calendar month `cohort + k`, counting days up to T; cells
//!   of months after T's month are null. Purchases before joining count in no cell.
//! - LTV at age a: the mean, over the cohort's members, of each member's net revenue
//!   (returns included) on days before `joined_day + a months` (a month later on the
//!   same day of the month, clamped to the month's end). A cell is null until the
//!   cohort's youngest possible member is that old, i.e. until the last day of the
//!   cohort's month plus a months is at most T, so no cell ever mixes ages.
//! - The `all` row adds up the listed cohorts, per cell over those that have one.

use app::model::{CohortRow, Cohorts, Measure};
use chrono::{Datelike, Days, Months, NaiveDate};
use duckdb::Connection;

use crate::{
    Result,
    metrics::scope::Scope,
    metrics::{MetricConfig, money_per, ratio},
    store::sql::{Sql, day},
};

pub const LTV_AGES: [u32; 5] = [1, 3, 6, 12, 24];
pub const MAX_COHORTS: u32 = 60;

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

/// The cohorts of the `count` join months ending with T's month.
pub fn cohorts(conn: &Connection, as_of: NaiveDate, count: u32, scope: &Scope, cfg: MetricConfig) -> Result<Cohorts> {
    scope.prepare(conn, as_of, cfg)?;
    let last = month_start(as_of);
    let first = last - Months::new(count - 1);
    let join = scope.join("o");
    let range = |text: String| Sql::new(text).bind("first", day(first)).bind("as_of", day(as_of));
    let months: Vec<NaiveDate> = (0..count).map(|i| first + Months::new(i)).collect();
    let index = |label: &str| months.iter().position(|m| m.format("%Y-%m").to_string() == label);

    // Members per cohort.
    let mut sizes = vec![0i64; months.len()];
    let rows = range(format!(
        "SELECT strftime(o.joined_at, '%Y-%m'), count(*) FROM members o {join}
         WHERE o.joined_at >= CAST($first AS DATE) AND o.joined_at < CAST($as_of AS DATE) + 1 GROUP BY 1"
    ))
    .rows(conn, |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for (label, n) in rows {
        if let Some(i) = index(&label) {
            sizes[i] = n;
        }
    }

    // Purchasing members per cohort and month since joining.
    let mut active = vec![vec![0i64; months.len()]; months.len()];
    let rows = range(format!(
        "SELECT strftime(o.joined_day, '%Y-%m'),
                date_diff('month', date_trunc('month', o.joined_day), date_trunc('month', o.day)) AS k,
                count(DISTINCT o.member_id)
         FROM member_days o {join}
         WHERE o.purchases > 0 AND o.day <= CAST($as_of AS DATE)
           AND o.joined_day >= CAST($first AS DATE) AND o.joined_day <= CAST($as_of AS DATE)
         GROUP BY 1, 2"
    ))
    .rows(conn, |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))?;
    for (label, k, n) in rows {
        if let (Some(i), Ok(k)) = (index(&label), usize::try_from(k))
            && k < months.len()
        {
            active[i][k] = n;
        }
    }

    // Net revenue per cohort before each age.
    let ages: String = LTV_AGES
        .iter()
        .map(|a| {
            format!(", CAST(coalesce(sum(o.cents) FILTER (WHERE o.day < o.joined_day + to_months({a})), 0) AS BIGINT)")
        })
        .collect();
    let mut revenue = vec![[0i64; LTV_AGES.len()]; months.len()];
    let rows = range(format!(
        "SELECT strftime(o.joined_day, '%Y-%m') {ages}
         FROM member_days o {join}
         WHERE o.joined_day >= CAST($first AS DATE) AND o.joined_day <= CAST($as_of AS DATE)
         GROUP BY 1"
    ))
    .rows(conn, |r| {
        let mut cents = [0i64; LTV_AGES.len()];
        for (a, c) in cents.iter_mut().enumerate() {
            *c = r.get(a + 1)?;
        }
        Ok((r.get::<_, String>(0)?, cents))
    })?;
    for (label, cents) in rows {
        if let Some(i) = index(&label) {
            revenue[i] = cents;
        }
    }

    let why_empty = "no member joined in this cohort";
    let mut all_retention = vec![(0i64, 0i64, false); months.len()];
    let mut all_ltv = [(0i64, 0i64, false); LTV_AGES.len()];
    let mut rows = Vec::new();
    for (i, &month) in months.iter().enumerate() {
        let retention = (0..months.len())
            .map(|k| {
                let reached = month + Months::new(k as u32) <= last;
                reached.then(|| {
                    let cell = &mut all_retention[k];
                    *cell = (cell.0 + active[i][k], cell.1 + sizes[i], true);
                    ratio(active[i][k], sizes[i], why_empty)
                })
            })
            .collect();
        let ltv = LTV_AGES
            .iter()
            .enumerate()
            .map(|(a, &age)| {
                let month_end = month + Months::new(1) - Days::new(1);
                let reached = month_end + Months::new(age) <= as_of;
                reached.then(|| {
                    let cell = &mut all_ltv[a];
                    *cell = (cell.0 + revenue[i][a], cell.1 + sizes[i], true);
                    money_per(revenue[i][a], sizes[i], why_empty)
                })
            })
            .collect();
        rows.push(CohortRow { cohort: month.format("%Y-%m").to_string(), members: Some(sizes[i]), retention, ltv });
    }
    let why_none = "no member joined in the listed cohorts";
    let total = |cells: &[(i64, i64, bool)], f: fn(i64, i64, &str) -> Measure| {
        cells.iter().map(|&(n, d, any)| any.then(|| f(n, d, why_none))).collect()
    };
    Ok(Cohorts {
        as_of: as_of.to_string(),
        filters: scope.filters.clone(),
        ranges: scope.ranges.clone(),
        ltv_ages: LTV_AGES.to_vec(),
        all: CohortRow {
            cohort: "all".to_string(),
            members: Some(sizes.iter().sum()),
            retention: total(&all_retention, ratio),
            ltv: total(&all_ltv, money_per),
        },
        cohorts: rows,
    })
}
