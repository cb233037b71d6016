//! The four headline KPIs on a hand-built retailer, against values worked out by hand.
//!
//! Window: 30 days ending T = 2024-03-31, i.e. 2024-03-02 ..= 2024-03-31; the previous
//! window is 2024-02-01 ..= 2024-03-01. Churn after C = 60 days.

use app::model::{KpiKey, Measure, OverviewQuery};
use chrono::NaiveDate;
use server::{
    analytics::Analytics,
    metrics::{self, Compare, MetricConfig, Request, Window},
};

const CFG: MetricConfig = MetricConfig { churn_days: 60 };

fn fixture() -> (tempfile::TempDir, Analytics) {
    let dir = tempfile::tempdir().unwrap();
    let analytics = Analytics::open(&dir.path().join("kpi.duckdb")).unwrap();
    analytics
        .writer()
        .execute_batch(
            r#"
        INSERT INTO members (member_id, joined_at) VALUES
            ('A', '2023-01-10 00:00:00'),
            ('B', '2023-06-01 00:00:00'),
            ('C', '2024-03-15 00:00:00'),  -- joined inside the window, never ordered
            ('D', '2023-02-01 00:00:00'),
            ('E', '2024-04-05 00:00:00'),  -- joins after T
            ('F', '2023-01-01 00:00:00'),
            ('G', '2023-05-01 00:00:00'),
            ('H', '2023-03-01 00:00:00');
        INSERT INTO orders (order_id, ordered_at, net_amount, member_id) VALUES
            ('a1', '2024-01-15 10:00:00', 200.00, 'A'),
            ('a2', '2024-02-10 12:00:00',  25.00, 'A'),
            ('a3', '2024-03-05 09:00:00', 100.00, 'A'),
            ('a4', '2024-03-05 18:00:00',  50.00, 'A'),  -- two orders on one day
            ('a5', '2024-03-20 11:00:00',  30.00, 'A'),
            ('a6', '2024-03-25 15:00:00', -20.00, 'A'),  -- a return
            ('b1', '2024-03-01 23:59:59',  40.00, 'B'),  -- last second before the window
            ('b2', '2024-03-02 00:00:00',  80.00, 'B'),  -- first second of the window
            ('d1', '2023-12-20 10:00:00',  60.00, 'D'),
            ('e1', '2024-04-06 10:00:00', 500.00, 'E'),
            ('f1', '2023-06-01 10:00:00',  10.00, 'F'),
            ('g1', '2024-01-20 10:00:00',  45.00, 'G'),
            ('h1', '2024-03-31 23:59:59',  70.00, 'H'),  -- last second of the window
            ('h2', '2024-04-01 00:00:00',  35.00, 'H'),  -- first second after it
            ('x1', '2024-03-12 10:00:00', 1000.00, NULL); -- a guest sale
        INSERT INTO points (entry_id, member_id, occurred_at, kind, points) VALUES
            ('p1', 'A', '2024-03-05 09:00:00', 'earn',   100),
            ('p2', 'A', '2024-03-20 11:00:00', 'redeem',  30),
            ('p3', 'B', '2024-03-02 00:00:00', 'earn',    50),
            ('p4', 'B', '2024-03-01 23:59:59', 'redeem',  40),
            ('p5', 'A', '2024-03-10 00:00:00', 'expire',  10),
            ('p6', 'A', '2024-02-15 00:00:00', 'earn',    80),
            ('p7', 'H', '2024-03-31 23:59:59', 'redeem',  25),
            ('p8', 'H', '2024-04-01 00:00:00', 'earn',  1000);
        "#,
        )
        .unwrap();
    (dir, analytics)
}

fn window() -> Window {
    Window {
        end: NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(),
        days: 30,
    }
}

fn measure(a: &Analytics, key: KpiKey, w: &Window) -> Measure {
    metrics::kpi(&a.reader().unwrap(), key, w, CFG).unwrap()
}

fn assert_measure(m: &Measure, numerator: i64, denominator: i64, value: f64) {
    assert_eq!(
        (m.numerator, m.denominator),
        (numerator, denominator),
        "{m:?}"
    );
    assert_eq!(m.value, Some(value), "{m:?}");
}

#[test]
fn window_bounds_are_inclusive_calendar_days() {
    let w = window();
    assert_eq!(w.start().to_string(), "2024-03-02");
    assert_eq!(w.previous().range().start, "2024-02-01");
    assert_eq!(w.previous().range().end, "2024-03-01");
    // 29 February has no twin a year earlier.
    let leap = Window {
        end: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
        days: 7,
    };
    assert_eq!(leap.year_earlier().end.to_string(), "2023-02-28");
}

#[test]
fn historical_ltv_counts_returns_and_members_without_orders() {
    let (_dir, a) = fixture();
    // Joined by T: A B C D F G H (7). Revenue to T: A 385 (incl. the -20 return),
    // B 120, C 0, D 60, F 10, G 45, H 70 (h2 is after T) = 690.00; the guest sale is not
    // a member's. 690 / 7 = 98.571… → 98.57.
    assert_measure(
        &measure(&a, KpiKey::HistoricalLtv, &window()),
        69_000,
        7,
        98.57,
    );
    // As of 2024-03-01: A B D F G H (6; C joined later); A 225, B 40 (b1 at 23:59:59),
    // D 60, F 10, G 45 = 380.00; 380 / 6 = 63.33.
    assert_measure(
        &measure(&a, KpiKey::HistoricalLtv, &window().previous()),
        38_000,
        6,
        63.33,
    );
}

#[test]
fn repurchase_rate_counts_distinct_days_and_skips_returns() {
    let (_dir, a) = fixture();
    // In W: A bought on 03-05 (twice) and 03-20: two days; B on 03-02 only; H on 03-31
    // only. The return and the guest sale do not count. 1 of 3.
    assert_measure(
        &measure(&a, KpiKey::RepurchaseRate, &window()),
        1,
        3,
        1.0 / 3.0,
    );
    // Previous window: A on 02-10, B on 03-01 (23:59:59): 0 of 2.
    assert_measure(
        &measure(&a, KpiKey::RepurchaseRate, &window().previous()),
        0,
        2,
        0.0,
    );
}

#[test]
fn points_usage_rate_is_redeemed_over_earned_in_the_window() {
    let (_dir, a) = fixture();
    // In W: earned p1 100 + p3 50 = 150; redeemed p2 30 + p7 25 = 55; the expiry and
    // the entries just outside W do not count.
    assert_measure(
        &measure(&a, KpiKey::PointsUsageRate, &window()),
        55,
        150,
        55.0 / 150.0,
    );
    // Previous: earned p6 80, redeemed p4 40.
    assert_measure(
        &measure(&a, KpiKey::PointsUsageRate, &window().previous()),
        40,
        80,
        0.5,
    );
}

#[test]
fn churn_rate_follows_members_active_at_the_window_start() {
    let (_dir, a) = fixture();
    // Active at the end of 03-01 (a purchase in 2024-01-01 ..= 03-01): A, B, G.
    // Churned at T (no purchase in 2024-01-31 ..= 03-31): G only. 1 of 3.
    assert_measure(&measure(&a, KpiKey::ChurnRate, &window()), 1, 3, 1.0 / 3.0);
    // Previous: active at the end of 01-31 (2023-12-01 ..= 2024-01-31): A, D, G;
    // churned at 03-01 (nothing in 01-01 ..= 03-01): D. 1 of 3.
    assert_measure(
        &measure(&a, KpiKey::ChurnRate, &window().previous()),
        1,
        3,
        1.0 / 3.0,
    );
    // With the default C = 180 nobody active at the start has churned by T.
    let m = metrics::kpi(
        &a.reader().unwrap(),
        KpiKey::ChurnRate,
        &window(),
        MetricConfig::default(),
    )
    .unwrap();
    assert_eq!((m.numerator, m.value), (0, Some(0.0)), "{m:?}");
}

#[test]
fn overview_pairs_each_kpi_with_its_comparison_window() {
    let (_dir, a) = fixture();
    let conn = a.reader().unwrap();
    let req = metrics::resolve(&conn, &OverviewQuery::default()).unwrap();
    // T defaults to the latest order date (h2, e1 are in April).
    assert_eq!(req.window.end.to_string(), "2024-04-06");
    let o = metrics::overview(
        &conn,
        Request {
            window: window(),
            compare: Compare::Previous,
        },
        CFG,
    )
    .unwrap();
    assert_eq!(o.kpis.len(), 4);
    assert_eq!(
        (o.window.start.as_str(), o.comparison_window.end.as_str()),
        ("2024-03-02", "2024-03-01")
    );
    let ltv = o
        .kpis
        .iter()
        .find(|k| k.key == KpiKey::HistoricalLtv)
        .unwrap();
    assert_eq!(
        (ltv.current.value, ltv.comparison.value),
        (Some(98.57), Some(63.33))
    );
}

#[test]
fn empty_windows_have_no_value_and_a_reason() {
    let (_dir, a) = fixture();
    let empty = Window {
        end: NaiveDate::from_ymd_opt(2020, 1, 31).unwrap(),
        days: 7,
    };
    for key in KpiKey::ALL {
        let m = measure(&a, key, &empty);
        assert_eq!(m.value, None, "{key:?}");
        assert!(
            m.reason.as_deref().is_some_and(|r| !r.is_empty()),
            "{key:?}"
        );
    }
}

#[test]
fn bad_parameters_are_named() {
    let (_dir, a) = fixture();
    let conn = a.reader().unwrap();
    let q = |as_of: Option<&str>, window: Option<&str>, compare: Option<&str>| OverviewQuery {
        as_of: as_of.map(Into::into),
        window: window.map(Into::into),
        compare: compare.map(Into::into),
    };
    for (query, param) in [
        (q(None, Some("30"), None), "window"),
        (q(None, Some("0d"), None), "window"),
        (q(None, Some("9999d"), None), "window"),
        (q(Some("2024-13-01"), None, None), "as_of"),
        (q(None, None, Some("lastweek")), "compare"),
    ] {
        match metrics::resolve(&conn, &query) {
            Err(server::Error::BadParam { param: p, .. }) => assert_eq!(p, param),
            other => panic!("{query:?}: expected a bad {param}, got {other:?}"),
        }
    }
    let ok = metrics::resolve(&conn, &q(Some("2024-03-31"), Some("365d"), Some("year"))).unwrap();
    assert_eq!((ok.window.days, ok.compare), (365, Compare::YearEarlier));
}
