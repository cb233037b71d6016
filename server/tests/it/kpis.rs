//! Every metric of the catalogue on a hand-built retailer, against values worked out by hand.
//!
//! Window: 30 days ending T = 2024-03-31, i.e. 2024-03-02 ..= 2024-03-31; the previous
//! window is 2024-02-01 ..= 2024-03-01. Churn after C = 60 days.

use crate::common;

use app::model::{Measure, Metric, OverviewQuery, Unit};
use chrono::NaiveDate;
use server::{
    metrics::{self, Compare, MetricConfig, Request, Window},
    store::analytics::Analytics,
};

use crate::common::CFG;

fn fixture() -> (tempfile::TempDir, Analytics) {
    common::retailer()
}

fn window() -> Window {
    Window { end: NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(), days: 30 }
}

fn measure(a: &Analytics, key: Metric, w: &Window) -> Measure {
    metrics::measure(&a.reader().unwrap(), key, w, CFG).unwrap()
}

fn assert_measure(m: &Measure, numerator: i64, denominator: i64, value: f64) {
    assert_eq!((m.numerator, m.denominator), (numerator, denominator), "{m:?}");
    assert_eq!(m.value, Some(value), "{m:?}");
}

#[test]
fn window_bounds_are_inclusive_calendar_days() {
    let w = window();
    assert_eq!(w.start().to_string(), "2024-03-02");
    assert_eq!(w.previous().range().start, "2024-02-01");
    assert_eq!(w.previous().range().end, "2024-03-01");
    // 29 February has no twin a year earlier.
    let leap = Window { end: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(), days: 7 };
    assert_eq!(leap.year_earlier().end.to_string(), "2023-02-28");
}

#[test]
fn historical_ltv_counts_returns_and_members_without_orders() {
    let (_dir, a) = fixture();
    // Joined by T: A B C D F G H (7). Revenue to T: A 385 (incl. the -20 return),
    // B 120, C 0, D 60, F 10, G 45, H 70 (h2 is after T) = 690.00; the guest sale is not
    // a member's. 690 / 7 = 98.571… → 98.57.
    assert_measure(&measure(&a, Metric::HistoricalLtv, &window()), 69_000, 7, 98.57);
    // As of 2024-03-01: A B D F G H (6; C joined later); A 225, B 40 (b1 at 23:59:59),
    // D 60, F 10, G 45 = 380.00; 380 / 6 = 63.33.
    assert_measure(&measure(&a, Metric::HistoricalLtv, &window().previous()), 38_000, 6, 63.33);
}

#[test]
fn repurchase_rate_counts_distinct_days_and_skips_returns() {
    let (_dir, a) = fixture();
    // In W: A bought on 03-05 (twice) and 03-20: two days; B on 03-02 only; H on 03-31
    // only. The return and the guest sale do not count. 1 of 3.
    assert_measure(&measure(&a, Metric::RepurchaseRate, &window()), 1, 3, 1.0 / 3.0);
    // Previous window: A on 02-10, B on 03-01 (23:59:59): 0 of 2.
    assert_measure(&measure(&a, Metric::RepurchaseRate, &window().previous()), 0, 2, 0.0);
}

#[test]
fn points_usage_rate_is_redeemed_over_earned_in_the_window() {
    let (_dir, a) = fixture();
    // In W: earned p1 100 + p3 50 = 150; redeemed p2 30 + p7 25 = 55; the expiry and
    // the entries just outside W do not count.
    assert_measure(&measure(&a, Metric::PointsUsageRate, &window()), 55, 150, 55.0 / 150.0);
    // Previous: earned p6 80, redeemed p4 40.
    assert_measure(&measure(&a, Metric::PointsUsageRate, &window().previous()), 40, 80, 0.5);
}

#[test]
fn churn_rate_follows_members_active_at_the_window_start() {
    let (_dir, a) = fixture();
    // Active at the end of 03-01 (a purchase in 2024-01-01 ..= 03-01): A, B, G.
    // Churned at T (no purchase in 2024-01-31 ..= 03-31): G only. 1 of 3.
    assert_measure(&measure(&a, Metric::ChurnRate, &window()), 1, 3, 1.0 / 3.0);
    // Previous: active at the end of 01-31 (2023-12-01 ..= 2024-01-31): A, D, G;
    // churned at 03-01 (nothing in 01-01 ..= 03-01): D. 1 of 3.
    assert_measure(&measure(&a, Metric::ChurnRate, &window().previous()), 1, 3, 1.0 / 3.0);
    // With the default C = 180 nobody active at the start has churned by T.
    let m = metrics::measure(&a.reader().unwrap(), Metric::ChurnRate, &window(), MetricConfig::default()).unwrap();
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
        Request { window: window(), compare: Compare::Previous },
        CFG,
        &server::metrics::scope::Scope::all(),
        None,
    )
    .unwrap();
    assert_eq!(o.kpis.len(), Metric::ALL.len());
    assert_eq!(o.kpis[..4].iter().map(|k| k.key).collect::<Vec<_>>(), Metric::HEADLINE);
    assert_eq!((o.window.start.as_str(), o.comparison_window.end.as_str()), ("2024-03-02", "2024-03-01"));
    let ltv = o.kpis.iter().find(|k| k.key == Metric::HistoricalLtv).unwrap();
    assert_eq!((ltv.current.value, ltv.comparison.value), (Some(98.57), Some(63.33)));
}

#[test]
fn empty_windows_have_no_value_and_a_reason() {
    let (_dir, a) = fixture();
    let empty = Window { end: NaiveDate::from_ymd_opt(2020, 1, 31).unwrap(), days: 7 };
    for key in Metric::ALL {
        let m = measure(&a, key, &empty);
        if matches!(key.unit(), Unit::Count | Unit::Amount) && !Metric::PREDICTED.contains(&key) {
            // A count of nobody, or a total of nothing, is zero, not unknown (the
            // predicted ones are unknown without a fit as of the window's end).
            assert_eq!((m.value, m.reason.as_deref()), (Some(0.0), None), "{key:?}");
            continue;
        }
        assert_eq!(m.value, None, "{key:?}");
        assert!(m.reason.as_deref().is_some_and(|r| !r.is_empty()), "{key:?}");
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
        ..Default::default()
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

fn assert_count(m: &Measure, n: i64) {
    assert_eq!((m.numerator, m.denominator, m.value), (n, 1, Some(n as f64)), "{m:?}");
}

#[test]
fn member_counts() {
    let (_dir, a) = fixture();
    // Joined by T: all but E; by 03-01 C had not joined either.
    assert_count(&measure(&a, Metric::Members, &window()), 7);
    assert_count(&measure(&a, Metric::Members, &window().previous()), 6);
    // Joined in W: C (03-15); in the previous window: nobody.
    assert_count(&measure(&a, Metric::NewMembers, &window()), 1);
    assert_count(&measure(&a, Metric::NewMembers, &window().previous()), 0);
    // Purchased in W: A, B, H (the return and the guest sale do not make anyone active).
    assert_count(&measure(&a, Metric::ActiveMembers, &window()), 3);
    assert_count(&measure(&a, Metric::ActiveMembers, &window().previous()), 2);
}

#[test]
fn second_purchase_rate_follows_the_cohort_before_the_window() {
    let (_dir, a) = fixture();
    // First purchase in 2023-12-03 ..= 2024-03-01: A (01-15), B (03-01), D (12-20),
    // G (01-20). Again on a later day within 90 days, by T: A (02-10), B (03-02). 2 of 4.
    assert_measure(&measure(&a, Metric::SecondPurchaseRate, &window()), 2, 4, 0.5);
    // Cohort 2023-11-03 ..= 2024-01-31: A, D, G; again by 03-01: A. 1 of 3.
    assert_measure(&measure(&a, Metric::SecondPurchaseRate, &window().previous()), 1, 3, 1.0 / 3.0);
}

#[test]
fn reactivation_rate_counts_lapsed_members_who_came_back() {
    let (_dir, a) = fixture();
    // I bought once long ago and comes back inside W.
    common::add(
        &a,
        "INSERT INTO members (member_id, joined_at) VALUES ('I', '2023-01-01 00:00:00');
         INSERT INTO orders (order_id, ordered_at, net_amount, member_id) VALUES
             ('i1', '2023-07-01 10:00:00', 15.00, 'I'),
             ('i2', '2024-03-15 10:00:00', 25.00, 'I');",
    );
    // Lapsed at the end of 03-01 (no purchase in 2023-12-02 ..= 2024-03-01, but one
    // before): F (2023-06-01) and I (2023-07-01). I bought in W. 1 of 2.
    assert_measure(&measure(&a, Metric::ReactivationRate, &window()), 1, 2, 0.5);
    // Lapsed at the end of 01-31 (nothing in 2023-11-02 ..= 2024-01-31): F, I; neither
    // bought in the previous window.
    assert_measure(&measure(&a, Metric::ReactivationRate, &window().previous()), 0, 2, 0.0);
}

#[test]
fn sales_share_aov_and_frequency() {
    let (_dir, a) = fixture();
    // Members' net revenue in W: a3 100 + a4 50 + a5 30 - a6 20 + b2 80 + h1 70 = 310.00;
    // with the 1000.00 guest sale, all revenue is 1310.00.
    assert_measure(&measure(&a, Metric::MemberSalesShare, &window()), 31_000, 131_000, 31_000.0 / 131_000.0);
    assert_measure(&measure(&a, Metric::MemberSalesShare, &window().previous()), 6_500, 6_500, 1.0);
    // Five member purchases in W (the return is not one): 310.00 / 5 = 62.00.
    assert_measure(&measure(&a, Metric::Aov, &window()), 31_000, 5, 62.0);
    // Previous: a2 25 + b1 40 over 2 purchases = 32.50.
    assert_measure(&measure(&a, Metric::Aov, &window().previous()), 6_500, 2, 32.5);
    // Five purchases by three active members.
    assert_measure(&measure(&a, Metric::PurchaseFrequency, &window()), 5, 3, 5.0 / 3.0);
    assert_measure(&measure(&a, Metric::PurchaseFrequency, &window().previous()), 2, 2, 1.0);
}

#[test]
fn points_never_used_share_is_as_of_the_window_end() {
    let (_dir, a) = fixture();
    // Earned by T: A, B (H's only earn is after T); both have redeemed by T. 0 of 2.
    assert_measure(&measure(&a, Metric::PointsNeverUsedShare, &window()), 0, 2, 0.0);
    // By 03-01 only A had earned (p6), and had not yet redeemed. 1 of 1.
    assert_measure(&measure(&a, Metric::PointsNeverUsedShare, &window().previous()), 1, 1, 1.0);
}

#[test]
fn channel_mix_of_buyers_in_the_window() {
    let (_dir, a) = fixture();
    // In W: A bought in store (a3, a5) and in the app (a4): omnichannel; B on the web and
    // H in the app: online only; nobody store only. The return and the guest sale do not
    // count.
    assert_count(&measure(&a, Metric::StoreOnlyMembers, &window()), 0);
    assert_count(&measure(&a, Metric::OnlineOnlyMembers, &window()), 2);
    assert_count(&measure(&a, Metric::OmnichannelMembers, &window()), 1);
    // Previous window: A in the app (a2), B on the web (b1).
    assert_count(&measure(&a, Metric::OnlineOnlyMembers, &window().previous()), 2);
    assert_count(&measure(&a, Metric::OmnichannelMembers, &window().previous()), 0);
}

#[test]
fn points_liability_and_what_expires_soon() {
    let (_dir, a) = fixture();
    // Outstanding at the end of T: A 80 + 100 - 30 - 10 = 140, B 50 - 40 = 10, H -25
    // (counts as none): 150 points at 1 cent = 1.50.
    assert_measure(&measure(&a, Metric::PointsLiability, &window()), 150, 1, 1.5);
    // At the end of 03-01: A 80; B -40 counts as none.
    assert_measure(&measure(&a, Metric::PointsLiability, &window().previous()), 80, 1, 0.8);
    // J earned 70 in 2022 and 40 in 2023 and redeemed 20 in 2023: the redemption uses the
    // 2022 points first, leaving 50 of them (expiring 2023-12-31) and 40 of 2023's
    // (expiring 2024-12-31).
    common::add(
        &a,
        "INSERT INTO points (entry_id, member_id, occurred_at, kind, points) VALUES
             ('j1', 'J', '2022-06-01 10:00:00', 'earn', 70),
             ('j2', 'J', '2023-03-01 10:00:00', 'earn', 40),
             ('j3', 'J', '2023-05-01 10:00:00', 'redeem', 20);",
    );
    let at = |y, m, d| Window { end: NaiveDate::from_ymd_opt(y, m, d).unwrap(), days: 30 };
    assert_measure(&measure(&a, Metric::PointsExpiring30, &at(2023, 12, 15)), 50, 1, 0.5);
    assert_measure(&measure(&a, Metric::PointsLiability, &at(2023, 12, 15)), 90, 1, 0.9);
    // From 2024-10-15, 2024-12-31 is 77 days away: 90 days see J's 40, 30 days nothing
    // (A's and B's points of 2024 expire at the end of 2025).
    assert_measure(&measure(&a, Metric::PointsExpiring90, &at(2024, 10, 15)), 40, 1, 0.4);
    assert_measure(&measure(&a, Metric::PointsExpiring30, &at(2024, 10, 15)), 0, 1, 0.0);
    // Points that never expire never expire soon.
    let never = MetricConfig { points_expiry_years: 0, ..CFG };
    let m = metrics::measure(&a.reader().unwrap(), Metric::PointsExpiring90, &at(2024, 10, 15), never).unwrap();
    assert_eq!(m.value, Some(0.0));
}

/// The trend: each point is the metric for its window, windows end T, T − 30, T − 60; with
/// a filter, the last point equals the filtered overview.
#[test]
fn trend_points_are_the_windows_measures() {
    let (_d, a) = fixture();
    let conn = a.reader().unwrap();
    let metrics = [Metric::HistoricalLtv, Metric::RepurchaseRate, Metric::ActiveMembers];
    let all = server::metrics::scope::Scope::all();
    let t = metrics::trend(&conn, &metrics, window(), 3, CFG, &all).unwrap();
    assert_eq!(t.series.len(), 3);
    for s in &t.series {
        let ends: Vec<&str> = s.points.iter().map(|p| p.end.as_str()).collect();
        assert_eq!(ends, ["2024-01-31", "2024-03-01", "2024-03-31"]);
        for p in &s.points {
            let w = Window { end: NaiveDate::parse_from_str(&p.end, "%Y-%m-%d").unwrap(), days: 30 };
            assert_eq!(p.measure, measure(&a, s.metric, &w), "{:?} {}", s.metric, p.end);
        }
    }
    // Active members by hand: in the window to 03-31 A, B, H; to 03-01 A (02-10), B (03-01).
    let active = &t.series[2].points;
    assert_eq!((active[1].measure.numerator, active[2].measure.numerator), (2, 3));
    let east = server::metrics::scope::Scope::of(server::metrics::scope::parse("region:East").unwrap(), None);
    let t = metrics::trend(&conn, &metrics, window(), 2, CFG, &east).unwrap();
    let req = Request { window: window(), compare: Compare::Previous };
    let o = metrics::overview(&conn, req, CFG, &east, None).unwrap();
    for s in &t.series {
        let k = o.kpis.iter().find(|k| k.key == s.metric).unwrap();
        assert_eq!(s.points[1].measure, k.current, "{:?}", s.metric);
        assert_eq!(s.points[0].measure, k.comparison, "{:?}", s.metric);
    }
}
