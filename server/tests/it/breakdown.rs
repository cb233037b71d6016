//! Breakdowns and filters: by hand on a small retailer, and additivity on a generated one.

use crate::common;

use app::model::{Dimension, Filter, Metric};
use chrono::NaiveDate;
use server::{
    metrics::scope::{self, Scope},
    metrics::{self, Compare, MetricConfig, Request, Window},
    store::analytics::Analytics,
};

use crate::common::CFG;

fn request() -> Request {
    Request {
        window: Window { end: NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(), days: 30 },
        compare: Compare::Previous,
    }
}

/// The retailer of `common`: A, B East; C, D, H West; F, G without a region.
fn fixture() -> (tempfile::TempDir, Analytics) {
    common::retailer()
}

/// (value, numerator, denominator) of the current window, per row.
fn current(b: &app::model::Breakdown) -> Vec<(String, i64, i64)> {
    b.rows.iter().map(|r| (r.value.clone(), r.current.numerator, r.current.denominator)).collect()
}

fn by(a: &Analytics, metric: Metric, dimension: Dimension, filters: Vec<Filter>) -> app::model::Breakdown {
    let scope = Scope::new(filters, Some(dimension));
    metrics::breakdown(&a.reader().unwrap(), metric, request(), &scope, CFG).unwrap()
}

fn s(v: &str) -> String {
    v.to_string()
}

#[test]
fn breakdown_by_region_by_hand() {
    let (_d, a) = fixture();
    // LTV: East A 385 + B 120 over 2; West C 0 + D 60 + H 70 over 3; none F 10 + G 45
    // over 2 (E joins after T).
    let ltv = by(&a, Metric::HistoricalLtv, Dimension::Region, vec![]);
    assert_eq!(current(&ltv), vec![(s("(none)"), 5_500, 2), (s("East"), 50_500, 2), (s("West"), 13_000, 3)]);
    assert_eq!(ltv.rows[1].current.value, Some(252.5));
    assert_eq!(ltv.rows[2].current.value, Some(43.33));
    assert_eq!((ltv.total.current.numerator, ltv.total.current.denominator), (69_000, 7));
    // Repurchase: East A (two days) and B (one); West H (one); nobody without a region
    // bought, so that row has no value.
    let rep = by(&a, Metric::RepurchaseRate, Dimension::Region, vec![]);
    assert_eq!(current(&rep), vec![(s("(none)"), 0, 0), (s("East"), 1, 2), (s("West"), 0, 1)]);
    assert_eq!(rep.rows[0].current.value, None);
    // Churn (C = 60): active at the start A, B (East), G (none); G churned.
    let churn = by(&a, Metric::ChurnRate, Dimension::Region, vec![]);
    assert_eq!(current(&churn), vec![(s("(none)"), 1, 1), (s("East"), 0, 2), (s("West"), 0, 0)]);
    // Sales share: every row over all revenue in W (1310.00, the guest sale included).
    let share = by(&a, Metric::MemberSalesShare, Dimension::Region, vec![]);
    assert_eq!(
        current(&share),
        vec![(s("(none)"), 0, 131_000), (s("East"), 24_000, 131_000), (s("West"), 7_000, 131_000)]
    );
    assert_eq!((share.total.current.numerator, share.total.current.denominator), (31_000, 131_000));
}

#[test]
fn filters_restrict_the_members() {
    let (_d, a) = fixture();
    let east = vec![Filter { dimension: Dimension::Region, values: vec![s("East")] }];
    // East members by gender: A (F) 385, B (M) 120.
    let ltv = by(&a, Metric::HistoricalLtv, Dimension::Gender, east.clone());
    assert_eq!(current(&ltv), vec![(s("F"), 38_500, 1), (s("M"), 12_000, 1)]);
    assert_eq!((ltv.total.current.numerator, ltv.total.current.denominator), (50_500, 2));
    // A filter naming a value nobody has selects nobody: the total has no value.
    let nobody = vec![Filter { dimension: Dimension::Region, values: vec![s("North")] }];
    let empty = by(&a, Metric::RepurchaseRate, Dimension::Gender, nobody);
    assert!(empty.rows.is_empty());
    assert_eq!(empty.total.current.value, None);
    // Two regions OR'ed, a gender AND'ed: East or West, and F: A, C, H.
    let filters = scope::parse_filters("region:East|West; gender:F").unwrap();
    let members = by(&a, Metric::Members, Dimension::Region, filters);
    assert_eq!(current(&members), vec![(s("East"), 1, 1), (s("West"), 2, 1)]);
}

#[test]
fn bad_filters_are_named() {
    for text in ["region", "planet:Mars", "tier:"] {
        match scope::parse_filters(text) {
            Err(server::Error::BadParam { param, .. }) => assert_eq!(param, "filters"),
            other => panic!("{text}: {other:?}"),
        }
    }
}

/// Every member falls in exactly one group, so per-group numerators and denominators add
/// up to the total over all members (sales share: one shared denominator).
#[test]
fn breakdowns_add_up_to_the_total_for_every_metric_and_dimension() {
    let (_dir, a) = common::generated(1_500, 5);
    let conn = a.reader().unwrap();
    let cfg = MetricConfig::default();
    let req = Request {
        window: Window { end: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(), days: 90 },
        compare: Compare::YearEarlier,
    };
    for dimension in Dimension::ALL {
        for metric in Metric::ALL {
            let scope = Scope::new(vec![], Some(dimension));
            let b = metrics::breakdown(&conn, metric, req, &scope, cfg).unwrap();
            let overall = metrics::measure(&conn, metric, &req.window, cfg).unwrap();
            let num: i64 = b.rows.iter().map(|r| r.current.numerator).sum();
            assert_eq!(num, overall.numerator, "{metric:?} by {dimension:?}");
            assert_eq!(b.total.current, overall, "{metric:?} by {dimension:?}");
            if metric != Metric::MemberSalesShare
                && !matches!(metric.unit(), app::model::Unit::Count | app::model::Unit::Amount)
            {
                let den: i64 = b.rows.iter().map(|r| r.current.denominator).sum();
                assert_eq!(den, overall.denominator, "{metric:?} by {dimension:?}");
            }
            for r in &b.rows {
                if let (Some(v), app::model::Unit::Ratio) = (r.current.value, metric.unit())
                    && metric != Metric::PointsUsageRate
                {
                    assert!((0.0..=1.0).contains(&v), "{metric:?} {}: {v}", r.value);
                }
            }
        }
    }
}

#[test]
fn lifecycle_stages_as_of_t() {
    let (_d, a) = fixture();
    let cfg = MetricConfig { churn_days: 180, ..CFG };
    let conn = a.reader().unwrap();
    let members = |scope: Scope| metrics::breakdown(&conn, Metric::Members, request(), &scope, cfg).unwrap();
    // As of 2024-03-31: A (last purchase 03-20), B (03-02), G (01-20, 71 days), H (03-31)
    // active; D (2023-12-20, 102 days) dormant; F (2023-06-01) churned; C joined 03-15
    // without buying: new. E joins after T and is not a member yet. The comparison
    // window (as of 03-01) adds the stage `registered` (H had joined but not bought yet),
    // empty as of T.
    let by_stage = members(Scope::new(vec![], Some(Dimension::LifecycleStage)));
    assert_eq!(
        current(&by_stage),
        vec![
            (s("active"), 4, 1),
            (s("churned"), 1, 1),
            (s("dormant"), 1, 1),
            (s("new"), 1, 1),
            (s("registered"), 0, 1)
        ]
    );
    let registered = by_stage.rows.iter().find(|r| r.value == "registered").unwrap();
    assert_eq!(registered.comparison.numerator, 1);
    // Active members by region.
    let active = scope::parse_filters("lifecycle_stage:active").unwrap();
    let by_region = members(Scope::new(active, Some(Dimension::Region)));
    assert_eq!(current(&by_region), vec![(s("(none)"), 1, 1), (s("East"), 2, 1), (s("West"), 1, 1)]);
}

/// The RFM rule table a new operational store in `dir` starts with.
async fn default_rules(dir: &tempfile::TempDir) -> Vec<metrics::rfm::RfmRule> {
    let ops = server::store::operational::connect(&format!("sqlite://{}", dir.path().join("ops.sqlite").display()))
        .await
        .unwrap();
    metrics::rfm::rules(&ops).await.unwrap()
}

/// The member facts made for the latest day put every member in the group, and every
/// filter picks the members, that the raw tables give; a change of the data makes them
/// stale until they are made again.
#[tokio::test(flavor = "multi_thread")]
async fn member_facts_give_the_groups_of_the_raw_tables() {
    let (dir, a) = common::generated(1_500, 5);
    let rules = default_rules(&dir).await;
    let conn = a.reader().unwrap();
    let cfg = MetricConfig::default();
    let t = metrics::latest_order_date(&conn).unwrap().unwrap();
    let criteria = |text: &str| scope::parse(text).unwrap();
    // Every dimension, and ranges over the summary and the scores beside a filter.
    let mut scopes: Vec<Scope> =
        Dimension::ALL.iter().map(|&d| Scope::new(vec![], Some(d)).with_rules(rules.clone())).collect();
    scopes.push(
        Scope::of(criteria("revenue:100..;days_since_purchase:..200;region:华东|华南"), Some(Dimension::Tier))
            .with_rules(rules.clone()),
    );
    scopes.push(
        Scope::of(criteria("purchases:2..;rfm_segment:at_risk|high_value_loyal"), None).with_rules(rules.clone()),
    );
    let groups = |conn: &duckdb::Connection| -> Vec<Vec<(String, i64, String)>> {
        let mut all = Vec::new();
        for s in &scopes {
            s.prepare(conn, t, cfg).unwrap();
            let mut stmt = conn.prepare("SELECT member_id, member_no, grp FROM mp_scope ORDER BY member_id").unwrap();
            all.push(
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect(),
            );
        }
        all
    };
    assert_eq!(metrics::facts::current(&conn, cfg).unwrap(), None, "the generator made no facts");
    let raw = groups(&conn);
    assert_eq!(metrics::facts::refresh(&conn, cfg).unwrap(), Some(t));
    assert_eq!(metrics::facts::current(&conn, cfg).unwrap(), Some(t));
    let other = MetricConfig { active_days: 60, ..cfg };
    assert_eq!(metrics::facts::current(&conn, other).unwrap(), None, "facts of other settings are not current");
    assert_eq!(metrics::facts::refresh(&conn, cfg).unwrap(), None, "current facts are not made again");
    let kept = groups(&a.reader().unwrap());
    for ((s, raw), kept) in scopes.iter().zip(&raw).zip(&kept) {
        assert!(!raw.is_empty(), "{:?}: nobody", s.dimension);
        assert_eq!(raw, kept, "{:?} {:?} {:?}", s.dimension, s.filters, s.ranges);
    }
    // Each dimension filtered by its first group picks the same members both ways.
    let firsts: Vec<Scope> = Dimension::ALL
        .iter()
        .zip(&raw)
        .map(|(&d, members)| {
            Scope::new(vec![Filter { dimension: d, values: vec![members[0].2.clone()] }], None)
                .with_rules(rules.clone())
        })
        .collect();
    let picked = |conn: &duckdb::Connection| -> Vec<i64> {
        firsts
            .iter()
            .map(|s| {
                s.prepare(conn, t, cfg).unwrap();
                conn.query_row("SELECT count(*) FROM mp_scope", [], |r| r.get(0)).unwrap()
            })
            .collect()
    };
    let with_facts = picked(&conn);
    server::derive::facts::changed(&a.writer()).unwrap();
    assert_eq!(metrics::facts::current(&conn, cfg).unwrap(), None, "a change makes the facts stale");
    assert_eq!(picked(&conn), with_facts);
    assert!(with_facts.iter().all(|&n| n > 0), "{with_facts:?}");
}

/// Every metric the member facts keep gives, read from the facts, the breakdown and the
/// filtered headline the day tables give — under every dimension, filters and ranges —
/// and is read from the facts alone: with the orders, points and day tables emptied (in a
/// transaction that is rolled back), the default view's numbers stay the same.
#[tokio::test(flavor = "multi_thread")]
async fn metrics_kept_in_the_facts_equal_the_day_tables() {
    let (dir, a) = common::generated(1_200, 17);
    let rules = default_rules(&dir).await;
    let conn = a.reader().unwrap();
    let cfg = MetricConfig { churn_days: 120, ..MetricConfig::default() };
    let t = metrics::latest_order_date(&conn).unwrap().unwrap();
    let mut scopes: Vec<Scope> =
        Dimension::ALL.iter().map(|&d| Scope::new(vec![], Some(d)).with_rules(rules.clone())).collect();
    for (text, d) in [
        ("revenue:50..;region:华东|华南|华北", Some(Dimension::LifecycleStage)),
        ("lifecycle_stage:active|dormant;days_since_purchase:..300", None),
        ("rfm_segment:at_risk|high_value_loyal|potential", Some(Dimension::Tier)),
    ] {
        scopes.push(Scope::of(scope::parse(text).unwrap(), d).with_rules(rules.clone()));
    }
    let kept: Vec<Metric> =
        Metric::ALL.into_iter().filter(|&m| metrics::facts::keeps(m, &Window { end: t, days: 30 })).collect();
    assert_eq!(kept.len(), Metric::ALL.len() - 5, "all but the sales share and the predicted metrics");
    let numbers = |conn: &duckdb::Connection, compare: Compare| {
        let req = Request { window: Window { end: t, days: 30 }, compare };
        let mut all = Vec::new();
        for s in &scopes {
            match s.dimension {
                Some(_) => {
                    for &m in &kept {
                        all.push(format!("{:?}", metrics::breakdown(conn, m, req, s, cfg).unwrap()));
                    }
                }
                None => all.push(format!("{:?}", metrics::kpis(conn, req, cfg, &kept, s).unwrap())),
            }
        }
        all
    };
    // Scores for the churn-risk groups, as a fit would store them.
    let score = |shift: usize| {
        let buyers = server::model::summaries(&a.reader().unwrap(), t).unwrap();
        let scores: Vec<app::model::MemberScore> = (0..buyers.len())
            .map(|i| app::model::MemberScore {
                p_alive: ((i + shift) % 10) as f64 / 10.0,
                purchases_30d: 0.1,
                purchases_90d: 0.3,
                purchases_365d: 1.0,
                spend_per_purchase: 50.0,
                clv_12m: (i % 7) as f64 * 100.0,
            })
            .collect();
        server::model::store_scores(&mut a.writer(), t, &buyers, &scores).unwrap();
    };
    score(0);
    let raw = numbers(&conn, Compare::Previous);
    let raw_year = numbers(&conn, Compare::YearEarlier);
    assert_eq!(metrics::facts::refresh(&conn, cfg).unwrap(), Some(t));
    let fresh = a.reader().unwrap();
    assert_eq!(
        numbers(&fresh, Compare::YearEarlier),
        raw_year,
        "the window from the facts, a year earlier from the day tables"
    );
    conn.execute_batch(
        "BEGIN TRANSACTION; DELETE FROM orders; DELETE FROM points; DELETE FROM member_days; DELETE FROM points_days;",
    )
    .unwrap();
    let from_facts = numbers(&conn, Compare::Previous);
    // The comparison a year earlier is not kept: emptied tables change it.
    assert_ne!(numbers(&conn, Compare::YearEarlier), raw_year);
    conn.execute_batch("ROLLBACK").unwrap();
    for (raw, kept) in raw.iter().zip(&from_facts) {
        assert_eq!(raw, kept);
    }
    // New scores make the facts stale; made again, they give the new churn-risk groups.
    score(3);
    assert_eq!(metrics::facts::current(&conn, cfg).unwrap(), None, "a fit makes the facts stale");
    let rescored = numbers(&conn, Compare::Previous);
    assert_ne!(rescored, raw);
    assert_eq!(metrics::facts::refresh(&conn, cfg).unwrap(), Some(t));
    assert_eq!(numbers(&a.reader().unwrap(), Compare::Previous), rescored);
    // Not vacuous: something counts in most breakdowns.
    let counted = raw.iter().filter(|b| b.split("numerator: ").skip(1).any(|n| !n.starts_with('0'))).count();
    assert!(counted > raw.len() / 2, "{counted} of {}", raw.len());
}
