//! Findings 7–10: webhooks, order lines, CSV exports, dates, masks and the local secret.

use std::path::Path;

use serde_json::{Value, json};

use super::{generated_server, write};
use crate::common::{self, Site};

/// A real HTTP receiver on loopback: keeps every request it gets (method, path); answers
/// `status` with `location` (a redirect) or 200.
async fn receiver(
    status: u16,
    location: Option<String>,
) -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::{Router, http::StatusCode, response::IntoResponse};
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = Router::new().fallback(move |req: axum::extract::Request| {
        let (kept, location) = (kept.clone(), location.clone());
        async move {
            kept.lock().unwrap().push(format!("{} {}", req.method(), req.uri().path()));
            let mut r = StatusCode::from_u16(status).unwrap().into_response();
            if let Some(l) = location {
                r.headers_mut().insert("location", l.parse().unwrap());
            }
            r
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

/// Finding 7: alert channels took loopback, link-local and private addresses, followed
/// redirects, and showed operators the robots' secret URLs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_reach_no_private_address_follow_no_redirect_and_stay_secret() {
    let dir = tempfile::tempdir().unwrap();
    let (server, site, [_, oper, admin], data) = generated_server(dir.path(), 300, &[]).await;
    let rule = |url: &str| {
        json!({ "id": 0, "name": "hook", "metric": "members", "segment": null, "comparison": "above", "threshold": 1,
            "window_days": 30, "schedule_minutes": 60, "severity": "info", "renotify_minutes": 0, "enabled": true,
            "channels": [{ "kind": "webhook", "url": url }] })
    };
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://172.16.5.5/hook",
        "http://[::1]:9/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0:9/hook",
        "http://2130706433/hook",
        "ftp://example.com/hook",
    ] {
        let (status, body, _) = site.ask(&admin, "POST", "/api/v1/alerts/rules", Some(&rule(url))).await;
        assert_eq!((status, body["param"].as_str()), (400, Some("channels[0].url")), "{url}: {body}");
    }
    // A public robot URL: admins see it; operators see it without its secret, and may edit
    // the rule (sending the redacted channels back keeps them).
    let secret = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robot-secret-123";
    let mut wecom = rule(secret);
    wecom["channels"] = json!([{ "kind": "wecom", "url": secret }]);
    wecom["enabled"] = json!(false);
    let (status, made, _) = site.ask(&admin, "POST", "/api/v1/alerts/rules", Some(&wecom)).await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_i64().unwrap();
    for path in [format!("/api/v1/alerts/rules/{id}"), "/api/v1/alerts/rules".into()] {
        let (_, seen, _) = site.ask(&oper, "GET", &path, None).await;
        assert!(!seen.to_string().contains("robot-secret-123"), "{seen}");
        assert!(seen.to_string().contains("qyapi.weixin.qq.com"), "{seen}");
    }
    let (_, mut mine, _) = site.ask(&oper, "GET", &format!("/api/v1/alerts/rules/{id}"), None).await;
    mine["threshold"] = json!(2);
    let (status, body, _) = site.ask(&oper, "PUT", &format!("/api/v1/alerts/rules/{id}"), Some(&mine)).await;
    assert_eq!(status, 200, "{body}");
    let (_, kept, _) = site.ask(&admin, "GET", &format!("/api/v1/alerts/rules/{id}"), None).await;
    assert_eq!((kept["channels"][0]["url"].as_str(), kept["threshold"].as_f64()), (Some(secret), Some(2.0)), "{kept}");
    drop(server);

    // Allowed private receivers (--allow-private-webhooks): a redirect is not followed.
    let (target, target_seen) = receiver(200, None).await;
    let (hop, hop_seen) = receiver(307, Some(format!("http://{target}/stolen"))).await;
    let server = common::serve(&data, &["--allow-private-webhooks", "--retry-base-ms", "100", "--retry-max-secs", "1"]);
    let site = Site::new(&server.base);
    let admin = site.session("ada").await;
    let (status, made, _) =
        site.ask(&admin, "POST", "/api/v1/alerts/rules", Some(&rule(&format!("http://{hop}/hook")))).await;
    assert_eq!(status, 201, "{made}");
    let (status, local_made, _) =
        site.ask(&admin, "POST", "/api/v1/alerts/rules", Some(&rule("http://localhost:9/later"))).await;
    assert_eq!(status, 201, "{local_made}");
    site.ask(&admin, "POST", "/api/v1/alerts/evaluate", None).await;
    for _ in 0..100 {
        if hop_seen.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(hop_seen.lock().unwrap().len() >= 2, "tried and retried: {:?}", hop_seen.lock().unwrap());
    assert!(target_seen.lock().unwrap().is_empty(), "followed a redirect: {:?}", target_seen.lock().unwrap());
    drop(server);

    // Started again without the flag, a stored channel to a private address is refused at
    // send time (the address is checked after the name is resolved, every time).
    let (ok, ok_seen) = receiver(200, None).await;
    let mut stored = rule(&format!("http://{ok}/hook"));
    stored["channels"] = json!([{ "kind": "webhook", "url": format!("http://localhost:{}/hook", ok.port()) }]);
    let ops = server::store::operational::connect(&format!("sqlite://{}", data.join("memberpulse.sqlite").display()))
        .await
        .unwrap();
    let mut r: app::model::AlertRule = serde_json::from_value(stored).unwrap();
    r.name = "stored before".into();
    server::alerts::rules::create(&ops, &crate::common::seal(), &r).await.unwrap();
    let server = common::serve(&data, &["--retry-base-ms", "100", "--retry-max-secs", "1"]);
    let site = Site::new(&server.base);
    let admin = site.session("ada").await;
    site.ask(&admin, "POST", "/api/v1/alerts/evaluate", None).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(ok_seen.lock().unwrap().is_empty(), "{:?}", ok_seen.lock().unwrap());
    use sqlx::Row;
    let errors: Vec<String> = sqlx::query("SELECT error FROM alert_attempts WHERE ok = 0 AND error LIKE '%private%'")
        .fetch_all(&ops)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!errors.is_empty(), "the refusal is recorded with its reason");
}

/// Finding 8: order items without `line_no` were numbered from 1 in every batch and file,
/// so a second batch of one order's lines was taken for "already present" and lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_order_line_is_dropped_silently() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = common::serve(&data, &[]);
    let api = format!("{}/api/v1", server.base);
    let ingest = |table: &str, rows: Value| {
        let url = format!("{api}/ingest/{table}");
        async move { common::call("POST", &url, Some(rows)).await }
    };
    let (status, r) = ingest("orders", json!([{ "order_id": "o1", "ordered_at": "2024-03-01T10:00:00", "net_amount": "60.00" },
                                               { "order_id": "o2", "ordered_at": "2024-03-01T11:00:00", "net_amount": "5.00" }])).await;
    assert_eq!((status, r["inserted"].as_i64()), (200, Some(2)), "{r}");
    let first = json!([{ "order_id": "o1", "sku": "a", "quantity": 1, "amount": "10.00" },
                       { "order_id": "o1", "sku": "b", "quantity": 1, "amount": "20.00" }]);
    let (_, r) = ingest("order_items", first.clone()).await;
    assert_eq!((r["inserted"].as_i64(), r["rejected"].as_array().map(Vec::len)), (Some(2), Some(0)), "{r}");
    // The same batch again: nothing new, nothing lost.
    let (_, r) = ingest("order_items", first).await;
    assert_eq!((r["inserted"].as_i64(), r["duplicates"].as_i64()), (Some(0), Some(2)), "{r}");
    // More lines of o1 without numbers: refused with the reason, not counted as present.
    let (_, r) =
        ingest("order_items", json!([{ "order_id": "o1", "sku": "c", "quantity": 1, "amount": "30.00" }])).await;
    assert_eq!((r["inserted"].as_i64(), r["duplicates"].as_i64()), (Some(0), Some(0)), "{r}");
    assert_eq!(r["rejected"][0]["field"], "line_no", "{r}");
    assert!(r["rejected"][0]["reason"].as_str().unwrap().contains("o1"), "{r}");
    // Part of the stored lines sent again without numbers: refused too, not "present".
    let (_, r) =
        ingest("order_items", json!([{ "order_id": "o1", "sku": "a", "quantity": 1, "amount": "10.00" }])).await;
    assert_eq!(
        (r["inserted"].as_i64(), r["duplicates"].as_i64(), r["rejected"][0]["field"].as_str()),
        (Some(0), Some(0), Some("line_no")),
        "{r}"
    );
    // A number stored with other content, or twice in one batch with other content.
    let (_, r) = ingest("order_items", json!([{ "order_id": "o1", "sku": "q", "quantity": 5, "amount": "55.00", "line_no": 2 },
                                              { "order_id": "o1", "sku": "b", "quantity": 1, "amount": "20.00", "line_no": 2 }])).await;
    assert_eq!((r["inserted"].as_i64(), r["duplicates"].as_i64()), (Some(0), Some(1)), "{r}");
    assert_eq!(r["rejected"][0]["index"], 0, "{r}");
    assert!(r["rejected"][0]["reason"].as_str().unwrap().contains("already stored with another"), "{r}");
    let (_, r) = ingest("order_items", json!([{ "order_id": "o9", "sku": "x", "quantity": 1, "amount": "1.00", "line_no": 1 },
                                              { "order_id": "o9", "sku": "y", "quantity": 1, "amount": "2.00", "line_no": 1 }])).await;
    assert_eq!((r["inserted"].as_i64(), r["rejected"][0]["index"].as_i64()), (Some(1), Some(1)), "{r}");
    // With their numbers they land.
    let (_, r) = ingest(
        "order_items",
        json!([{ "order_id": "o1", "sku": "c", "quantity": 1, "amount": "30.00", "line_no": 3 }]),
    )
    .await;
    assert_eq!(r["inserted"].as_i64(), Some(1), "{r}");
    // One batch mixing numbered and unnumbered lines of an order could collide: refused.
    let (_, r) = ingest(
        "order_items",
        json!([{ "order_id": "o2", "sku": "x", "quantity": 1, "amount": "2.00", "line_no": 1 },
                                              { "order_id": "o2", "sku": "y", "quantity": 1, "amount": "3.00" }]),
    )
    .await;
    assert_eq!((r["inserted"].as_i64(), r["rejected"].as_array().map(Vec::len)), (Some(0), Some(2)), "{r}");
    drop(server);

    // Two files of one order's lines, loaded by the CLI (no server running).
    let bin = env!("CARGO_BIN_EXE_memberpulse");
    let f1 = dir.path().join("items-1.csv");
    let f2 = dir.path().join("items-2.csv");
    write(&f1, "order_id,sku,quantity,amount\no2,x,1,2.00\no2,y,1,3.00\n");
    write(&f2, "order_id,sku,quantity,amount\no2,z,1,4.00\n");
    let import = |f: &Path| {
        let out = std::process::Command::new(bin)
            .args(["import", "--table", "order_items", "--json", "--data-dir"])
            .arg(&data)
            .arg(f)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()[0].clone()
    };
    let r = import(&f1);
    assert_eq!(r["inserted"], json!([["order_items", 2]]), "{r}");
    let r = import(&f2);
    assert_eq!(r["inserted"], json!([["order_items", 0]]), "{r}");
    assert_eq!(r["duplicates"], json!([["order_items", 0]]), "{r}");
    assert_eq!(
        (r["rejected"][0]["line"].as_i64(), r["rejected"][0]["field"].as_str()),
        (Some(2), Some("line_no")),
        "{r}"
    );
    assert_eq!(import(&f1)["duplicates"], json!([["order_items", 2]]), "the first file again changes nothing");
    let a = server::store::analytics::Analytics::open(&data.join("memberpulse.duckdb")).unwrap();
    let lines: i64 = a.reader().unwrap().query_row("SELECT count(*) FROM order_items", [], |r| r.get(0)).unwrap();
    assert_eq!(lines, 6, "o1: a, b, c; o2: x, y; o9: x");
}

/// Finding 9: exported CSV cells beginning with `=`, `+`, `-`, `@` were formulas.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_exports_carry_no_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let (server, site, [_, oper, admin], _) = generated_server(dir.path(), 0, &[]).await;
    let api = format!("{}/api/v1", server.base);
    let (status, r) = common::call("POST", &format!("{api}/ingest/members"), Some(json!([
        { "member_id": "m-formula", "joined_at": "2024-01-01T00:00:00", "name": "=HYPERLINK(\"http://evil\")", "phone": "+8613812345678", "region": "@SUM(A1)", "tier": "-1+1" },
        { "member_id": "m-return", "joined_at": "2024-01-01T00:00:00", "name": "\tTab", "region": "\rCR" }
    ]))).await;
    assert_eq!((status, r["inserted"].as_i64()), (200, Some(2)), "{r}");
    let (_, r) = common::call(
        "POST",
        &format!("{api}/ingest/orders"),
        Some(json!([
            { "order_id": "r1", "ordered_at": "2024-02-01T00:00:00", "net_amount": "-12.50", "member_id": "m-return" },
            { "order_id": "f1", "ordered_at": "2024-02-02T00:00:00", "net_amount": "10.00", "member_id": "m-formula" }
        ])),
    )
    .await;
    assert_eq!(r["inserted"].as_i64(), Some(2), "{r}");
    for _ in 0..50 {
        if site.ask(&admin, "GET", "/api/v1/members?sort=member_id", None).await.1["total"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let dangerous = |cell: &str| cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err();
    for who in [&admin, &oper] {
        let (status, csv, _) = site.ask(who, "GET", "/api/v1/members.csv?sort=member_id", None).await;
        assert_eq!(status, 200);
        let csv = csv.as_str().unwrap().to_string();
        let cells = csv_cells(&csv);
        assert!(cells.iter().all(|c| !dangerous(c)), "{cells:?}");
        assert!(cells.iter().any(|c| c.starts_with("'@SUM")), "{cells:?}");
        assert!(cells.iter().any(|c| c == "-12.50"), "numbers stay numbers: {cells:?}");
    }
    // The audit log names what a caller typed: a member id asked for becomes a cell.
    assert_eq!(site.ask(&oper, "GET", "/api/v1/members/=2+5", None).await.0, 404);
    let (_, audit, _) = site.ask(&admin, "GET", "/api/v1/audit.csv", None).await;
    let cells = csv_cells(audit.as_str().unwrap());
    assert!(cells.iter().all(|c| !dangerous(c)), "{cells:?}");
    assert!(cells.iter().any(|c| c == "'=2+5"), "{cells:?}");
}

/// The cells of a CSV text (quoted cells unquoted).
fn csv_cells(text: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let (mut cell, mut quoted, mut chars) =
        (String::new(), false, text.trim_start_matches('\u{feff}').chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',' | '\n', false) => cells.push(std::mem::take(&mut cell)),
            (c, _) => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

/// Finding 10: a far-future date panicked a handler (500); a mask showed a name's length
/// (and a one-character name whole); `server.json` kept loose permissions when rewritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_masks_and_the_local_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A server.json left world-readable by an earlier run (or a careless copy).
    std::fs::write(data.join("server.json"), "{}").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(data.join("server.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_server, site, [exec, oper, admin], _) = generated_server(dir.path(), 300, &[]).await;
    let mode = std::fs::metadata(data.join("server.json")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{mode:o}");

    for date in ["+262142-12-31", "-262143-01-01", "9999-12-31", "0001-01-01", "1800-01-01"] {
        for path in [
            format!("/api/v1/overview?as_of={date}"),
            format!("/api/v1/trend?as_of={date}"),
            format!("/api/v1/breakdown?metric=members&dimension=region&as_of={date}"),
            format!("/api/v1/cohorts?as_of={date}"),
            format!("/api/v1/tiers/migration?to={date}"),
            format!("/api/v1/tiers/migration?from={date}"),
            format!("/api/v1/members?as_of={date}"),
            format!("/api/v1/model/holdout?as_of={date}"),
            format!("/api/v1/audit?since={date}"),
        ] {
            for who in [&exec, &oper, &admin] {
                let (status, body, _) = site.ask(who, "GET", &path, None).await;
                assert!(status == 400 || status == 403, "{path}: {status} {body}");
            }
        }
        let (status, body, _) = site.ask(&admin, "POST", "/api/v1/model/fit", Some(&json!({ "as_of": date }))).await;
        assert_eq!(status, 400, "{date}: {body}");
    }

    // Data carries dates in the same range (a year-9999 order made every default T one
    // no date arithmetic takes) and numbers whose sums fit.
    let api = format!("{}/api/v1", _server.base);
    for (table, row, field) in [
        ("orders", json!({ "order_id": "far", "ordered_at": "9999-12-31T23:59:59", "net_amount": 1 }), "ordered_at"),
        ("orders", json!({ "order_id": "old", "ordered_at": "0001-01-01", "net_amount": 1 }), "ordered_at"),
        ("orders", json!({ "order_id": "big", "ordered_at": "2024-01-01", "net_amount": "10000000000" }), "net_amount"),
        (
            "orders",
            json!({ "order_id": "many", "ordered_at": "2024-01-01", "net_amount": 1, "item_count": 3000000000u64 }),
            "item_count",
        ),
        ("order_items", json!({ "order_id": "o", "sku": "s", "quantity": 3000000000u64, "amount": 1 }), "quantity"),
        (
            "points",
            json!({ "entry_id": "p", "member_id": "M0000001", "occurred_at": "2024-01-01", "kind": "earn", "points": 999999999999999u64 }),
            "points",
        ),
        (
            "members",
            json!({ "member_id": "b", "joined_at": "2024-01-01", "birth_year": 999999999999999u64 }),
            "birth_year",
        ),
    ] {
        let (status, r) = common::call("POST", &format!("{api}/ingest/{table}"), Some(json!([row]))).await;
        assert_eq!((status, r["rejected"][0]["field"].as_str()), (200, Some(field)), "{table}: {r}");
    }
    let (status, body, _) = site.ask(&admin, "GET", "/api/v1/overview", None).await;
    assert_eq!(status, 200, "{body}");
    // A page's server function called with arguments it cannot read is the caller's fault.
    for body in [json!({}), json!("garbage"), json!({ "query": { "as_of": 5 } })] {
        let (status, answer, _) = site.ask(&exec, "POST", "/api/get_overview", Some(&body)).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }

    // Masks reveal no length: every masked name is two characters, and a one-character
    // name is hidden whole.
    for (name, mask) in [("张", "**"), ("张三", "张*"), ("欧阳娜娜", "欧*"), ("Bo", "B*"), ("Alexandria", "A*")]
    {
        assert_eq!(server::members::mask_name(name), mask, "{name}");
    }
    for (phone, mask) in
        [("123", "****"), ("1234567", "****"), ("13812345678", "138****5678"), ("+8613812345678", "+86****5678")]
    {
        assert_eq!(server::members::mask_phone(phone), mask, "{phone}");
    }
}
