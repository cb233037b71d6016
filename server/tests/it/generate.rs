//! The synthetic retailer: deterministic, and with the behaviour the metrics need.

use server::{load::generate, store::analytics::Analytics};

fn generate_into(seed: u64, members: u64) -> (tempfile::TempDir, Analytics, generate::Summary) {
    let dir = tempfile::tempdir().unwrap();
    let a = Analytics::open(&dir.path().join("gen.duckdb")).unwrap();
    let opts = generate::Options { members, seed, ..Default::default() };
    let summary = generate::generate(&a, &opts, false).unwrap();
    (dir, a, summary)
}

/// A fingerprint of every row of every table, independent of row order.
fn fingerprint(a: &Analytics) -> Vec<(String, i64, i64)> {
    let conn = a.reader().unwrap();
    server::store::analytics::TABLES
        .iter()
        .map(|t| {
            // Names and phones are sealed with random nonces: compared as they open.
            let rows = match *t {
                "members" => "(SELECT * REPLACE (mp_open(name) AS name, mp_open(phone) AS phone) FROM members)",
                t => t,
            };
            let (n, h): (i64, i64) = conn
                .query_row(
                    &format!(
                        "SELECT count(*), CAST(coalesce(sum(hash(t::VARCHAR)) % 1000000007, 0) AS BIGINT) FROM {rows} t"
                    ),
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            (t.to_string(), n, h)
        })
        .collect()
}

fn count(a: &Analytics, sql: &str) -> i64 {
    a.reader().unwrap().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let (_d1, a1, s1) = generate_into(7, 400);
    let (_d2, a2, s2) = generate_into(7, 400);
    let (_d3, a3, _) = generate_into(8, 400);
    assert_eq!(s1, s2);
    assert_eq!(fingerprint(&a1), fingerprint(&a2));
    assert_ne!(fingerprint(&a1), fingerprint(&a3));
    assert_eq!(s1.members, 400);
    assert_eq!(count(&a1, "SELECT count(*) FROM members"), 400);
    assert_eq!(count(&a1, "SELECT count(*) FROM orders") as u64, s1.orders);
}

#[test]
fn generated_retailer_has_the_behaviour_metrics_need() {
    let (_d, a, _) = generate_into(42, 2_000);
    // Guest sales, returns, members who never bought.
    assert!(count(&a, "SELECT count(*) FROM orders WHERE member_id IS NULL") > 0);
    assert!(count(&a, "SELECT count(*) FROM orders WHERE net_amount < 0") > 0);
    assert!(
        count(
            &a,
            "SELECT count(*) FROM members WHERE member_id NOT IN (SELECT member_id FROM orders WHERE member_id IS NOT NULL)"
        ) > 0
    );
    // Every kind of points entry, and points from reviews and referrals.
    assert_eq!(count(&a, "SELECT count(DISTINCT kind) FROM points"), 4);
    assert_eq!(count(&a, "SELECT count(DISTINCT source) FROM points WHERE kind = 'earn'"), 3);
    // Churned (no purchase in the last 180 days) and reactivated members (a gap of 180+
    // days between two purchases).
    assert!(
        count(
            &a,
            "SELECT count(*) FROM (SELECT member_id FROM orders WHERE net_amount > 0 AND member_id IS NOT NULL GROUP BY member_id HAVING max(ordered_at) < TIMESTAMP '2026-06-30' - INTERVAL 180 DAY)"
        ) > 100
    );
    assert!(
        count(
            &a,
            "SELECT count(DISTINCT member_id) FROM (SELECT member_id, ordered_at - lag(ordered_at) OVER (PARTITION BY member_id ORDER BY ordered_at) AS gap FROM orders WHERE net_amount > 0 AND member_id IS NOT NULL) WHERE gap > INTERVAL 180 DAY"
        ) > 10
    );
    // Order items add up to their order, to the cent, for every order.
    assert_eq!(
        count(
            &a,
            "SELECT count(*) FROM orders o JOIN (SELECT order_id, sum(amount) s FROM order_items GROUP BY order_id) i USING (order_id) WHERE i.s <> o.net_amount"
        ),
        0
    );
    assert_eq!(count(&a, "SELECT count(*) FROM orders WHERE order_id NOT IN (SELECT order_id FROM order_items)"), 0);
    // Nothing before the member joined, nothing after the end date.
    assert_eq!(
        count(&a, "SELECT count(*) FROM orders o JOIN members m USING (member_id) WHERE o.ordered_at < m.joined_at"),
        0
    );
    assert_eq!(count(&a, "SELECT count(*) FROM orders WHERE ordered_at >= TIMESTAMP '2026-07-01'"), 0);
    // No member's balance goes below zero.
    assert_eq!(
        count(
            &a,
            "SELECT count(*) FROM (SELECT member_id, sum(CASE kind WHEN 'earn' THEN points WHEN 'adjust' THEN points ELSE -points END) b FROM points GROUP BY member_id) WHERE b < 0"
        ),
        0
    );
    // A second run refuses to mix with what is there.
    let err = generate::generate(&a, &generate::Options { members: 10, ..Default::default() }, false).unwrap_err();
    assert!(err.to_string().contains("--replace"), "{err}");
}
