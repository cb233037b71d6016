//! The model's scores in metrics, breakdowns, segments and member lists: by hand on the
//! small retailer (scores written by hand), and against independent SQL over the raw
//! orders after a real fit on a generated retailer.

use crate::common;

use app::model::{Dimension, MemberScore, MembersQuery, Metric};
use chrono::NaiveDate;
use server::access::Caller;
use server::{
    members,
    metrics::scope::{self, Scope},
    metrics::{self, Compare, Request, Window},
    model::{self, Buyer},
};

use crate::common::CFG;

fn t() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 31).unwrap()
}

fn request() -> Request {
    Request { window: Window { end: t(), days: 30 }, compare: Compare::Previous }
}

/// Hand-made scores (P(alive), CLV) for the retailer's buyers as of T, stored through
/// `store_scores` with the buyers' summaries as `summaries` reads them.
fn scored() -> (tempfile::TempDir, server::store::analytics::Analytics) {
    let (dir, a) = common::retailer();
    let buyers = model::summaries(&a.reader().unwrap(), t()).unwrap();
    let by_hand = |id: &str| match id {
        "A" => (0.3, 500.0),
        "B" => (0.9, 300.0),
        "D" => (0.2, 400.0),
        "F" => (0.1, 10.0),
        "G" => (0.4, 40.0),
        "H" => (0.8, 100.0),
        other => panic!("unexpected buyer {other}"),
    };
    let scores: Vec<MemberScore> = buyers
        .iter()
        .map(|b| {
            let (p_alive, clv_12m) = by_hand(&b.member_id);
            MemberScore {
                p_alive,
                purchases_30d: 0.1,
                purchases_90d: 0.3,
                purchases_365d: 1.0,
                spend_per_purchase: 50.0,
                clv_12m,
            }
        })
        .collect();
    model::store_scores(&mut a.writer(), t(), &buyers, &scores).unwrap();
    (dir, a)
}

/// The buyers' summaries and values as of T, by hand from the retailer's orders.
#[test]
fn buyer_summaries_by_hand() {
    let (_d, a) = common::retailer();
    let mut buyers = model::summaries(&a.reader().unwrap(), t()).unwrap();
    buyers.sort_by(|x, y| x.member_id.cmp(&y.member_id));
    let ids: Vec<&str> = buyers.iter().map(|b| b.member_id.as_str()).collect();
    // C never ordered; E's only order is after T (and h2 is too).
    assert_eq!(ids, ["A", "B", "D", "F", "G", "H"]);
    let a_ = &buyers[0];
    // A: purchase days 01-15, 02-10, 03-05 (two orders, one day), 03-20; the 03-25 return
    // is no purchase. x = 3, t_x = 65 days (01-15 → 03-20, 2024 is a leap year), T = 76;
    // repeat spend (25 + 150 + 30) / 3; historical 385 (the return included), all of it
    // within the 365 days to T.
    assert_eq!(
        *a_,
        Buyer {
            member_id: "A".into(),
            summary: model::Summary { x: 3.0, t_x: 65.0, t: 76.0, m: 205.0 / 3.0 },
            historical_cents: 38_500,
            revenue_12m_cents: 38_500,
        }
    );
    // F bought once, 2023-06-01: inside the 365 days to T (from 2023-04-02).
    let f = &buyers[3];
    assert_eq!((f.summary.x, f.summary.t_x, f.historical_cents, f.revenue_12m_cents), (0.0, 0.0, 1_000, 1_000));
    // B: 03-01 and 03-02, one day apart; 30 days from the first to T.
    let b = &buyers[1];
    assert_eq!((b.summary.x, b.summary.t_x, b.summary.t, b.summary.m), (1.0, 1.0, 30.0, 80.0));
}

#[test]
fn top_share_threshold_by_hand() {
    let values: Vec<f64> = (1..=10).map(f64::from).collect();
    // 20% of 10 is 2 values: 10 and 9.
    assert_eq!(model::top_share_threshold(values, 0.2), Some(9.0));
    // 20% of 6 rounds up to 2; ties at the boundary are all in.
    assert_eq!(model::top_share_threshold(vec![5.0, 7.0, 7.0, 7.0, 1.0, 2.0], 0.2), Some(7.0));
    assert_eq!(model::top_share_threshold(vec![3.0], 0.2), Some(3.0));
    assert_eq!(model::top_share_threshold(vec![], 0.2), None);
}

/// High value: top 2 of 6 by CLV (A 500, D 400) or by historical value (A 385, B 120):
/// A, B, D. At risk (P(alive) < 0.5) among them: A and D; revenue at stake 385 + 60.
#[test]
fn predicted_metrics_by_hand() {
    let (_d, a) = scored();
    let conn = a.reader().unwrap();
    let flags: Vec<(String, bool)> = {
        let mut stmt = conn.prepare("SELECT member_id, high_value FROM member_scores ORDER BY 1").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    let high: Vec<&str> = flags.iter().filter(|f| f.1).map(|f| f.0.as_str()).collect();
    assert_eq!(high, ["A", "B", "D"]);

    let o = metrics::overview(&conn, request(), CFG, &Scope::all(), None).unwrap();
    let kpi = |m: Metric| o.kpis.iter().find(|k| k.key == m).unwrap().clone();
    let cur = |m: Metric| {
        let k = kpi(m);
        (k.current.numerator, k.current.denominator, k.current.value)
    };
    // 500 + 300 + 400 + 10 + 40 + 100 = 1,350 over 6 scored members.
    assert_eq!(cur(Metric::PredictedLtv), (135_000, 6, Some(225.0)));
    assert_eq!(cur(Metric::PredictedLtvTotal), (135_000, 6, Some(1350.0)));
    assert_eq!(cur(Metric::HighValueAtRisk), (2, 6, Some(2.0)));
    assert_eq!(cur(Metric::RevenueAtStake), (44_500, 6, Some(445.0)));
    // The comparison window ends on 03-01: no scores as of that day, so no value (not 0).
    for m in Metric::PREDICTED {
        let k = kpi(m);
        assert_eq!(k.comparison.value, None, "{m:?}");
        assert!(k.comparison.reason.unwrap().contains("model score"));
    }

    // A stricter threshold: only D (0.2) and F, G are under 0.25 … of the high-value ones, D.
    let strict = server::metrics::MetricConfig { at_risk_p_alive: 0.25, ..CFG };
    let o = metrics::overview(&conn, request(), strict, &Scope::all(), None).unwrap();
    let k = o.kpis.iter().find(|k| k.key == Metric::RevenueAtStake).unwrap();
    assert_eq!(k.current.value, Some(60.0));
}

#[test]
fn churn_risk_dimension_and_predicted_breakdowns_by_hand() {
    let (_d, a) = scored();
    let conn = a.reader().unwrap();
    let rows = |metric: Metric, dimension: Dimension, filters: &str| {
        let scope = Scope::of(scope::parse(filters).unwrap(), Some(dimension));
        metrics::breakdown(&conn, metric, request(), &scope, CFG)
            .unwrap()
            .rows
            .into_iter()
            .map(|r| (r.value, r.current.value))
            .collect::<Vec<_>>()
    };
    // Members joined by T per churn-risk group: C never bought (no score), E joined after T.
    assert_eq!(
        rows(Metric::Members, Dimension::ChurnRisk, ""),
        vec![
            ("(none)".into(), Some(1.0)),
            ("at_risk".into(), Some(2.0)),
            ("high_value_at_risk".into(), Some(2.0)),
            ("likely_active".into(), Some(2.0)),
        ]
    );
    // Predicted LTV by region: East A, B (500 + 300) / 2; West D, H (400 + 100) / 2 (C has
    // no score); no region F, G (10 + 40) / 2.
    assert_eq!(
        rows(Metric::PredictedLtv, Dimension::Region, ""),
        vec![("(none)".into(), Some(25.0)), ("East".into(), Some(400.0)), ("West".into(), Some(250.0)),]
    );
    // High-value at risk by region, only West (D) and East (A).
    assert_eq!(
        rows(Metric::HighValueAtRisk, Dimension::Region, "churn_risk:high_value_at_risk"),
        vec![("East".into(), Some(1.0)), ("West".into(), Some(1.0))]
    );
}

#[test]
fn member_lists_carry_and_filter_by_scores() {
    let (_d, a) = scored();
    let conn = a.reader().unwrap();
    let list = |filters: &str, sort: &str| {
        members::list(
            &conn,
            &MembersQuery {
                filters: Some(filters.into()),
                as_of: Some("2024-03-31".into()),
                sort: Some(sort.into()),
                ..Default::default()
            },
            CFG,
            vec![],
        )
        .unwrap()
    };
    // The members behind the at-risk alert, most revenue at stake first.
    let at_risk = list("churn_risk:high_value_at_risk", "-revenue_12m");
    let rows: Vec<(&str, Option<f64>, Option<f64>, Option<i64>, Option<bool>)> = at_risk
        .rows
        .iter()
        .map(|r| (r.member_id.as_str(), r.p_alive, r.clv_12m, r.revenue_12m_cents, r.high_value))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("A", Some(0.3), Some(500.0), Some(38_500), Some(true)),
            ("D", Some(0.2), Some(400.0), Some(6_000), Some(true)),
        ]
    );
    // Ranges on the scores: P(alive) up to 0.3 (A, D, F), CLV from 300 (A, B, D).
    let ids = |p: &app::model::MemberPage| p.rows.iter().map(|r| r.member_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&list("p_alive:..0.3", "member_id")), ["A", "D", "F"]);
    assert_eq!(ids(&list("clv_12m:300..", "-clv_12m")), ["A", "D", "B"]);
    assert_eq!(ids(&list("", "p_alive"))[..3], ["F", "D", "A"]);
    // A member without a score has none in the list.
    let c = list("region:West", "member_id");
    let c = c.rows.iter().find(|r| r.member_id == "C").unwrap();
    assert_eq!((c.p_alive, c.clv_12m, c.high_value), (None, None, None));
    // Bad bounds are named.
    let err = scope::parse("p_alive:..0.555").unwrap_err().to_string();
    assert!(err.contains("p_alive") && err.contains("2 decimals"), "{err}");
}

/// After a real fit on a generated retailer: each member's historical and 12-month
/// revenue, the high-value flag and the predicted metrics equal independent SQL over
/// the raw orders and the stored scores.
#[tokio::test(flavor = "multi_thread")]
async fn predicted_metrics_after_a_fit_equal_independent_queries() {
    use server::{metrics::MetricConfig, service::Services, store::operational};
    let (dir, analytics) = common::generated(3_000, 7);
    let ops = operational::connect(&format!("sqlite://{}", dir.path().join("o.sqlite").display())).await.unwrap();
    let services = Services::new(analytics.clone(), ops, MetricConfig::default());
    services.fit(&Caller::system(), Some("2026-06-30".into())).await.unwrap();
    let conn = analytics.reader().unwrap();
    // Values per member straight from the orders (T = 2026-06-30, the year from 2025-07-01).
    let (mismatched, at_risk, at_stake, clv_cents, buyers): (i64, i64, i64, i64, i64) = conn
        .query_row(
            "WITH v AS (
                 SELECT member_id,
                        CAST(round(sum(net_amount) * 100) AS BIGINT) AS hist,
                        CAST(round(coalesce(sum(net_amount) FILTER (WHERE ordered_at >= '2025-07-01'), 0) * 100) AS BIGINT) AS recent
                 FROM orders WHERE member_id IS NOT NULL AND ordered_at < '2026-07-01'
                 GROUP BY member_id HAVING count(*) FILTER (WHERE net_amount > 0) > 0),
             j AS (SELECT v.*, s.clv_12m, s.p_alive, s.high_value, s.historical_cents, s.revenue_12m_cents,
                          row_number() OVER (ORDER BY v.hist DESC) AS hist_rank,
                          row_number() OVER (ORDER BY s.clv_12m DESC) AS clv_rank,
                          count(*) OVER () AS n
                   FROM v FULL JOIN member_scores s USING (member_id)),
             k AS (SELECT ceil(n * 0.2) AS k FROM j LIMIT 1),
             thr AS (SELECT (SELECT hist FROM j, k WHERE hist_rank = k) AS hist,
                            (SELECT clv_12m FROM j, k WHERE clv_rank = k) AS clv),
             f AS (SELECT j.*, (j.hist >= thr.hist OR j.clv_12m >= thr.clv) AS high FROM j, thr)
             SELECT count(*) FILTER (WHERE hist IS DISTINCT FROM historical_cents OR recent IS DISTINCT FROM revenue_12m_cents
                                       OR high IS DISTINCT FROM high_value),
                    count(*) FILTER (WHERE high AND p_alive < 0.5),
                    coalesce(sum(recent) FILTER (WHERE high AND p_alive < 0.5), 0),
                    CAST(sum(round(clv_12m * 100)) AS BIGINT),
                    count(*)
             FROM f",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    assert_eq!(mismatched, 0);
    assert!(at_risk > 0 && buyers > 1_000, "{at_risk} of {buyers}");
    let req = Request {
        window: Window { end: NaiveDate::from_ymd_opt(2026, 6, 30).unwrap(), days: 30 },
        compare: Compare::Previous,
    };
    let o = metrics::overview(&conn, req, MetricConfig::default(), &Scope::all(), None).unwrap();
    let cur = |m: Metric| {
        let k = o.kpis.iter().find(|k| k.key == m).unwrap();
        (k.current.numerator, k.current.denominator)
    };
    assert_eq!(cur(Metric::PredictedLtvTotal), (clv_cents, buyers));
    assert_eq!(cur(Metric::HighValueAtRisk), (at_risk, buyers));
    assert_eq!(cur(Metric::RevenueAtStake), (at_stake, buyers));
    // The same members through the list, and their revenue at stake summed.
    let page = members::list(
        &conn,
        &MembersQuery {
            filters: Some("churn_risk:high_value_at_risk".into()),
            as_of: Some("2026-06-30".into()),
            page_size: Some(500),
            ..Default::default()
        },
        MetricConfig::default(),
        vec![],
    )
    .unwrap();
    assert_eq!(page.total, at_risk);
    if at_risk <= 500 {
        let listed: i64 = page.rows.iter().map(|r| r.revenue_12m_cents.unwrap()).sum();
        assert_eq!(listed, at_stake);
    }
}
