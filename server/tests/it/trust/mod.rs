//! The security review's findings (issue 18), each against the real server as an attacker
//! would try it: what executives can derive, file reads, lockout, redirects, heavy reads,
//! webhooks, dropped order lines, CSV formulas, dates, masks and the local secret.

use std::path::Path;

use serde_json::{Value, json};

use crate::common;

use crate::common::{Site, Who, add_user};

/// The minimum group size the disclosure tests serve with.
const MIN: i64 = 10;

/// A retailer with a group too small for executives: North (15 members, joined
/// 2024-01-05, gold; N0 platinum from 2024-02-01), West (2, joined 2024-02-10, gold) and
/// South (12, joined 2024-03-03, silver); each member two purchases (100 + 7·k yuan and
/// 5 days apart) and 30 points earned. T = 2024-03-09.
fn small_groups(data: &Path) {
    std::fs::create_dir_all(data).unwrap();
    let a = server::store::analytics::Analytics::open(&data.join("memberpulse.duckdb")).unwrap();
    let conn = a.writer();
    conn.execute_batch(
        "INSERT INTO members (member_id, joined_at, region, tier, name, phone)
           SELECT 'N' || i, TIMESTAMP '2024-01-05 10:00:00', 'North', 'gold', '北' || i, '1380000' || lpad(i::VARCHAR, 4, '0') FROM range(15) t(i)
           UNION ALL
           SELECT 'W' || i, TIMESTAMP '2024-02-10 10:00:00', 'West', 'gold', '西' || i, '1390000' || lpad(i::VARCHAR, 4, '0') FROM range(2) t(i)
           UNION ALL
           SELECT 'S' || i, TIMESTAMP '2024-03-03 10:00:00', 'South', 'silver', '南' || i, '1370000' || lpad(i::VARCHAR, 4, '0') FROM range(12) t(i);
         INSERT INTO orders (order_id, ordered_at, net_amount, member_id, channel)
           SELECT 'o-' || member_id || '-' || k, joined_at + INTERVAL (1 + 5 * k) DAY,
                  CAST(100 + 7 * k AS DECIMAL(18, 2)), member_id, 'store'
           FROM members, range(2) t(k);
         INSERT INTO points (entry_id, member_id, occurred_at, kind, points)
           SELECT 'p-' || member_id, member_id, joined_at + INTERVAL 1 DAY, 'earn', 30 FROM members;
         INSERT INTO tier_changes (member_id, changed_at, tier) VALUES
           ('N0', TIMESTAMP '2024-01-05 10:00:00', 'gold'), ('N0', TIMESTAMP '2024-02-01 00:00:00', 'platinum');",
    )
    .unwrap();
    server::derive::summary::rebuild(&conn).unwrap();
}

/// A server on the small-groups retailer with a user of each role (`eve` executive,
/// `otto` operator, `ada` admin) and `extra` serve arguments.
async fn small_groups_server(dir: &Path, extra: &[&str]) -> (common::Server, Site, [Who; 3]) {
    let data = dir.join("data");
    small_groups(&data);
    for (name, role) in [("eve", "executive"), ("otto", "operator"), ("ada", "admin")] {
        add_user(&data, name, role, &format!("{name}-password-1"));
    }
    let min = MIN.to_string();
    let mut args = vec!["--min-group-size", min.as_str()];
    args.extend_from_slice(extra);
    let server = common::serve(&data, &args);
    let site = Site::new(&server.base);
    let who = [site.session("eve").await, site.session("otto").await, site.session("ada").await];
    (server, site, who)
}

fn withheld(m: &Value) -> bool {
    m["value"].is_null() && m["reason"].as_str().is_some_and(|r| r.contains("executives"))
}

/// Finding 1: a breakdown's total minus its visible rows gave a lone withheld row exactly;
/// the cohorts' `all` row the same; two overlapping filters differed by a few members.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executives_cannot_derive_a_small_group_from_one_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, site, [exec, oper, _]) = small_groups_server(dir.path(), &[]).await;
    let sizes: std::collections::HashMap<&str, i64> = [("North", 15), ("West", 2), ("South", 12)].into();

    for metric in ["members", "historical_ltv", "repurchase_rate", "points_usage_rate"] {
        let path = format!("/api/v1/breakdown?metric={metric}&dimension=region");
        let (status, b, _) = site.ask(&exec, "GET", &path, None).await;
        assert_eq!(status, 200, "{b}");
        let rows = b["rows"].as_array().unwrap();
        let hidden: Vec<&str> =
            rows.iter().filter(|r| withheld(&r["current"])).map(|r| r["value"].as_str().unwrap()).collect();
        assert!(hidden.contains(&"West"), "{metric}: the 2 West members are withheld: {b}");
        if !withheld(&b["total"]["current"]) {
            // Total minus the visible rows is then the withheld rows together: at least MIN.
            let together: i64 = hidden.iter().map(|v| sizes[v]).sum();
            assert!(hidden.len() >= 2 && together >= MIN, "{metric}: total minus visible rows gives {hidden:?}: {b}");
        }
        // Operators see every row.
        let (_, ob, _) = site.ask(&oper, "GET", &path, None).await;
        assert!(ob["rows"].as_array().unwrap().iter().all(|r| !withheld(&r["current"])), "{ob}");
    }

    // Cohorts: 2024-01 (15), 2024-02 (the 2 West members), 2024-03 (12). The `all` row of a
    // month must not be the sum of the visible cohorts plus the withheld one.
    let (status, c, _) = site.ask(&exec, "GET", "/api/v1/cohorts?cohorts=3", None).await;
    assert_eq!(status, 200, "{c}");
    let cohorts = c["cohorts"].as_array().unwrap();
    let feb = cohorts.iter().find(|r| r["cohort"] == "2024-02").unwrap();
    assert!(feb["retention"][0].as_object().is_none_or(|_| withheld(&feb["retention"][0])), "{feb}");
    assert!(feb["members"].is_null(), "a withheld cohort's size is withheld too: {feb}");
    let all = &c["all"];
    for k in 0..all["retention"].as_array().unwrap().len() {
        let cell = &all["retention"][k];
        if cell.is_null() || withheld(cell) {
            continue;
        }
        let visible: i64 = cohorts
            .iter()
            .filter_map(|r| {
                r["retention"][k]
                    .as_object()
                    .filter(|m| !m["value"].is_null())
                    .map(|m| m["denominator"].as_i64().unwrap())
            })
            .sum();
        let hidden = cell["denominator"].as_i64().unwrap() - visible;
        assert!(hidden == 0 || hidden >= MIN, "month {k}: all − visible cohorts = {hidden} members: {c}");
    }
    // The all row adds up the cohorts shown, whatever the number of cohorts asked for:
    // no choice of it, nor the whole membership, gives the West pair's cohort away.
    for n in 1..=3 {
        let (_, c, _) = site.ask(&exec, "GET", &format!("/api/v1/cohorts?cohorts={n}"), None).await;
        let shown: i64 = c["cohorts"].as_array().unwrap().iter().filter_map(|r| r["members"].as_i64()).sum();
        assert_eq!(c["all"]["members"].as_i64(), Some(shown), "{c}");
    }
    let (_, all3, _) = site.ask(&exec, "GET", "/api/v1/cohorts?cohorts=3", None).await;
    assert_eq!(all3["all"]["members"], 27, "{all3}");

    // Groups change with the date: the comparison window counts its own members. At
    // 2024-02-08, N0 (platinum from 2024-02-01) and 14 gold North members were all there
    // was: the comparison column must not give N0 away by subtraction either.
    let (_, tiers, _) =
        site.ask(&exec, "GET", "/api/v1/breakdown?metric=members&dimension=tier&window=30d", None).await;
    let visible: i64 = tiers["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !withheld(&r["comparison"]))
        .map(|r| r["comparison"]["numerator"].as_i64().unwrap())
        .sum();
    if !withheld(&tiers["total"]["comparison"]) {
        let hidden = tiers["total"]["comparison"]["numerator"].as_i64().unwrap() - visible;
        assert!(hidden == 0 || hidden >= MIN, "comparison total − visible rows = {hidden}: {tiers}");
    }
    // A trend's points are checked at their own dates: gold at 2024-02-08 left out only N0.
    let (_, trend, _) =
        site.ask(&exec, "GET", "/api/v1/trend?metrics=members&filters=tier:gold&window=30d&points=3", None).await;
    let points = trend["series"][0]["points"].as_array().unwrap();
    assert_eq!(points[1]["end"], "2024-02-08", "{trend}");
    assert!(withheld(&points[1]["measure"]), "{trend}");
    assert_eq!(points[2]["measure"]["numerator"], 16, "{trend}");

    // Member-measure ranges are the operators' (a range narrows a group to a few members).
    for path in [
        "/api/v1/overview?metrics=members&filters=region:North;revenue:..207",
        "/api/v1/breakdown?metric=members&dimension=tier&filters=purchases:2..",
        "/api/v1/tiers/migration?from=2024-01-31&filters=p_alive:..0.3",
        "/api/v1/cohorts?filters=revenue:200..",
        "/api/v1/trend?filters=days_since_purchase:..90",
    ] {
        let (status, body, _) = site.ask(&exec, "GET", path, None).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body["message"].as_str().unwrap().contains("range"), "{body}");
        assert_eq!(site.ask(&oper, "GET", path, None).await.0, 200, "{path} as an operator");
    }
    // Two dimension filters that each pass the size rule but differ by the 2 West members.
    let (_, north, _) = site.ask(&exec, "GET", "/api/v1/overview?metrics=members&filters=region:North", None).await;
    assert_eq!(north["kpis"][0]["current"]["numerator"], 15, "{north}");
    let (_, wider, _) =
        site.ask(&exec, "GET", "/api/v1/overview?metrics=members&filters=region:North|West", None).await;
    assert!(withheld(&wider["kpis"][0]["current"]), "North|West minus North is West: {wider}");
    // A value named twice is one value: the filter still leaves the West pair out.
    let (_, twice, _) =
        site.ask(&exec, "GET", "/api/v1/overview?metrics=members&filters=region:North|South|South", None).await;
    assert!(withheld(&twice["kpis"][0]["current"]), "{twice}");
    // Everyone but the West pair: the whole overview minus it would give them.
    let (_, rest, _) =
        site.ask(&exec, "GET", "/api/v1/overview?metrics=members&filters=region:North|South", None).await;
    assert!(withheld(&rest["kpis"][0]["current"]), "{rest}");
}

/// Finding 2: tier migration showed executives cells of one member, under any filter; an
/// alert rule's value over a tiny segment was shown to them unchecked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_cells_and_alert_values_obey_the_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, site, [exec, oper, admin]) = small_groups_server(dir.path(), &[]).await;
    let path = "/api/v1/tiers/migration?from=2024-01-31&to=2024-03-09";
    let (status, t, _) = site.ask(&exec, "GET", path, None).await;
    assert_eq!(status, 200, "{t}");
    let cell = |t: &Value, from: &str, to: &str| {
        t["flows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["from_tier"] == from && f["to_tier"] == to)
            .map(|f| f["members"].clone())
    };
    // N0 went gold → platinum: a cell of one member.
    assert_eq!(cell(&t, "gold", "platinum"), Some(Value::Null), "{t}");
    // Its row (gold → gold: 14 more) is withheld too, else gold at `from` minus it gives N0.
    assert_eq!(cell(&t, "gold", "gold"), Some(Value::Null), "{t}");
    let (_, o, _) = site.ask(&oper, "GET", path, None).await;
    assert_eq!(cell(&o, "gold", "platinum"), Some(json!(1)), "{o}");
    assert_eq!(cell(&o, "gold", "gold"), Some(json!(14)), "{o}");

    // An alert rule over the 2 West members.
    let segment = json!({ "key": "west", "name_zh": "西区", "name_en": "West", "filters": "region:West" });
    assert_eq!(site.ask(&oper, "POST", "/api/v1/segments", Some(&segment)).await.0, 201);
    let rule = json!({ "id": 0, "name": "west ltv", "metric": "historical_ltv", "segment": "west", "comparison": "above",
        "threshold": 1.0, "window_days": 30, "schedule_minutes": 60, "severity": "info", "channels": [],
        "renotify_minutes": 60, "enabled": true });
    let (status, r, _) = site.ask(&oper, "POST", "/api/v1/alerts/rules", Some(&rule)).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(site.ask(&admin, "POST", "/api/v1/alerts/evaluate", None).await.0, 200);
    let event = |who: Who| {
        let site = &site;
        let id = r["id"].clone();
        async move {
            let (_, events, _) = site.ask(&who, "GET", &format!("/api/v1/alerts?rule_id={id}"), None).await;
            events[0].clone()
        }
    };
    let seen_by_operator = event(oper.clone()).await;
    assert_eq!(seen_by_operator["value"], json!(207.0), "LTV of West: (100 + 107) yuan each: {seen_by_operator}");
    let seen_by_executive = event(exec.clone()).await;
    assert_eq!(seen_by_executive["rule_id"], r["id"], "{seen_by_executive}");
    assert!(
        seen_by_executive["value"].is_null() && seen_by_executive["comparison_value"].is_null(),
        "{seen_by_executive}"
    );
    assert!(seen_by_executive["population"].is_null(), "{seen_by_executive}");
    // A large segment whose view executives may not see either (everyone but the West
    // pair: the whole membership minus it gives them).
    let most = json!({ "key": "most", "name_zh": "大多数", "name_en": "Most", "filters": "region:North|South" });
    assert_eq!(site.ask(&oper, "POST", "/api/v1/segments", Some(&most)).await.0, 201);
    let mut rule = rule.clone();
    rule["segment"] = json!("most");
    rule["name"] = json!("most ltv");
    let (status, r, _) = site.ask(&oper, "POST", "/api/v1/alerts/rules", Some(&rule)).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(site.ask(&admin, "POST", "/api/v1/alerts/evaluate", None).await.0, 200);
    let (_, events, _) = site.ask(&exec, "GET", &format!("/api/v1/alerts?rule_id={}", r["id"]), None).await;
    assert!(events[0]["value"].is_null(), "{events}");
    let (_, events, _) = site.ask(&oper, "GET", &format!("/api/v1/alerts?rule_id={}", r["id"]), None).await;
    assert_eq!(events[0]["population"], 27, "{events}");
}

/// A server on a generated retailer of `members` with an admin `ada`, an operator `otto`
/// and an executive `eve`, and `extra` serve arguments.
async fn generated_server(
    dir: &Path,
    members: u32,
    extra: &[&str],
) -> (common::Server, Site, [Who; 3], std::path::PathBuf) {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (name, role) in [("eve", "executive"), ("otto", "operator"), ("ada", "admin")] {
        add_user(&data, name, role, &format!("{name}-password-1"));
    }
    let n = members.to_string();
    let mut args = vec!["--demo-members", n.as_str()];
    args.extend_from_slice(extra);
    let server = common::serve(&data, &args);
    let site = Site::new(&server.base);
    let who = [site.session("eve").await, site.session("otto").await, site.session("ada").await];
    (server, site, who, data)
}

/// The CLI's secret of the server on `data` (as `memberpulse import` presents it).
fn local(data: &Path) -> Who {
    Who::Token(server::http::ServerInfo::read(data).unwrap().token)
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const TWO_MEMBERS: &str = "member_id,joined_at,region\nfile-1,2024-01-01,North\nfile-2,2024-01-02,South\n";

/// Finding 3: an admin session could make the server read any file (`/etc/passwd`) through
/// `POST /api/v1/loads`; now only the CLI's secret names a path, inside the import folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_local_cli_names_a_file_and_only_inside_the_import_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, site, [exec, oper, admin], data) = generated_server(dir.path(), 0, &[]).await;
    let load = |path: &str| json!({ "path": path, "mapping": { "kind": "members" } });
    for path in ["/etc/passwd", "/proc/self/environ", "../../etc/passwd"] {
        for who in [&admin, &oper, &exec] {
            let (status, body, _) = site.ask(who, "POST", "/api/v1/loads", Some(&load(path))).await;
            assert_eq!(status, 403, "{path}: {body}");
            assert!(!body.to_string().contains("root:") && !body.to_string().contains("PATH="), "{body}");
        }
    }
    let cli = local(&data);
    let imports = data.join("imports");
    let outside = dir.path().join("outside.csv");
    write(&outside, TWO_MEMBERS);
    // Outside the folder, directly or through a link or `..`: refused, nothing read.
    std::fs::create_dir_all(&imports).unwrap();
    std::os::unix::fs::symlink(&outside, imports.join("link.csv")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", imports.join("passwd.csv")).unwrap();
    for path in [
        outside.display().to_string(),
        "link.csv".into(),
        "passwd.csv".into(),
        imports.join("link.csv").display().to_string(),
        "../outside.csv".into(),
        "/etc/passwd".into(),
    ] {
        let (status, body, _) = site.ask(&cli, "POST", "/api/v1/loads", Some(&load(&path))).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["param"], "path", "{body}");
        assert!(!body.to_string().contains("root:"), "{body}");
        // The same answer whether something is there or not.
        assert!(body["message"].as_str().unwrap().contains("no such file inside the server's import folder"), "{body}");
    }
    // Inside it, by name or full path: loaded.
    write(&imports.join("members.csv"), TWO_MEMBERS);
    let (status, report, _) = site.ask(&cli, "POST", "/api/v1/loads", Some(&load("members.csv"))).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["inserted"], json!([["members", 2]]), "{report}");

    // Everyone else uploads the file (admins): the same report; others are refused.
    let upload = |who: Who, name: &str, text: &str| {
        let site = &site;
        let form = reqwest::multipart::Form::new()
            .text("table", "members")
            .part("file", reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(name.to_string()));
        async move {
            let mut req = site
                .http
                .post(format!("{}/api/v1/loads/upload", site.base))
                .header("origin", &site.base)
                .multipart(form);
            if let Who::Cookie(c) = who {
                req = req.header("cookie", format!("mp_session={c}"));
            }
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let more = "member_id,joined_at,region\nup-1,2024-02-01,North\nup-2,not a date,South\n";
    let (status, report) = upload(admin.clone(), "more.csv", more).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["inserted"], json!([["members", 1]]), "{report}");
    assert_eq!(report["rejected"][0]["line"], 3, "{report}");
    assert_eq!(report["file"], "more.csv", "the report names the upload, not a server path: {report}");
    let long = format!("{}.csv", "很长的文件名".repeat(60));
    let (status, report) = upload(admin.clone(), &long, "member_id,joined_at\nup-3,2024-02-02\n").await;
    assert_eq!(status, 200, "a 1,000-byte name: {report}");
    assert_eq!(report["inserted"], json!([["members", 1]]), "{report}");
    assert_eq!(upload(oper.clone(), "more.csv", more).await.0, 403);
    assert_eq!(upload(exec.clone(), "more.csv", more).await.0, 403);
    // Nothing of the upload stays behind in the folder.
    let mut left: Vec<_> =
        std::fs::read_dir(&imports).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    left.sort();
    assert_eq!(left, ["link.csv", "members.csv", "passwd.csv"]);
}

/// Finding 4: one wrong try after a lock ended locked the account again; only real names
/// ever answered "locked"; behind a proxy every sign-in shared one rate bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_cannot_be_used_as_a_weapon_nor_tell_names_apart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    add_user(&data, "lou", "executive", "lou-password-1");
    let server = common::serve(&data, &["--trusted-proxy", "127.0.0.1"]);
    let site = Site::new(&server.base);
    let from = |ip: &'static str| [("x-forwarded-for", ip)];
    let reason = |location: &str| {
        location.split("error=").nth(1).map(|r| r.split('&').next().unwrap().to_string()).unwrap_or_default()
    };

    // Five wrong passwords from one address lock the name there, known or not, alike.
    // (Each name from its own address: one address may try ten sign-ins a minute.)
    for (name, ip) in [("lou", "10.0.0.1"), ("ghost", "10.0.0.5")] {
        for _ in 0..5 {
            let (_, location, _) = site.sign_in_with(name, "wrong-password", "/", &from(ip)).await;
            assert_eq!(reason(&location), "wrong", "{name}");
        }
        let (_, location, cookie) = site.sign_in_with(name, &format!("{name}-password-1"), "/", &from(ip)).await;
        assert_eq!((reason(&location), cookie.is_some()), ("locked".to_string(), false), "{name}");
    }
    // Another address is not locked out by those tries: lou signs in from there.
    let (_, location, cookie) = site.sign_in_with("lou", "lou-password-1", "/", &from("10.0.0.2")).await;
    assert!(cookie.is_some(), "{location}");

    // When the lock ends, the count starts again: one wrong try does not lock again.
    let ops = server::store::operational::connect(&format!("sqlite://{}", data.join("memberpulse.sqlite").display()))
        .await
        .unwrap();
    sqlx::query("UPDATE sign_in_failures SET locked_until = '2000-01-01T00:00:00Z'").execute(&ops).await.unwrap();
    let (_, location, _) = site.sign_in_with("lou", "wrong-password", "/", &from("10.0.0.1")).await;
    assert_eq!(reason(&location), "wrong");
    let (_, location, cookie) = site.sign_in_with("lou", "lou-password-1", "/", &from("10.0.0.1")).await;
    assert!(cookie.is_some(), "{location}");

    // The per-address rate limit counts the client a trusted proxy names.
    for i in 0..10 {
        let (_, location, _) = site.sign_in_with("ghost2", "wrong-password", "/", &from("10.0.0.3")).await;
        assert_ne!(reason(&location), "busy", "try {i}");
    }
    let (_, location, _) = site.sign_in_with("ghost3", "wrong-password", "/", &from("10.0.0.3")).await;
    assert_eq!(reason(&location), "busy");
    let (_, location, _) = site.sign_in_with("ghost3", "wrong-password", "/", &from("10.0.0.4")).await;
    assert_eq!(reason(&location), "wrong", "another client behind the proxy");
    drop(server);

    // Without --trusted-proxy the header is ignored: anyone could claim any address.
    let server = common::serve(&data, &[]);
    let site = Site::new(&server.base);
    for i in 0..10 {
        let ip = [
            "10.9.0.1",
            "10.9.0.2",
            "10.9.0.3",
            "10.9.0.4",
            "10.9.0.5",
            "10.9.0.6",
            "10.9.0.7",
            "10.9.0.8",
            "10.9.0.9",
            "10.9.0.10",
        ][i];
        let (_, location, _) = site.sign_in_with("ghost4", "wrong-password", "/", &[("x-forwarded-for", ip)]).await;
        assert_ne!(reason(&location), "busy", "try {i}");
    }
    let (_, location, _) =
        site.sign_in_with("ghost4", "wrong-password", "/", &[("x-forwarded-for", "10.9.0.11")]).await;
    assert_eq!(reason(&location), "busy");
}

/// Finding 5: `next=/<TAB>/evil.example` passed the local-path check and the browser went to
/// `//evil.example` after sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_returns_only_to_a_path_on_this_site() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    add_user(&data, "ada", "admin", "ada-password-1");
    let server = common::serve(&data, &[]);
    let site = Site::new(&server.base);
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/ok\u{7f}x",
        "\t/members",
    ] {
        let (status, location, cookie) = site.sign_in_with("ada", "ada-password-1", next, &[]).await;
        assert_eq!((status, location.as_str()), (303, "/"), "{next:?}");
        assert!(cookie.is_some());
    }
    let (_, location, _) = site.sign_in_with("ada", "ada-password-1", "/members?filters=tier:gold", &[]).await;
    assert_eq!(location, "/members?filters=tier:gold");
}

/// Finding 6: the holdout check refitted the model on every request; executives saw its
/// buckets however few members they held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holdout_check_is_computed_once_per_fit_and_days() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, site, [exec, oper, _], _) = generated_server(dir.path(), 600, &["--min-group-size", "1000"]).await;
    let (status, first, _) = site.ask(&oper, "GET", "/api/v1/model/holdout?days=60", None).await;
    assert_eq!(status, 200, "{first}");
    assert!(first["computed_at"].is_string(), "{first}");
    let (_, again, _) = site.ask(&oper, "GET", "/api/v1/model/holdout?days=60", None).await;
    assert_eq!(again, first, "the same answer, computed once");
    let (_, other, _) = site.ask(&oper, "GET", "/api/v1/model/holdout?days=90", None).await;
    assert_eq!(other["days"], 90);
    // Executives: every bucket here is under 1,000 members.
    let (_, seen, _) = site.ask(&exec, "GET", "/api/v1/model/holdout?days=60", None).await;
    for b in seen["buckets"].as_array().unwrap().iter().chain([&seen["total"]]) {
        assert!(b["members"].is_null() && b["actual"].is_null() && b["predicted"].is_null(), "{b}");
    }
    assert!(first["buckets"][0]["members"].as_i64().unwrap() > 0);
}

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
    server::alerts::rules::create(&ops, &r).await.unwrap();
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
