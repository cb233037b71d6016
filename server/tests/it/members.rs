//! Member lists and the member 360 record on the hand-built retailer, personal data masked.

use crate::common;

use app::model::MembersQuery;
use server::{members, metrics::MetricConfig};

fn list(a: &server::store::analytics::Analytics, q: MembersQuery) -> server::Result<app::model::MemberPage> {
    members::list(&a.reader().unwrap(), &q, MetricConfig::default(), vec![])
}

fn ids(page: &app::model::MemberPage) -> Vec<&str> {
    page.rows.iter().map(|r| r.member_id.as_str()).collect()
}

#[test]
fn lists_are_filtered_sorted_paged_and_masked() {
    let (_d, a) = common::retailer();
    // Net revenue, returns included: E 500, A 385, B 120, H 105, D 60, G 45, F 10, C 0.
    let all = list(&a, MembersQuery::default()).unwrap();
    assert_eq!(all.total, 8);
    assert_eq!(ids(&all), ["E", "A", "B", "H", "D", "G", "F", "C"]);
    assert_eq!(all.rows[1].revenue_cents, 38_500);
    // Points: A earned 180, redeemed 30, 10 expired.
    assert_eq!(all.rows[1].points_balance, 140);

    let east = list(&a, MembersQuery { filters: Some("region:East".into()), ..Default::default() }).unwrap();
    assert_eq!((east.total, ids(&east)), (2, vec!["A", "B"]));
    assert_eq!(east.rows[0].name.as_deref(), Some("张*"));
    assert_eq!(east.rows[0].phone.as_deref(), Some("138****5678"));

    // Last purchase, oldest first, members who never bought last: F D G B A H E C.
    let page = list(
        &a,
        MembersQuery { sort: Some("last_purchase_at".into()), page: Some(2), page_size: Some(3), ..Default::default() },
    )
    .unwrap();
    assert_eq!((page.total, ids(&page)), (8, vec!["B", "A", "H"]));

    // Active as of T = 03-31 (last purchase within 90 days): A, B, G, H.
    let active = list(
        &a,
        MembersQuery {
            filters: Some("lifecycle_stage:active".into()),
            as_of: Some("2024-03-31".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!((active.total, ids(&active)), (4, vec!["A", "B", "H", "G"]));

    for (q, param) in [
        (MembersQuery { sort: Some("-name".into()), ..Default::default() }, "sort"),
        (MembersQuery { page: Some(0), ..Default::default() }, "page"),
        (MembersQuery { page_size: Some(501), ..Default::default() }, "page_size"),
        (MembersQuery { filters: Some("mood:happy".into()), ..Default::default() }, "filters"),
    ] {
        match list(&a, q) {
            Err(server::Error::BadParam { param: p, .. }) => assert_eq!(p, param),
            other => panic!("expected a bad {param}: {other:?}"),
        }
    }
}

#[test]
fn member_360_has_orders_points_and_stage() {
    let (_d, a) = common::retailer();
    let conn = a.reader().unwrap();
    let m = members::profile(&conn, "A", MetricConfig::default(), &[], members::Personal::Masked).unwrap().unwrap();
    let orders: Vec<&str> = m.orders.iter().map(|o| o.order_id.as_str()).collect();
    assert_eq!(orders, ["a6", "a5", "a4", "a3", "a2", "a1"]);
    assert_eq!(m.orders[0].net_amount_cents, -2_000);
    let points: Vec<(&str, i64)> = m.points.iter().map(|p| (p.entry_id.as_str(), p.points)).collect();
    assert_eq!(points, [("p2", 30), ("p5", 10), ("p1", 100), ("p6", 80)]);
    assert_eq!((m.member.name.as_deref(), m.member.tier.as_deref()), (Some("张*"), Some("gold")));
    assert_eq!(m.member.last_purchase_at.as_deref(), Some("2024-03-20 11:00:00"));
    // As of the latest order (04-06): A bought 17 days before, D 108 days before.
    assert_eq!(m.stage, "active");
    // RFM as of 04-06 among the 7 buyers of the lookback: A's last purchase is the 5th
    // oldest (percent rank 4/6 → 4), its 5 purchases the most (→ 5), its 385 the 2nd
    // highest revenue (5/6 → 5); no rules given, so no named segment matches.
    let rfm = m.rfm.clone().unwrap();
    assert_eq!((rfm.r, rfm.f, rfm.m, rfm.segment.as_str()), (4, 5, 5, "other"));
    assert!(m.tier_changes.is_empty());
    let d = members::profile(&conn, "D", MetricConfig::default(), &[], members::Personal::Masked).unwrap().unwrap();
    assert_eq!(d.stage, "dormant");
    assert!(
        members::profile(&conn, "nobody", MetricConfig::default(), &[], members::Personal::Masked).unwrap().is_none()
    );
}

#[test]
fn ranges_on_member_measures() {
    let (_d, a) = common::retailer();
    let q = |filters: &str, as_of: Option<&str>| {
        list(&a, MembersQuery { filters: Some(filters.into()), as_of: as_of.map(Into::into), ..Default::default() })
    };
    // Net revenue: E 500, A 385, B 120, H 105, D 60, G 45, F 10, C 0 (bounds inclusive, in yuan).
    let page = q("revenue:105..385", None).unwrap();
    assert_eq!(ids(&page), ["A", "B", "H"]);
    assert_eq!(page.ranges.len(), 1);
    assert_eq!((page.ranges[0].min, page.ranges[0].max), (Some(10_500), Some(38_500)));
    assert_eq!(ids(&q("revenue:..60; region:West", None).unwrap()), ["D", "C"]);
    assert_eq!(ids(&q("revenue:105.01..", None).unwrap()), ["E", "A", "B"]);
    // Purchases: A 5 (the return is none), B 2, H 2, the others 1 or 0.
    assert_eq!(ids(&q("purchases:2..", None).unwrap()), ["A", "B", "H"]);
    // Days from the last purchase to T = 2024-04-06: E 0, H 5, A 17; C never bought.
    assert_eq!(ids(&q("days_since_purchase:..10", Some("2024-04-06")).unwrap()), ["E", "H"]);
    // Points balance: A 140, B 10, H 975.
    assert_eq!(ids(&q("points_balance:100..", None).unwrap()), ["A", "H"]);
    for bad in ["revenue:abc..", "revenue:5..1", "purchases:1.5..", "revenue:..", "revenue:100"] {
        match q(bad, None) {
            Err(server::Error::BadParam { param, message }) => {
                assert_eq!(param, "filters");
                assert!(message.contains(bad.split(':').next().unwrap()), "{message}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

/// The CSV export: every matching member in the list's order, masked, money in yuan, a
/// byte-order mark for spreadsheets.
#[test]
fn csv_export_is_the_list() {
    let (_d, a) = common::retailer();
    let conn = a.reader().unwrap();
    let q = MembersQuery {
        filters: Some("region:East|West".into()),
        sort: Some("-revenue".into()),
        page_size: Some(2),
        ..Default::default()
    };
    let criteria = server::metrics::scope::parse("region:East|West").unwrap();
    let csv = members::export_csv(&conn, &q, criteria, MetricConfig::default(), vec![], members::Personal::Masked)
        .unwrap()
        .csv;
    assert!(csv.starts_with('\u{feff}'));
    let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines[0], members::CSV_HEADER);
    // A 385.00, B 120.00, H 105.00 (h2 after T counts: the summary is lifetime), D 60, C 0;
    // all five, though the query's page holds two.
    let ids: Vec<&str> = lines[1..].iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(ids, ["A", "B", "H", "D", "C"]);
    assert_eq!(
        lines[1],
        "A,张*,138****5678,East,gold,,2023-01-10 00:00:00,2024-01-15 10:00:00,2024-03-20 11:00:00,5,385.00,140,,,,,"
    );
}

/// Find one member by id or by the whole phone number (issue 23): exact matches only, with
/// the filters, masked for operators; a part of a number finds no one.
#[test]
fn a_member_is_found_by_id_or_whole_phone() {
    let (_d, a) = common::retailer();
    let find = |text: &str, filters: Option<&str>| {
        list(&a, MembersQuery { find: Some(text.into()), filters: filters.map(Into::into), ..Default::default() })
    };
    let by_phone = find("13812345678", None).unwrap();
    assert_eq!((by_phone.total, ids(&by_phone)), (1, vec!["A"]));
    assert_eq!(by_phone.rows[0].phone.as_deref(), Some("138****5678"));
    assert_eq!(ids(&find(" 139 0000 1111 ", None).unwrap()), ["B"]);
    assert_eq!(ids(&find("D", None).unwrap()), ["D"]);
    for nothing in ["1381234567", "38123456", "5678", "a", "13812345678 OR 1=1", "'; DROP TABLE members; --"] {
        let page = find(nothing, None).unwrap();
        assert_eq!((page.total, page.rows.len()), (0, 0), "{nothing}");
    }
    // With filters: A is in the East, not the West.
    assert_eq!(find("13812345678", Some("region:West")).unwrap().total, 0);
    assert_eq!(find("13812345678", Some("region:East")).unwrap().total, 1);
    // Empty is no look-up; too long or control characters are a 400 naming `find`.
    assert_eq!(find("  ", None).unwrap().total, 8);
    for bad in ["x".repeat(65), "A\u{0}".to_string()] {
        match find(&bad, None) {
            Err(server::Error::BadParam { param, .. }) => assert_eq!(param, "find"),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert_eq!(members::find_for_audit("13812345678"), "138****5678");
    assert_eq!(members::find_for_audit("+86138-1234-5678"), "+86****5678");
    assert_eq!(members::find_for_audit("(138)1234.5678"), "(13****5678");
    assert_eq!(members::find_for_audit("１３８１２３４５６７８"), "１３８****５６７８");
    assert_eq!(members::find_for_audit("M0001747"), "M0001747");
    // A number a hundred and one members share (a placeholder) is a 400 asking for filters.
    a.writer()
        .execute_batch(
            "INSERT INTO members (member_id, joined_at, phone)
             SELECT 'P' || i, TIMESTAMP '2023-01-01 00:00:00', '00000000000' FROM range(101) t(i)",
        )
        .unwrap();
    server::derive::open::seal_plain(&a.writer()).unwrap();
    match find("00000000000", None) {
        Err(server::Error::BadParam { param, .. }) => assert_eq!(param, "find"),
        other => panic!("{other:?}"),
    }
    // Whatever spaces were typed (a tab, the ideographic space), the key is the number.
    assert_eq!(members::find_key(Some("138\u{3000}1234\t5678")).unwrap().as_deref(), Some("13812345678"));
}
