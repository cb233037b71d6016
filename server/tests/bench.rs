//! The catalogue's day-grained fast path gives the same numbers as the straightforward
//! SQL over the raw tables (what `memberpulse bench` checks on a million members), for
//! windows of every length, ends and comparisons, overall and by region.

use app::model::Metric;
use chrono::NaiveDate;
use server::{
    analytics::Analytics,
    bench, generate,
    metrics::{Compare, MetricConfig, Request, Window},
    operational, rfm,
};

#[tokio::test(flavor = "multi_thread")]
async fn engine_equals_raw_sql_for_many_windows() {
    let dir = tempfile::tempdir().unwrap();
    let a = Analytics::open(&dir.path().join("g.duckdb")).unwrap();
    generate::generate(
        &a,
        &generate::Options {
            members: 2_000,
            seed: 11,
            ..Default::default()
        },
        false,
    )
    .unwrap();
    let ops = operational::connect(&format!(
        "sqlite://{}",
        dir.path().join("ops.sqlite").display()
    ))
    .await
    .unwrap();
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
        let req = Request {
            window: Window {
                end: NaiveDate::from_ymd_opt(end.0, end.1, end.2).unwrap(),
                days,
            },
            compare,
        };
        let cfg = MetricConfig {
            churn_days,
            ..MetricConfig::default()
        };
        let cases = bench::run(&conn, req, cfg, rules.clone(), 0, |_| {}).unwrap();
        assert_eq!(cases.len(), 3);
        for c in &cases {
            assert!(c.identical, "{end:?} {days}d {}: {:?} vs {:?}", c.name, c.engine, c.raw);
            assert!(!c.engine.is_empty(), "{}: nothing computed", c.name);
        }
        checked += cases[0].engine.len();
    }
    // Nearly every headline metric × window × request had something to count.
    assert!(checked >= 6 * Metric::HEADLINE.len() * 2 - 4, "{checked}");
}
