//! Tier history: the tier dimension as of T, the migration matrix between two dates (by
//! hand), tier changes loaded from a CSV, and the generator's history.

use crate::common;

use app::model::{Dimension, Metric};
use chrono::NaiveDate;
use server::{
    derive::summary,
    load::import::{self, Kind, LoadRequest, Mapping},
    metrics::scope::Scope,
    metrics::tiers,
    metrics::{self, Compare, MetricConfig, Request, Window},
    store::analytics::Analytics,
};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn retailer() -> (tempfile::TempDir, Analytics) {
    let dir = tempfile::tempdir().unwrap();
    let a = Analytics::open(&dir.path().join("t.duckdb")).unwrap();
    {
        let conn = a.writer();
        conn.execute_batch(
            "INSERT INTO members (member_id, joined_at, tier) VALUES
                 ('A', '2023-01-01 00:00:00', 'gold'),    -- bronze, silver in 2023-06, gold 2024-02-01
                 ('B', '2023-03-01 00:00:00', 'silver'),  -- bronze, silver on 2024-01-01 00:00 exactly
                 ('C', '2023-05-01 00:00:00', 'vip'),     -- no history: vip throughout
                 ('D', '2023-07-01 00:00:00', 'bronze'),  -- history starts after the first date
                 ('E', '2024-01-15 00:00:00', 'bronze');  -- joins between the dates",
        )
        .unwrap();
        summary::rebuild(&conn).unwrap();
    }
    let csv = dir.path().join("tiers.csv");
    std::fs::write(
        &csv,
        "member_id,changed_at,tier\n\
         A,2023-01-01 00:00:00,bronze\nA,2023-06-10 12:00:00,silver\nA,2024-02-01 08:00:00,gold\n\
         B,2023-03-01 00:00:00,bronze\nB,2024-01-01 00:00:00,silver\n\
         D,2024-01-20 00:00:00,bronze\nE,2024-01-15 00:00:00,bronze\n\
         E,not a date,gold\nA,2023-06-10 12:00:00,platinum\n",
    )
    .unwrap();
    let report = import::load(
        &mut a.writer(),
        &LoadRequest { path: csv, mapping: Mapping::identity(Kind::TierChanges), name: None },
        None,
    )
    .unwrap();
    // The bad date is rejected with its line; the repeated (member, time) keeps the first.
    assert_eq!(report.rejected.len(), 1, "{:?}", report.rejected);
    assert_eq!(report.rejected[0].line, 9);
    assert_eq!(report.inserted_total(), 7);
    (dir, a)
}

#[test]
fn migration_matrix_by_hand() {
    let (_d, a) = retailer();
    let conn = a.reader().unwrap();
    let m =
        tiers::migration(&conn, day(2023, 12, 31), day(2024, 3, 31), &Scope::all(), MetricConfig::default()).unwrap();
    let flows: Vec<(&str, &str, i64)> =
        m.flows.iter().map(|f| (f.from_tier.as_str(), f.to_tier.as_str(), f.members.unwrap())).collect();
    // At the end of 2023-12-31: A silver, B bronze (its change is at 2024-01-01 00:00),
    // C vip, D (none) (history starts later); E had not joined. At the end of 2024-03-31:
    // A gold, B silver, C vip, D bronze.
    assert_eq!(flows, [("(none)", "bronze", 1), ("bronze", "silver", 1), ("silver", "gold", 1), ("vip", "vip", 1)]);
    assert_eq!(m.tiers, ["(none)", "bronze", "gold", "silver", "vip"]);
}

#[test]
fn tier_mix_is_as_of_t() {
    let (_d, a) = retailer();
    let conn = a.reader().unwrap();
    let mix = |end| {
        let b = metrics::breakdown(
            &conn,
            Metric::Members,
            Request { window: Window { end, days: 30 }, compare: Compare::Previous },
            &Scope::new(vec![], Some(Dimension::Tier)),
            MetricConfig::default(),
        )
        .unwrap();
        b.rows
            .iter()
            .filter(|r| r.current.numerator > 0)
            .map(|r| (r.value.clone(), r.current.numerator))
            .collect::<Vec<_>>()
    };
    let s = |v: &str| v.to_string();
    // 2024-01-01: A silver, B silver (changed at midnight), C vip, D (none); E not joined.
    assert_eq!(mix(day(2024, 1, 1)), [(s("(none)"), 1), (s("silver"), 2), (s("vip"), 1)]);
    assert_eq!(mix(day(2024, 3, 31)), [(s("bronze"), 2), (s("gold"), 1), (s("silver"), 1), (s("vip"), 1)]);
}

#[test]
fn generated_history_ends_at_the_current_tier() {
    let (_dir, a) = common::generated(800, 3);
    let conn = a.reader().unwrap();
    let (mismatched, upgrades): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM members m JOIN (SELECT member_id, arg_max(tier, changed_at) AS tier
                                                         FROM tier_changes GROUP BY member_id) t USING (member_id)
                     WHERE m.tier <> t.tier),
                    (SELECT count(*) FROM tier_changes WHERE tier <> 'bronze')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(mismatched, 0);
    assert!(upgrades > 50, "{upgrades}");
    // Every member who had joined by the first date is in exactly one cell.
    let m =
        tiers::migration(&conn, day(2025, 6, 30), day(2026, 6, 30), &Scope::all(), MetricConfig::default()).unwrap();
    let joined: i64 =
        conn.query_row("SELECT count(*) FROM members WHERE joined_at < '2025-07-01'", [], |r| r.get(0)).unwrap();
    assert_eq!(m.flows.iter().map(|f| f.members.unwrap()).sum::<i64>(), joined);
    assert!(m.flows.iter().any(|f| f.from_tier != f.to_tier));
}

/// Tier migration under a filter on every dimension (issue 23 found a 500 for any filter):
/// for each value of each dimension, the matrix holds exactly the members of that value (as
/// of the second date) who had joined by the first, and the values together hold everyone.
#[test]
fn migration_under_a_filter_on_every_dimension() {
    use app::model::Filter;
    let (_dir, a) = common::generated(600, 11);
    let conn = a.reader().unwrap();
    let cfg = MetricConfig::default();
    let rules = crate::rfm::default_rules();
    let (from, to) = (day(2025, 6, 30), day(2026, 6, 30));
    let total: i64 =
        tiers::migration(&conn, from, to, &Scope::all(), cfg).unwrap().flows.iter().map(|f| f.members.unwrap()).sum();
    assert!(total > 100, "{total}");
    for d in Dimension::ALL {
        let by = Scope::new(vec![], Some(d)).with_rules(rules.clone());
        by.prepare(&conn, to, cfg).unwrap();
        let groups = by.groups(&conn).unwrap();
        // Independently: each group's members who had joined by the day after `from`.
        let expected: Vec<(String, i64)> = {
            let mut stmt = conn
                .prepare(
                    "SELECT sc.grp, count(*) FROM mp_scope sc JOIN members m ON m.member_id = sc.member_id
                     WHERE m.joined_at < CAST(? AS TIMESTAMP) GROUP BY 1 ORDER BY 1",
                )
                .unwrap();
            stmt.query_map(["2025-07-01 00:00:00"], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert!(!groups.is_empty(), "{d:?}");
        let mut sum = 0;
        for value in &groups {
            let scope =
                Scope::new(vec![Filter { dimension: d, values: vec![value.clone()] }], None).with_rules(rules.clone());
            let m = tiers::migration(&conn, from, to, &scope, cfg)
                .unwrap_or_else(|e| panic!("migration under {}:{value}: {e}", d.key()));
            let n: i64 = m.flows.iter().map(|f| f.members.unwrap()).sum();
            let want = expected.iter().find(|(g, _)| g == value).map_or(0, |(_, n)| *n);
            assert_eq!(n, want, "{}:{value}", d.key());
            sum += n;
        }
        assert_eq!(sum, total, "the values of {} together", d.key());
    }
}
