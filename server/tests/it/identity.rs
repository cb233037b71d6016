//! One member across channels (issue 22) on the real server: identities load by file,
//! orders load by identity, rules propose the pair, an admin merges it and every headline
//! numerator and denominator becomes that of persons (worked out by hand below); an undo
//! gives back the exact before-state; rows loaded later under the merged id or identity
//! land on the survivor; the kept summary equals a rebuild. And, on the engine, merges of
//! merges undone in either order.

use std::process::Command;

use serde_json::{Value, json};

use crate::common::{self, Site, Who};

const BIN: &str = env!("CARGO_BIN_EXE_memberpulse");

/// S shops in store with a POS card, M in the mini-program: one person (same unionid,
/// same phone and birth year). K is someone else.
const MEMBERS: &str = "member_id,joined_at,join_channel,region,phone,birth_year
S,2023-01-10,store,East,13812345678,1988
M,2023-06-01,mini_program,East,138 1234 5678,1988
K,2023-02-01,store,West,13900001111,1990
";

const IDENTITIES: &str = "member_id,kind,value
S,pos_card,CARD-1
S,wechat_unionid,UNION-1
M,mini_program_openid,OPEN-1
M,wechat_unionid,UNION-1
K,pos_card,CARD-2
";

const ORDERS: &str = "order_id,ordered_at,net_amount,member_id,channel
s1,2024-03-05 10:00:00,100.00,S,store
s2,2024-02-10 10:00:00,50.00,S,store
m1,2024-03-20 10:00:00,30.00,M,mini_program
k1,2024-03-10 10:00:00,40.00,K,store
k2,2024-03-25 10:00:00,60.00,K,store
";

/// The mini-program's export names members by openid.
const BY_OPENID: &str = "order_id,ordered_at,net_amount,openid,channel
m2,2024-03-28 10:00:00,20.00,OPEN-1,mini_program
x9,2024-03-28 11:00:00,5.00,OPEN-UNKNOWN,mini_program
";

const OPENID_MAPPING: &str = "kind = \"orders\"
member_identity = \"mini_program_openid\"
[fields]
member_id = \"openid\"
";

fn import(data: &std::path::Path, file: &std::path::Path, table: &str, mapping: Option<&std::path::Path>) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(["import", "--data-dir"]).arg(data);
    match mapping {
        Some(m) => cmd.arg("--mapping").arg(m),
        None => cmd.args(["--table", table]),
    };
    let out = cmd.arg(file).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    text
}

/// (numerator, denominator) of the overview's metrics, 30 days to 2024-03-31.
async fn figures(site: &Site, who: &Who) -> Vec<(String, i64, i64)> {
    let (status, body, _) =
        site.ask(who, "GET", "/api/v1/overview?as_of=2024-03-31&window=30d&compare=previous", None).await;
    assert_eq!(status, 200, "{body}");
    body["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let m = &k["current"];
            (
                k["key"].as_str().unwrap().to_string(),
                m["numerator"].as_i64().unwrap(),
                m["denominator"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn of(figures: &[(String, i64, i64)], key: &str) -> (i64, i64) {
    figures.iter().find(|(k, _, _)| k == key).map(|(_, n, d)| (*n, *d)).unwrap_or_else(|| panic!("no {key}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_member_and_a_mini_program_member_merge_into_one_omnichannel_person_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = common::serve(&data, &[]);
    let write = |name: &str, text: &str| {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        file
    };
    import(&data, &write("members.csv", MEMBERS), "members", None);
    let report = import(&data, &write("identities.csv", IDENTITIES), "member_identities", None);
    assert!(report.contains("member_identities: 5 inserted"), "{report}");
    import(&data, &write("orders.csv", ORDERS), "orders", None);
    let report = import(&data, &write("mini.csv", BY_OPENID), "orders", Some(&write("mini.toml", OPENID_MAPPING)));
    assert!(report.contains("orders: 1 inserted"), "{report}");
    assert!(
        report.contains("mini.csv:3: member_id = \"OPEN-UNKNOWN\": no one member has this mini_program_openid"),
        "{report}"
    );
    for role in ["admin", "operator", "executive"] {
        common::add_user(&data, role, role, &format!("{role}-password-1"));
    }
    let site = Site::new(&server.base);
    let (admin, operator, executive) =
        (site.session("admin").await, site.session("operator").await, site.session("executive").await);

    // Before: three members, all active in the 30 days to 2024-03-31 (S: s1; M: m1, m2 by
    // openid; K: k1, k2). Repeat buyers: M and K. Historical LTV: (150 + 50 + 100) / 3.
    let before = figures(&site, &admin).await;
    assert_eq!(of(&before, "members"), (3, 1));
    assert_eq!(of(&before, "active_members"), (3, 1));
    assert_eq!(of(&before, "repurchase_rate"), (2, 3));
    assert_eq!(of(&before, "historical_ltv"), (30000, 3));
    assert_eq!(of(&before, "store_only_members"), (2, 1));
    assert_eq!(of(&before, "online_only_members"), (1, 1));
    assert_eq!(of(&before, "omnichannel_members"), (0, 1));
    // Everyone has an identity besides their id; 3 ids and 5 identities over 3 members.
    assert_eq!(of(&before, "multi_identity_share"), (3, 3));
    assert_eq!(of(&before, "identities_per_member"), (8, 3));

    // The rules propose S and M (S joined first, so survives), with the evidence.
    for who in [&operator, &executive] {
        for (method, path) in [
            ("GET", "/api/v1/identity/candidates"),
            ("GET", "/api/v1/identity/rules"),
            ("GET", "/api/v1/identity/merges"),
        ] {
            assert_eq!(site.ask(who, method, path, None).await.0, 403, "{path}");
        }
        let (status, _, _) =
            site.ask(who, "POST", "/api/v1/identity/merges", Some(&json!({"survivor": "S", "merged": ["M"]}))).await;
        assert_eq!(status, 403);
    }
    let (status, candidates, _) = site.ask(&admin, "GET", "/api/v1/identity/candidates", None).await;
    assert_eq!(status, 200, "{candidates}");
    let pairs: Vec<(String, String, Value)> = candidates
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["survivor"]["member_id"].as_str().unwrap().into(),
                c["merged"]["member_id"].as_str().unwrap().into(),
                c["evidence"].clone(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("S".into(), "M".into(), json!(["wechat_unionid = UNION-1"])),
            ("S".into(), "M".into(), json!(["phone (keyed hash)", "birth_year = 1988"])),
        ],
        "{candidates}"
    );
    assert_eq!(candidates[0]["merged"]["channels"], json!(["mini_program"]));
    // Bad requests are 4xx.
    for (body, status) in [
        (json!({"survivor": "S", "merged": ["S"]}), 409),
        (json!({"survivor": "S", "merged": ["NOBODY"]}), 404),
        (json!({"survivor": "S", "merged": []}), 400),
    ] {
        assert_eq!(site.ask(&admin, "POST", "/api/v1/identity/merges", Some(&body)).await.0, status, "{body}");
    }
    let (status, _, _) = site.ask(&admin, "GET", "/api/v1/identity/candidates?limit=0", None).await;
    assert_eq!(status, 400);

    // Merge, then undo: exactly the figures of before.
    let (status, merged, _) =
        site.ask(&admin, "POST", "/api/v1/identity/merges", Some(&json!({"survivor": "S", "merged": ["M"]}))).await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!((merged["orders"].as_i64(), merged["merge_ids"][0].as_i64()), (Some(2), Some(1)));

    // After: two persons. S bought in store and in the mini-program on three days in the
    // window: a repeat buyer, omnichannel. LTV (200 + 100) / 2.
    let after = figures(&site, &admin).await;
    assert_eq!(of(&after, "members"), (2, 1));
    assert_eq!(of(&after, "active_members"), (2, 1));
    assert_eq!(of(&after, "repurchase_rate"), (2, 2));
    assert_eq!(of(&after, "historical_ltv"), (30000, 2));
    assert_eq!(of(&after, "store_only_members"), (1, 1));
    assert_eq!(of(&after, "online_only_members"), (0, 1));
    assert_eq!(of(&after, "omnichannel_members"), (1, 1));
    // S: ids S and M, identities CARD-1, UNION-1 (both had it: one identity) and OPEN-1;
    // K: K and CARD-2.
    assert_eq!(of(&after, "multi_identity_share"), (2, 2));
    assert_eq!(of(&after, "identities_per_member"), (7, 2));
    // No candidate left: they are one person.
    let (_, candidates, _) = site.ask(&admin, "GET", "/api/v1/identity/candidates", None).await;
    assert_eq!(candidates, json!([]));
    // The 360 of S holds both channels' orders and every identity; M is no member now.
    let (status, s, _) = site.ask(&admin, "GET", "/api/v1/members/S", None).await;
    assert_eq!(status, 200, "{s}");
    let mut orders: Vec<&str> =
        s["orders"].as_array().unwrap().iter().map(|o| o["order_id"].as_str().unwrap()).collect();
    orders.sort();
    assert_eq!(orders, ["m1", "m2", "s1", "s2"]);
    let kinds: Vec<String> = s["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            format!(
                "{}:{}:{}",
                i["member_id"].as_str().unwrap(),
                i["kind"].as_str().unwrap(),
                i["value"].as_str().unwrap()
            )
        })
        .collect();
    assert!(kinds.contains(&"M:mini_program_openid:OPEN-1".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"S:pos_card:CARD-1".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"M:phone:(keyed hash)".to_string()), "{kinds:?}");
    // An operator sees them masked.
    let (_, masked, _) = site.ask(&operator, "GET", "/api/v1/members/S", None).await;
    assert!(!masked.to_string().contains("OPEN-1"), "{masked}");
    assert_eq!(site.ask(&admin, "GET", "/api/v1/members/M", None).await.0, 404);

    let (status, undone, _) = site.ask(&admin, "POST", "/api/v1/identity/merges/1/undo", None).await;
    assert_eq!(status, 200, "{undone}");
    assert_eq!(undone["orders"], 2);
    assert_eq!(figures(&site, &admin).await, before, "an undo gives back the exact before-state");
    assert_eq!(site.ask(&admin, "POST", "/api/v1/identity/merges/1/undo", None).await.0, 409);
    assert_eq!(site.ask(&admin, "POST", "/api/v1/identity/merges/99/undo", None).await.0, 404);

    // Merge again; then orders land later under M's id (ingest) and by openid (file): on S.
    let (status, _, _) =
        site.ask(&admin, "POST", "/api/v1/identity/merges", Some(&json!({"survivor": "S", "merged": ["M"]}))).await;
    assert_eq!(status, 200);
    let later = json!([{ "order_id": "m3", "ordered_at": "2024-03-30T10:00:00", "net_amount": "10.00", "member_id": "M", "channel": "mini_program" }]);
    let (status, landed) = common::call("POST", &format!("{}/api/v1/ingest/orders", server.base), Some(later)).await;
    assert_eq!(status, 200, "{landed}");
    let more = "order_id,ordered_at,net_amount,openid,channel\nm4,2024-03-31 10:00:00,15.00,OPEN-1,mini_program\n";
    import(&data, &write("mini2.csv", more), "orders", Some(&dir.path().join("mini.toml")));
    // A members row re-sent for M does not bring M back as a second person.
    import(&data, &write("members2.csv", MEMBERS), "members", None);
    let mut now = Vec::new();
    for _ in 0..50 {
        now = figures(&site, &admin).await;
        if of(&now, "historical_ltv") == (32500, 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(of(&now, "members"), (2, 1));
    assert_eq!(of(&now, "historical_ltv"), (32500, 2), "m3 and m4 count for S");
    let (_, s, _) = site.ask(&admin, "GET", "/api/v1/members/S", None).await;
    assert_eq!(s["orders"].as_array().unwrap().len(), 6, "{s}");
    let (_, merges, _) = site.ask(&admin, "GET", "/api/v1/identity/merges", None).await;
    assert_eq!(merges.as_array().unwrap().len(), 2, "{merges}");
    assert!(merges[1]["undone_at"].is_string() && merges[0]["undone_at"].is_null(), "{merges}");

    // An automatic rule merges what it finds: K2 shares K's POS card, and joined later.
    let member = json!([{ "member_id": "K2", "joined_at": "2023-09-01", "join_channel": "app" }]);
    let card = json!([{ "member_id": "K2", "kind": "pos_card", "value": "CARD-2" }]);
    for (table, rows) in [("members", member), ("member_identities", card)] {
        let (status, landed) =
            common::call("POST", &format!("{}/api/v1/ingest/{table}", server.base), Some(rows)).await;
        assert_eq!((status, landed["inserted"].as_i64()), (200, Some(1)), "{landed}");
    }
    let auto = json!({ "name": "same POS card", "match_on": ["pos_card"], "automatic": true });
    let (status, rule, _) = site.ask(&admin, "POST", "/api/v1/identity/rules", Some(&auto)).await;
    assert_eq!(status, 201, "{rule}");
    let bad = json!({ "name": "by birth year alone", "match_on": ["birth_year"] });
    assert_eq!(site.ask(&admin, "POST", "/api/v1/identity/rules", Some(&bad)).await.0, 400);
    assert_eq!(site.ask(&admin, "POST", "/api/v1/identity/rules", Some(&auto)).await.0, 409, "a taken name");
    // The server runs the automatic rules before each refit too: this call or that run merges.
    let (status, merged, _) = site.ask(&admin, "POST", "/api/v1/identity/merges/automatic", None).await;
    assert_eq!(status, 200, "{merged}");
    let (_, merges, _) = site.ask(&admin, "GET", "/api/v1/identity/merges", None).await;
    assert_eq!(merges.as_array().map(Vec::len), Some(3), "{merges}");
    assert_eq!((merges[0]["survivor"].as_str(), merges[0]["merged"].as_str()), (Some("K"), Some("K2")));
    assert_eq!(merges[0]["rule"], "same POS card");
    // An alert rule may watch how unified the programme is.
    let watch = json!({ "name": "unification", "metric": "multi_identity_share", "comparison": "below",
                        "threshold": 0.5, "window_days": 30, "schedule_minutes": 60, "severity": "info",
                        "channels": [], "renotify_minutes": 0 });
    let (status, made, _) = site.ask(&admin, "POST", "/api/v1/alerts/rules", Some(&watch)).await;
    assert_eq!(status, 201, "{made}");

    // The ingest API names members by an identity too: m5 by openid lands on S; an unknown
    // openid is rejected by index; a table without members refuses the parameter.
    let by_openid = json!([
        { "order_id": "m5", "ordered_at": "2024-03-31T12:00:00", "net_amount": "5.00", "member_id": "OPEN-1", "channel": "mini_program" },
        { "order_id": "m6", "ordered_at": "2024-03-31T12:00:00", "net_amount": "5.00", "member_id": "OPEN-NONE", "channel": "mini_program" },
    ]);
    let url = format!("{}/api/v1/ingest/orders?member_identity=mini_program_openid", server.base);
    let (status, landed) = common::call("POST", &url, Some(by_openid)).await;
    assert_eq!((status, landed["inserted"].as_i64()), (200, Some(1)), "{landed}");
    assert_eq!(
        (landed["rejected"][0]["index"].as_i64(), landed["rejected"][0]["field"].as_str()),
        (Some(1), Some("member_id"))
    );
    let url = format!("{}/api/v1/ingest/members?member_identity=pos_card", server.base);
    assert_eq!(common::call("POST", &url, Some(json!([]))).await.0, 400);
    let url = format!("{}/api/v1/ingest/orders?member_identity=passport", server.base);
    assert_eq!(common::call("POST", &url, Some(json!([]))).await.0, 400);
    // Folded into the summary (the figures) within a second: m5's ¥5 counts for S.
    for _ in 0..50 {
        if of(&figures(&site, &admin).await, "historical_ltv") == (33000, 2) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(of(&figures(&site, &admin).await, "historical_ltv"), (33000, 2));
    let owner: Vec<String> = {
        let (_, s, _) = site.ask(&admin, "GET", "/api/v1/members/S", None).await;
        s["orders"].as_array().unwrap().iter().map(|o| o["order_id"].as_str().unwrap().to_string()).collect()
    };
    assert!(owner.contains(&"m5".to_string()), "{owner:?}");

    // A consent change sent under M's id is the person's: S's consent now.
    let (status, _, _) = site
        .ask(
            &operator,
            "POST",
            "/api/v1/members/M/consent",
            Some(&json!({ "consent": false, "channel": "mini_program" })),
        )
        .await;
    assert_eq!(status, 200);
    let (_, s, _) = site.ask(&admin, "GET", "/api/v1/members/S", None).await;
    assert_eq!(s["member"]["marketing_consent"], false, "{}", s["member"]);

    // The kept summary is what a rebuild makes.
    drop(server);
    let analytics = server::store::Analytics::open(&data.join("memberpulse.duckdb")).unwrap();
    assert_eq!(common::differences(&analytics), 0);
}

/// The (order, member) pairs, the points' and the members.
fn state(a: &server::store::Analytics) -> Vec<String> {
    let conn = a.reader().unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT 'o:' || order_id || ':' || coalesce(member_id, '') FROM orders
             UNION ALL SELECT 'p:' || entry_id || ':' || member_id FROM points
             UNION ALL SELECT 'm:' || member_id FROM members
             UNION ALL SELECT 's:' || member_id || ':' || purchases || ':' || revenue_cents || ':' || points_earned FROM member_summary
             ORDER BY 1",
        )
        .unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn merges_of_merges_undo_exactly_in_either_order() {
    use server::identity::merge::{Pair, merge, undo};
    let pair = |s: &str, m: &str| Pair { survivor: s.into(), merged: m.into() };
    for order in [[1, 2], [2, 1]] {
        let (_dir, a) = common::retailer();
        let start = state(&a);
        merge(&mut a.writer(), &[pair("A", "B")], "test", None).unwrap(); // merge 1: B into A
        merge(&mut a.writer(), &[pair("D", "A")], "test", None).unwrap(); // merge 2: A (with B) into D
        assert!(!state(&a).iter().any(|s| s.starts_with("m:A") || s.starts_with("m:B")));
        // An order and points landing under B now go to D.
        {
            let conn = a.writer();
            let rows = "(SELECT 'b9' AS order_id, TIMESTAMP '2024-03-30 10:00:00' AS ordered_at, CAST(9.00 AS DECIMAL(18,2)) AS net_amount,
                                'B' AS member_id, 'web' AS channel, NULL AS store_id, NULL AS item_count, NULL AS discount_amount, NULL AS coupon_id)";
            server::derive::landing::land_new(&conn, "orders", rows, &[], server::derive::landing::Queue::Stored)
                .unwrap();
            server::derive::summary::fold(&conn, server::derive::landing::Queue::Stored).unwrap();
        }
        let owner: String = a
            .reader()
            .unwrap()
            .query_row("SELECT member_id FROM orders WHERE order_id = 'b9'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(owner, "D");
        assert_eq!(common::differences(&a), 0, "kept = rebuilt after merges");
        for id in order {
            undo(&mut a.writer(), id, "test").unwrap();
            assert_eq!(common::differences(&a), 0, "kept = rebuilt after undoing {id}");
        }
        // Everything as it was, and B's later order is B's.
        let mut expected = start.clone();
        expected.push("o:b9:B".into());
        expected.sort();
        let mut now = state(&a);
        now.retain(|s| !s.starts_with("s:B"));
        let mut exp = expected.clone();
        exp.retain(|s| !s.starts_with("s:B"));
        assert_eq!(now, exp, "undone in order {order:?}");
    }
}

/// Erasing a person erases the members merged into them too: their identities go, and
/// each merged id gets a pseudonym of its own, in the merge record as well.
#[test]
fn an_erasure_reaches_the_members_merged_into_the_person() {
    use server::identity::merge::{Pair, merge};
    let (_dir, a) = common::retailer();
    a.writer()
        .execute_batch(
            "INSERT INTO member_identities VALUES ('A', 'pos_card', 'CARD-A'), ('B', 'mini_program_openid', 'OPEN-B')",
        )
        .unwrap();
    merge(&mut a.writer(), &[Pair { survivor: "A".into(), merged: "B".into() }], "test", None).unwrap();
    let erased = server::privacy::erase::erase(&mut a.writer(), "A", "test", "DSR-1").unwrap();
    let conn = a.reader().unwrap();
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM member_identities"), 0);
    assert_eq!(count("SELECT count(*) FROM erasures"), 2);
    assert_eq!(count("SELECT count(*) FROM merges WHERE survivor IN ('A', 'B') OR merged IN ('A', 'B')"), 0);
    assert_eq!(
        count("SELECT count(*) FROM merged_members WHERE member_id = 'B' OR name IS NOT NULL OR phone IS NOT NULL"),
        0
    );
    assert_eq!(count("SELECT count(*) FROM orders WHERE member_id IN ('A', 'B')"), 0);
    let survivor: String = conn.query_row("SELECT survivor FROM merges", [], |r| r.get(0)).unwrap();
    assert_eq!(survivor, erased.pseudonym);
    assert_eq!(common::differences(&a), 0);
}

/// Tier changes at the same instant: an undo gives back only its own merge's rows (an
/// unrelated merge's row at that instant stays recorded with it), and a tier change landing
/// under a merged id at an instant the survivor already has is not taken for the merge's.
#[test]
fn tier_changes_at_one_instant_go_back_to_their_own_members() {
    use server::identity::merge::{Pair, merge, undo};
    let (_dir, a) = common::retailer();
    a.writer()
        .execute_batch(
            "INSERT INTO tier_changes VALUES ('B', '2024-01-01 00:00:00', 'silver'), ('C', '2024-01-01 00:00:00', 'gold'),
                                             ('A', '2024-02-01 00:00:00', 'gold')",
        )
        .unwrap();
    let tiers = |a: &server::store::Analytics| -> Vec<String> {
        let conn = a.reader().unwrap();
        let mut stmt = conn
            .prepare(
                "SELECT member_id || '@' || CAST(changed_at AS VARCHAR) || '=' || tier FROM tier_changes ORDER BY 1",
            )
            .unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    let start = tiers(&a);
    let pair = |s: &str, m: &str| Pair { survivor: s.into(), merged: m.into() };
    merge(&mut a.writer(), &[pair("A", "B")], "test", None).unwrap(); // 1
    merge(&mut a.writer(), &[pair("D", "C")], "test", None).unwrap(); // 2
    undo(&mut a.writer(), 1, "test").unwrap();
    undo(&mut a.writer(), 2, "test").unwrap();
    assert_eq!(tiers(&a), start);
    // Two members with a change at one instant into one survivor: a 409, nothing merged.
    let err = merge(&mut a.writer(), &[pair("D", "B"), pair("D", "C")], "test", None).unwrap_err();
    assert!(err.to_string().contains("as another member merged into the same survivor"), "{err}");
    assert_eq!(tiers(&a), start);
    // B into A, then a change for B at A's own instant: not landed, not recorded.
    merge(&mut a.writer(), &[pair("A", "B")], "test", None).unwrap(); // 3
    {
        let conn = a.writer();
        let rows = "(SELECT 'B' AS member_id, TIMESTAMP '2024-02-01 00:00:00' AS changed_at, 'bronze' AS tier)";
        server::derive::landing::land_new(&conn, "tier_changes", rows, &[], server::derive::landing::Queue::Stored)
            .unwrap();
    }
    undo(&mut a.writer(), 3, "test").unwrap();
    assert_eq!(tiers(&a), start, "A keeps its own change");
    assert_eq!(common::differences(&a), 0);
}
