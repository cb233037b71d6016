//! The catalogue's day-grained fast path gives the same numbers as the straightforward
//! SQL over the raw tables (what `memberpulse bench` checks on a million members), for
//! windows of every length, ends and comparisons, overall and by region.

use crate::common;

use app::model::Metric;
use chrono::NaiveDate;
use server::{
    metrics::reference,
    metrics::rfm,
    metrics::{Compare, MetricConfig, Request, Window},
    store::operational,
};

#[tokio::test(flavor = "multi_thread")]
async fn engine_equals_raw_sql_for_many_windows() {
    let (dir, a) = common::generated(2_000, 11);
    let ops = operational::connect(&format!("sqlite://{}", dir.path().join("ops.sqlite").display())).await.unwrap();
    let rules = rfm::rules(&ops).await.unwrap();
    let conn = a.reader().unwrap();
    let mut checked = 0;
    for (end, days, compare, churn_days) in [
        ((2026, 6, 30), 30, Compare::Previous, 180),
        ((2026, 6, 30), 7, Compare::YearEarlier, 180),
        ((2026, 1, 15), 90, Compare::Previous, 60),
        ((2025, 12, 31), 365, Compare::YearEarlier, 180),
        ((2024, 2, 29), 1, Compare::Previous, 30),
        // Longer than the churn horizon: the base and recent ranges do not overlap.
        ((2026, 3, 31), 400, Compare::Previous, 90),
    ] {
        let req =
            Request { window: Window { end: NaiveDate::from_ymd_opt(end.0, end.1, end.2).unwrap(), days }, compare };
        let cfg = MetricConfig { churn_days, ..MetricConfig::default() };
        let cases = reference::run(&conn, req, cfg, rules.clone(), 0, |_| {}).unwrap();
        assert_eq!(cases.len(), 16);
        for c in &cases {
            assert!(c.identical, "{end:?} {days}d {}: {:?} vs {:?}", c.name, c.engine, c.raw);
            assert!(!c.engine.is_empty(), "{}: nothing computed", c.name);
        }
        checked += cases[0].engine.len();
    }
    // Nearly every headline metric × window × request had something to count.
    assert!(checked >= 6 * Metric::HEADLINE.len() * 2 - 4, "{checked}");
    // With the member facts made for the latest day, the engine reads its groups there.
    let cfg = MetricConfig::default();
    let t = server::metrics::facts::refresh(&conn, cfg).unwrap().expect("facts made");
    assert_eq!(server::metrics::facts::current(&conn, cfg).unwrap(), Some(t));
    for compare in [Compare::Previous, Compare::YearEarlier] {
        let req = Request { window: Window { end: t, days: 30 }, compare };
        for c in reference::run(&conn, req, cfg, rules.clone(), 0, |_| {}).unwrap() {
            assert!(c.identical, "facts, {compare:?} {}: {:?} vs {:?}", c.name, c.engine, c.raw);
        }
    }
}

/// Points expiring soon: the per-lot formula equals the FIFO over lots by year, for days
/// whose 30/90-day horizon crosses a year-end and days whose horizon does not.
#[test]
fn points_expiring_equals_fifo_over_lots() {
    let (_dir, a) = common::generated(1_500, 8);
    let conn = a.reader().unwrap();
    let mut nonzero = 0;
    for (y, m, d) in [(2024, 10, 15), (2024, 12, 1), (2024, 12, 31), (2025, 11, 20), (2026, 6, 30), (2025, 3, 1)] {
        for expiry_years in [1, 2] {
            let cfg =
                MetricConfig { points_expiry_years: expiry_years, point_value_cents: 3, ..MetricConfig::default() };
            let t = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            for (metric, days) in [(Metric::PointsExpiring30, 30), (Metric::PointsExpiring90, 90)] {
                let engine =
                    server::metrics::measure(&conn, metric, &Window { end: t, days: 30 }, cfg).unwrap().numerator;
                let raw = reference::raw_points_expiring(&conn, t, days, cfg).unwrap();
                assert_eq!(engine, raw, "{t} {days}d, expiry after {expiry_years} years");
                nonzero += usize::from(raw > 0);
            }
        }
    }
    // Some of the crossing horizons have points left to expire (the check is not vacuous).
    assert!(nonzero >= 3, "{nonzero}");
}

/// Points liability and the never-used share, read from the summary less what came after
/// T, equal the straightforward SQL over the raw points at several T (past and latest).
#[test]
fn points_balances_equal_raw_sql() {
    let (_dir, a) = common::generated(1_500, 9);
    let conn = a.reader().unwrap();
    let cfg = MetricConfig { point_value_cents: 2, ..MetricConfig::default() };
    for (y, m, d) in [(2023, 9, 1), (2024, 12, 31), (2025, 7, 15), (2026, 6, 30)] {
        let t = NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let after = format!("{} 00:00:00", t + chrono::Days::new(1));
        let w = Window { end: t, days: 30 };
        let liability = server::metrics::measure(&conn, Metric::PointsLiability, &w, cfg).unwrap();
        let raw: i64 = conn
            .query_row(
                "SELECT CAST(coalesce(sum(greatest(b, 0)), 0) * 2 AS BIGINT) FROM (
                     SELECT member_id, sum(CASE kind WHEN 'earn' THEN points WHEN 'adjust' THEN points ELSE -points END) AS b
                     FROM points WHERE occurred_at < CAST(? AS TIMESTAMP) GROUP BY member_id)",
                [&after],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(liability.numerator, raw, "liability at {t}");
        assert!(raw > 0);
        let never = server::metrics::measure(&conn, Metric::PointsNeverUsedShare, &w, cfg).unwrap();
        let raw: (i64, i64) = conn
            .query_row(
                "SELECT count(*) FILTER (WHERE NOT r), count(*) FROM (
                     SELECT member_id, bool_or(kind = 'redeem') AS r FROM points
                     WHERE occurred_at < CAST(? AS TIMESTAMP)
                     GROUP BY member_id HAVING bool_or(kind = 'earn'))",
                [&after],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((never.numerator, never.denominator), raw, "never used at {t}");
    }
}

/// Erasures change no number `memberpulse bench` reports: after erasing the twenty
/// members who spent most (their orders in every window), every headline numerator and
/// denominator, overall and in every breakdown, is what it was, still equal to the raw SQL,
/// from the day tables and from the member facts made again; the RFM lists keep their
/// lengths (their ids are now pseudonyms).
#[tokio::test(flavor = "multi_thread")]
async fn erasures_change_no_number_bench_reports() {
    let (dir, a) = common::generated(2_000, 11);
    let ops = operational::connect(&format!("sqlite://{}", dir.path().join("ops.sqlite").display())).await.unwrap();
    let rules = rfm::rules(&ops).await.unwrap();
    let cfg = MetricConfig::default();
    let end = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
    let req = Request { window: Window { end, days: 30 }, compare: Compare::Previous };
    let numbers = |facts: bool| {
        let conn = a.reader().unwrap();
        if facts {
            server::metrics::facts::refresh(&conn, cfg).unwrap().expect("facts made");
        }
        let cases = reference::run(&conn, req, cfg, rules.clone(), 0, |_| {}).unwrap();
        cases
            .into_iter()
            .map(|c| {
                assert!(c.identical, "{}: {:?} vs {:?}", c.name, c.engine, c.raw);
                let kept = if c.name.starts_with("RFM segment list") || c.name.starts_with("member look-up") {
                    format!("{} rows", c.engine.len())
                } else {
                    format!("{:?}", c.engine)
                };
                (c.name, kept)
            })
            .collect::<Vec<_>>()
    };
    let (before, before_facts) = (numbers(false), numbers(true));
    let top: Vec<String> = {
        let conn = a.reader().unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT member_id FROM orders WHERE member_id IS NOT NULL GROUP BY 1
                 ORDER BY sum(net_amount) DESC, 1 LIMIT 20",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    for id in &top {
        server::privacy::erase::erase(&mut a.writer(), id, "test", "DSR-bench").unwrap();
    }
    a.rewrite().unwrap();
    assert_eq!(numbers(false), before);
    assert_eq!(numbers(true), before_facts);
}

/// After 200 merges (issue 22) `memberpulse bench` still finds the engine and the
/// straightforward SQL over the raw tables identical in every case, the kept summary is a
/// rebuild's, and the members are 200 fewer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_merges_bench_reports_identical_numbers() {
    use server::identity::merge::{Pair, merge};
    let (dir, a) = common::generated(2_000, 12);
    let ops = operational::connect(&format!("sqlite://{}", dir.path().join("ops.sqlite").display())).await.unwrap();
    let rules = rfm::rules(&ops).await.unwrap();
    let cfg = MetricConfig::default();
    let end = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
    let req = Request { window: Window { end, days: 30 }, compare: Compare::Previous };
    let members = |a: &server::store::Analytics| -> i64 {
        a.reader().unwrap().query_row("SELECT count(*) FROM members", [], |r| r.get(0)).unwrap()
    };
    let before = members(&a);
    let ids: Vec<String> = {
        let conn = a.reader().unwrap();
        let mut stmt = conn.prepare("SELECT member_id FROM members ORDER BY hash(member_id), 1 LIMIT 400").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    let pairs: Vec<Pair> = ids.chunks_exact(2).map(|p| Pair { survivor: p[0].clone(), merged: p[1].clone() }).collect();
    let moved = merge(&mut a.writer(), &pairs, "test", None).unwrap();
    assert_eq!(moved.merge_ids.len(), 200);
    assert!(moved.orders > 0, "{moved:?}");
    assert_eq!(members(&a), before - 200);
    for facts in [false, true] {
        let conn = a.reader().unwrap();
        if facts {
            server::metrics::facts::refresh(&conn, cfg).unwrap().expect("facts made");
        }
        for c in reference::run(&conn, req, cfg, rules.clone(), 0, |_| {}).unwrap() {
            assert!(c.identical, "{} (facts {facts}): {:?} vs {:?}", c.name, c.engine, c.raw);
        }
    }
    assert_eq!(common::differences(&a), 0);
}
