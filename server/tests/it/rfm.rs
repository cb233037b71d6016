//! RFM scores and the default named segments, by hand on the shared retailer.

use crate::common;

use app::model::{Dimension, MembersQuery, Metric};
use chrono::NaiveDate;
use server::{
    members,
    metrics::rfm,
    metrics::scope::{self, Scope},
    metrics::{self, Compare, MetricConfig, Request, Window},
    store::operational,
};

pub(crate) fn default_rules() -> Vec<rfm::RfmRule> {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ops.sqlite").display());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async { rfm::rules(&operational::connect(&url).await.unwrap()).await.unwrap() })
}

#[test]
fn members_fall_in_the_default_segments() {
    let (_d, a) = common::retailer();
    let rules = default_rules();
    assert_eq!(rules.len(), 6);
    assert_eq!((rules[0].key.as_str(), rules[0].name_zh.as_str()), ("high_value_loyal", "高价值忠诚"));
    // Lookback 2023-04-02 ..= 2024-03-31. Purchases: F (06-01, 10), D (12-20, 60),
    // G (01-20, 45), B (03-02; 2 purchases, 120), A (03-20; 5, 385 with the return),
    // H (03-31, 70). Scores 1 + ⌊5 × percent rank⌋, capped at 5:
    // R: F 1, D 2, G 3, B 4, A 5, H 5.  F: D G H F 1 (tied), B 5, A 5.
    // M: F 1, G 2, D 3, H 4, B 5, A 5. So A (5,5,5) and B (4,5,5) are high-value loyal,
    // H (5,1,4) new, G (3,1,2) potential, D (2,1,3) dormant, F (1,1,1) lost; C never
    // bought; E joins after T.
    let req = Request {
        window: Window { end: NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(), days: 30 },
        compare: Compare::Previous,
    };
    let scope = Scope::new(vec![], Some(Dimension::RfmSegment)).with_rules(rules.clone());
    let b = metrics::breakdown(&a.reader().unwrap(), Metric::Members, req, &scope, MetricConfig::default()).unwrap();
    let count = |segment: &str| b.rows.iter().find(|r| r.value == segment).map(|r| r.current.numerator);
    for (segment, n) in
        [("high_value_loyal", 2), ("new", 1), ("potential", 1), ("dormant", 1), ("lost", 1), ("no_purchase", 1)]
    {
        assert_eq!(count(segment), Some(n), "{segment}");
    }
    assert_eq!(b.total.current.numerator, 7);

    let q = MembersQuery {
        filters: Some("rfm_segment:high_value_loyal".into()),
        as_of: Some("2024-03-31".into()),
        ..Default::default()
    };
    let page = members::list(&a.reader().unwrap(), &q, MetricConfig::default(), rules).unwrap();
    let ids: Vec<&str> = page.rows.iter().map(|r| r.member_id.as_str()).collect();
    assert_eq!(ids, ["A", "B"]);
    assert!(scope::parse_filters("rfm_segment:lost|dormant").is_ok());
}

#[test]
fn extended_rfm_favourite_category_and_preferred_channel() {
    let (_d, a) = common::retailer();
    a.writer()
        .execute_batch(
            "INSERT INTO order_items (order_id, line_no, sku, quantity, amount, category) VALUES
                 ('a1', 1, 'APP-1', 1, 200.00, '服装'), ('a3', 1, 'BEA-1', 1, 100.00, '美妆'),
                 ('a4', 1, 'BEA-2', 1, 50.00, '美妆'), ('b2', 1, 'FOO-1', 2, 80.00, '食品');",
        )
        .unwrap();
    let req = Request {
        window: Window { end: NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(), days: 30 },
        compare: Compare::Previous,
    };
    let members_by = |d: Dimension| {
        let b = metrics::breakdown(
            &a.reader().unwrap(),
            Metric::Members,
            req,
            &Scope::new(vec![], Some(d)),
            MetricConfig::default(),
        )
        .unwrap();
        b.rows.iter().map(|r| (r.value.clone(), r.current.numerator)).filter(|r| r.1 > 0).collect::<Vec<_>>()
    };
    // A spent 200 on 服装 and 150 on 美妆; B 80 on 食品; nobody else has items.
    assert_eq!(
        members_by(Dimension::FavouriteCategory),
        [("(none)".into(), 5), ("服装".into(), 1), ("食品".into(), 1)]
    );
    // Purchases in the lookback: A store 3, app 2; B web 2; H app; D, F, G store; C none.
    assert_eq!(
        members_by(Dimension::PreferredChannel),
        [("(none)".into(), 1), ("app".into(), 1), ("store".into(), 4), ("web".into(), 1)]
    );
}
