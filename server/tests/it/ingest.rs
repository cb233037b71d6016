//! The ingest API against a real server: tokens, row-by-row validation, idempotent
//! re-sends, the member summary kept incrementally (equal to a rebuild), the live push,
//! and a server killed with SIGKILL in the middle of batches.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use server::store::analytics::Analytics;

use crate::common;
use crate::common::differences;

const TOKEN: &str = "test-ingest-token";

async fn post(base: &str, table: &str, token: Option<&str>, body: String) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(format!("{base}/api/v1/ingest/{table}")).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn ndjson(rows: &[Value]) -> String {
    rows.iter().map(|r| r.to_string() + "\n").collect()
}

/// Polls `url` until `done` holds for its JSON (at most `limit`).
async fn until(url: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (_, v) = common::call("GET", url, None).await;
        if done(&v) || started.elapsed() > limit {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_validates_lands_once_and_keeps_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::serve(dir.path(), &["--ingest-token", TOKEN]);
    let base = server.base.clone();

    // Without the token, or with another, nothing lands; an unknown table is a 400.
    let one = ndjson(&[json!({"member_id": "m9", "joined_at": "2024-01-01"})]);
    assert_eq!(post(&base, "members", None, one.clone()).await.0, 401);
    assert_eq!(post(&base, "members", Some("guess"), one.clone()).await.0, 401);
    let (status, body) = post(&base, "shoes", Some(TOKEN), one).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("orders"), "{body}");
    let (status, body) = post(&base, "orders", Some(TOKEN), "[{\"order_id\": ".into()).await;
    assert_eq!(status, 400, "{body}");

    // Members as a JSON array: one bad row among good ones.
    let members = json!([
        {"member_id": "m1", "joined_at": "2024-01-05T10:00:00", "tier": "gold", "name": "王小明", "phone": "13800138000"},
        {"member_id": "m2", "joined_at": "2024-02-01", "join_channel": "APP"},
        {"member_id": "m3", "joined_at": "soon"},
    ]);
    let (status, r) = post(&base, "members", Some(TOKEN), members.to_string()).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["received"].as_i64(), r["inserted"].as_i64()), (Some(3), Some(2)));
    assert_eq!(
        r["rejected"],
        json!([{"index": 2, "field": "joined_at", "value": "soon", "reason": "not a date-time from 1900-01-01 to 2999-12-31"}])
    );

    // Orders as NDJSON: purchases, a return, and three bad rows.
    let orders = vec![
        json!({"order_id": "o1", "ordered_at": "2024-03-01T09:00:00", "net_amount": 100, "member_id": "m1", "channel": "store"}),
        json!({"order_id": "o2", "ordered_at": "2024-03-10 12:30:00", "net_amount": "50.50", "member_id": "m1", "channel": "app"}),
        json!({"order_id": "o3", "ordered_at": "2024-03-12", "net_amount": 20.0, "member_id": "m2"}),
        json!({"order_id": "o4", "ordered_at": "2024-03-15", "net_amount": -10.25, "member_id": "m1"}),
        json!({"order_id": "o5", "ordered_at": "2024-03-15", "net_amount": "12.345", "member_id": "m1"}),
        json!({"order_id": "o6", "net_amount": 5, "member_id": "m2"}),
        json!({"order_id": "o7", "ordered_at": "2024-03-16", "net_amount": 5, "channel": "fax"}),
        json!({"order_id": "o1", "ordered_at": "2024-03-01", "net_amount": 999, "member_id": "m2"}),
    ];
    let (status, r) = post(&base, "orders", Some(TOKEN), ndjson(&orders)).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["inserted"].as_i64(), r["duplicates"].as_i64()), (Some(4), Some(1)), "{r}");
    let rejected: Vec<(i64, String)> = r["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["index"].as_i64().unwrap(), x["field"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(rejected, [(4, "net_amount".to_string()), (5, "ordered_at".to_string()), (6, "channel".to_string())]);
    assert_eq!(r["rejected"][0]["reason"], "not an amount with at most 2 decimals, below 10,000,000,000");
    assert_eq!(r["rejected"][1]["reason"], "missing");

    let points = json!([
        {"entry_id": "p1", "member_id": "m1", "occurred_at": "2024-03-01", "kind": "earn", "points": 100},
        {"entry_id": "p2", "member_id": "m1", "occurred_at": "2024-03-20", "kind": "redeem", "points": 40},
        {"entry_id": "p3", "member_id": "m1", "occurred_at": "2024-03-20", "kind": "earn", "points": -5},
    ]);
    let (_, r) = post(&base, "points", Some(TOKEN), points.to_string()).await;
    assert_eq!(r["inserted"].as_i64(), Some(2), "{r}");
    assert_eq!(r["rejected"][0]["reason"], "must be positive (the kind gives the sign)");

    // Re-sending everything changes nothing.
    let (_, r) = post(&base, "orders", Some(TOKEN), ndjson(&orders)).await;
    assert_eq!((r["inserted"].as_i64(), r["duplicates"].as_i64()), (Some(0), Some(5)), "{r}");
    let (_, r) = post(&base, "members", Some(TOKEN), members.to_string()).await;
    assert_eq!(r["inserted"].as_i64(), Some(0));

    // The summary follows within the fold interval: by hand, m1 has 2 purchases and
    // 100.00 + 50.50 − 10.25 = 140.25 net, 60 points; m2 one purchase of 20.00.
    let url = format!("{base}/api/v1/members?sort=member_id");
    let page = until(&url, Duration::from_secs(5), |p| p["total"] == 2 && p["rows"][0]["purchases"] == 2).await;
    let rows = page["rows"].as_array().unwrap();
    let got: Vec<(&str, i64, i64, i64)> = rows
        .iter()
        .map(|m| {
            (
                m["member_id"].as_str().unwrap(),
                m["purchases"].as_i64().unwrap(),
                m["revenue_cents"].as_i64().unwrap(),
                m["points_balance"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [("m1", 2, 14025, 60), ("m2", 1, 2000, 0)]);
    // Stored as sent: the admin sees it whole (operators' masking: tests/access.rs).
    assert_eq!(rows[0]["name"], "王小明");

    // An open dashboard is told: a data event arrives after a batch lands.
    let mut stream = reqwest::Client::new()
        .get(format!("{base}/api/v1/alerts/stream"))
        .bearer_auth(common::local_token(&base).unwrap())
        .send()
        .await
        .unwrap();
    let sent = Instant::now();
    let more = ndjson(&[json!({"order_id": "o8", "ordered_at": "2024-03-20", "net_amount": 30, "member_id": "m2"})]);
    assert_eq!(post(&base, "orders", Some(TOKEN), more).await.1["inserted"], 1);
    let mut seen = String::new();
    while !seen.contains("event: data") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.chunk()).await.unwrap().unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let pushed_after = sent.elapsed();
    // When the page is told, the new order is in the figures it fetches.
    let (_, page) = common::call("GET", &url, None).await;
    assert_eq!(page["rows"][1]["purchases"], 2, "{page}");
    println!("data pushed {pushed_after:?} after the batch landed");

    // The incrementally kept summary equals one rebuilt from the raw tables.
    drop(stream);
    drop(server);
    let a = Analytics::open(&dir.path().join("memberpulse.duckdb")).unwrap();
    assert_eq!(differences(&a), 0);
}

/// Batch `k` of the durability test: `n` orders of member `b<k>`.
fn batch(k: usize, n: usize) -> String {
    (0..n)
        .map(|i| {
            json!({"order_id": format!("b{k}-{i}"), "ordered_at": format!("2024-03-{:02}T10:00:00", 1 + i % 28),
                   "net_amount": "12.34", "member_id": format!("b{k}")})
            .to_string()
                + "\n"
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_batch_keeps_whole_batches_and_the_retry_lands_once() {
    const BATCHES: usize = 400;
    const ROWS: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let server = common::serve(dir.path(), &["--ingest-token", TOKEN]);
    let base = server.base.clone();

    // Batches go out back to back until the server dies under them.
    let sender = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        for k in 0..BATCHES {
            match reqwest::Client::new()
                .post(format!("{base}/api/v1/ingest/orders"))
                .bearer_auth(TOKEN)
                .body(batch(k, ROWS))
                .send()
                .await
            {
                Ok(r) if r.status().is_success() => acknowledged.push(k),
                _ => break,
            }
        }
        acknowledged
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(server); // SIGKILL
    let acknowledged = sender.await.unwrap();
    assert!(!acknowledged.is_empty() && acknowledged.len() < BATCHES, "{} batches acknowledged", acknowledged.len());

    // After the crash every batch is there whole or not at all, and every acknowledged
    // batch is there.
    let landed: Vec<(String, i64)> = {
        let a = Analytics::open(&dir.path().join("memberpulse.duckdb")).unwrap();
        let conn = a.reader().unwrap();
        let mut stmt =
            conn.prepare("SELECT member_id, count(*) FROM orders GROUP BY member_id ORDER BY member_id").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    assert!(landed.iter().all(|(_, n)| *n == ROWS as i64), "a batch landed in part: {landed:?}");
    for k in &acknowledged {
        assert!(landed.iter().any(|(m, _)| *m == format!("b{k}")), "acknowledged batch {k} lost");
    }
    println!("{} batches acknowledged, {} on disk after SIGKILL", acknowledged.len(), landed.len());

    // The restarted server folds what landed before the crash; the client re-sends every
    // batch it is not sure of (here: all), and each lands exactly once.
    let server = common::serve(dir.path(), &["--ingest-token", TOKEN]);
    let mut inserted = 0;
    for k in 0..acknowledged.len() + 3 {
        let (status, r) = post(&server.base, "orders", Some(TOKEN), batch(k, ROWS)).await;
        assert_eq!(status, 200, "{r}");
        let was_there = landed.iter().any(|(m, _)| *m == format!("b{k}"));
        assert_eq!(r["inserted"].as_i64(), Some(if was_there { 0 } else { ROWS as i64 }), "batch {k}");
        inserted += r["inserted"].as_i64().unwrap();
    }
    let expected = (acknowledged.len() + 3) as i64;
    assert_eq!(inserted as usize, (acknowledged.len() + 3 - landed.len()) * ROWS);

    // Once folded (within a second), every batch's member has its purchases once, and
    // the summary equals a rebuild from the raw tables.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    drop(server);
    let a = Analytics::open(&dir.path().join("memberpulse.duckdb")).unwrap();
    let conn = a.reader().unwrap();
    let (members, orders, wrong): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), sum(purchases), count(*) FILTER (WHERE purchases <> ?) FROM member_summary",
            [ROWS as i64],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((members, orders, wrong), (expected, expected * ROWS as i64, 0));
    drop(conn);
    assert_eq!(differences(&a), 0);
}

/// `memberpulse loadgen`'s engine against a real server: every offered row lands once and
/// the dashboard clients (with the local token) get their figures, without an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_lands_every_row_while_dashboards_read() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::serve(dir.path(), &["--demo-members", "500"]);
    let report = server::cli::loadgen::run(server::cli::loadgen::LoadPlan {
        url: server.base.clone(),
        token: common::local_token(&server.base).unwrap(),
        rate: 2_000,
        batch: 200,
        duration: Duration::from_secs(3),
        members: 500,
        dashboard_clients: 2,
        dashboard_every: Duration::from_millis(250),
        heavy_clients: 0,
        server_pid: None,
    })
    .await
    .unwrap();
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(report.rows_landed, report.rows_offered, "{report:?}");
    assert!(report.rows_offered >= 5_000, "{report:?}");
    assert!(report.dashboard_requests >= 10, "{report:?}");
    drop(server);
    let a = Analytics::open(&dir.path().join("memberpulse.duckdb")).unwrap();
    let stored: i64 = a
        .reader()
        .unwrap()
        .query_row("SELECT count(*) FROM orders WHERE order_id LIKE 'LG%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, report.rows_landed);
}

/// Orders `<prefix>-<i>` for `ids`, as NDJSON.
fn orders_named(prefix: &str, ids: std::ops::Range<usize>) -> Vec<String> {
    ids.map(|i| {
        json!({"order_id": format!("{prefix}-{i}"), "ordered_at": format!("2024-04-{:02}T10:00:00", 1 + i % 28),
               "net_amount": "5.10", "member_id": format!("g{}", i % 7)})
        .to_string()
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_landing_together_are_each_counted_and_land_once() {
    use server::{load::import::Kind, load::ingest};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memberpulse.duckdb");
    {
        // Three requests landed in one transaction: the first row of each key wins in
        // request order; each request is told what of its own landed.
        let a = Analytics::open(&path).unwrap();
        let rows = |lines: Vec<String>| {
            let (good, rejected) =
                ingest::validate(Kind::Orders, ingest::records(lines.join("\n").as_bytes()).unwrap(), chrono_tz::UTC);
            assert!(rejected.is_empty());
            good
        };
        let stored = rows(orders_named("S", 0..50));
        let first = rows([orders_named("A", 0..10), orders_named("S", 0..5), orders_named("X", 0..5)].concat());
        let second = rows([orders_named("B", 0..10), orders_named("X", 0..5), orders_named("B", 0..1)].concat());
        let third = rows(orders_named("S", 5..10));
        let mut w = a.writer();
        let counts =
            |landed: Vec<ingest::Landed>| landed.iter().map(|l| (l.inserted, l.duplicates)).collect::<Vec<_>>();
        assert_eq!(counts(ingest::land(&mut w, Kind::Orders, &[&stored]).unwrap()), [(50, 0)]);
        let counts = counts(ingest::land(&mut w, Kind::Orders, &[&first, &second, &third]).unwrap());
        assert_eq!(counts, [(15, 5), (10, 6), (0, 5)]);
        server::derive::summary::fold(&w, server::derive::landing::Queue::Stored).unwrap();
        let n: i64 = w.query_row("SELECT count(*) FROM orders", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 75);
        drop(w);
        assert_eq!(differences(&a), 0);
    }

    // Sixteen requests at once through the API, each with 250 orders of its own and the
    // same 50 shared ones: every order lands once, every request is told its own share.
    let server = common::serve(dir.path(), &["--ingest-token", TOKEN]);
    let sent: Vec<_> = (0..16)
        .map(|k| {
            let body = [orders_named(&format!("R{k}"), 0..250), orders_named("SHARED", 0..50)].concat().join("\n");
            let base = server.base.clone();
            tokio::spawn(async move { post(&base, "orders", Some(TOKEN), body).await })
        })
        .collect();
    let mut inserted = 0;
    for answer in sent {
        let (status, r) = answer.await.unwrap();
        assert_eq!(status, 200, "{r}");
        let (got, dup) = (r["inserted"].as_i64().unwrap(), r["duplicates"].as_i64().unwrap());
        assert!((250..=300).contains(&got), "{r}");
        assert_eq!(got + dup, 300, "{r}");
        inserted += got;
    }
    assert_eq!(inserted, 16 * 250 + 50);
    drop(server);
    let a = Analytics::open(&path).unwrap();
    let n: i64 = a.reader().unwrap().query_row("SELECT count(*) FROM orders", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 75 + 16 * 250 + 50);
    // What the server had not folded yet is folded as its next start would.
    server::derive::summary::fold(&a.writer(), server::derive::landing::Queue::Stored).unwrap();
    assert_eq!(differences(&a), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_import_lands_while_ingest_requests_stream_in() {
    let dir = tempfile::tempdir().unwrap();
    // In the server's import folder: the only place the CLI's secret may name a file.
    std::fs::create_dir_all(dir.path().join("imports")).unwrap();
    let parquet = dir.path().join("imports").join("bulk.parquet");
    duckdb::Connection::open_in_memory()
        .unwrap()
        .execute_batch(&format!(
            "COPY (SELECT 'BULK-' || i AS order_id, TIMESTAMP '2024-01-01 09:00:00' + INTERVAL (i % 300) DAY AS ordered_at,
                          CAST(10 + i % 50 AS DECIMAL(18,2)) AS net_amount, printf('M%07d', 1 + i % 500) AS member_id,
                          'store' AS channel
                   FROM range(20000) t(i)) TO '{}' (FORMAT parquet)",
            parquet.display()
        ))
        .unwrap();
    let server = common::serve(dir.path(), &["--demo-members", "500"]);
    let token = common::local_token(&server.base).unwrap();
    // Batches keep coming while the file loads (a bulk load holds the ingest connection;
    // batches wait for it, and it waits for the lander to let go).
    let stream = server::cli::loadgen::run(server::cli::loadgen::LoadPlan {
        url: server.base.clone(),
        token: token.clone(),
        rate: 4_000,
        batch: 200,
        duration: Duration::from_secs(3),
        members: 500,
        dashboard_clients: 1,
        dashboard_every: Duration::from_millis(250),
        heavy_clients: 0,
        server_pid: None,
    });
    let import = async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/loads", server.base))
            .bearer_auth(&token)
            .json(&json!({ "path": parquet, "mapping": { "kind": "orders" } }))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (report, (status, loaded)) = tokio::join!(stream, import);
    let report = report.unwrap();
    assert_eq!(status, 200, "{loaded}");
    assert_eq!(loaded["inserted"], json!([["orders", 20000]]), "{loaded}");
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(report.rows_landed, report.rows_offered, "{report:?}");
    drop(server);
    let a = Analytics::open(&dir.path().join("memberpulse.duckdb")).unwrap();
    server::derive::summary::fold(&a.writer(), server::derive::landing::Queue::Stored).unwrap();
    let count = |sql: &str| -> i64 { a.reader().unwrap().query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM orders WHERE order_id LIKE 'BULK-%'"), 20_000);
    assert_eq!(count("SELECT count(*) FROM orders WHERE order_id LIKE 'LG%'"), report.rows_landed);
    assert_eq!(differences(&a), 0);
}

/// Ingest requests that land together (a batch of several): a row naming an erased member
/// is refused in its own request, by its own index, and every other row of every request
/// lands.
#[test]
fn a_batch_refuses_only_the_rows_naming_an_erased_member() {
    use server::load::{import::Kind, ingest};
    let (_dir, a) = common::generated(300, 5);
    let erased = "M0000007";
    server::privacy::erase::erase(&mut a.writer(), erased, "test", "DSR-batch").unwrap();
    let rows = |orders: &[(&str, &str)]| {
        let body = serde_json::to_vec(
            &orders
                .iter()
                .map(|(id, member)| {
                    json!({ "order_id": id, "ordered_at": "2026-06-30T10:00:00", "net_amount": "5.00", "member_id": member })
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let (good, rejected) = ingest::validate(Kind::Orders, ingest::records(&body).unwrap(), chrono_tz::UTC);
        assert!(rejected.is_empty());
        good
    };
    let first = rows(&[("x1", "M0000001"), ("x2", erased), ("x3", "M0000002")]);
    let second = rows(&[("y1", "M0000003"), ("y2", "M0000004")]);
    let landed = ingest::land(&mut a.writer(), Kind::Orders, &[&first, &second]).unwrap();
    assert_eq!((landed[0].inserted, landed[0].duplicates), (2, 0), "{landed:?}");
    assert_eq!(landed[0].refused.iter().map(|r| (r.index, r.field.as_str())).collect::<Vec<_>>(), [(1, "member_id")]);
    assert_eq!((landed[1].inserted, landed[1].duplicates, landed[1].refused.len()), (2, 0, 0), "{landed:?}");
    let stored: i64 = a
        .reader()
        .unwrap()
        .query_row("SELECT count(*) FROM orders WHERE order_id IN ('x1', 'x2', 'x3', 'y1', 'y2')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 4);
}
