//! The security review's findings (issue 18), each against the real server as an attacker
//! would try it: what executives can derive, file reads, lockout, redirects, heavy reads,
//! webhooks, dropped order lines, CSV formulas, dates, masks and the local secret.
//! Findings 1–2 here; 3–6 (inputs the server takes) in `inputs.rs`, 7–10 (what leaves it)
//! in `outputs.rs`.

mod inputs;
mod outputs;

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
    server::derive::open::seal_plain(&conn).unwrap();
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
pub(super) async fn generated_server(
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
pub(super) fn local(data: &Path) -> Who {
    Who::Token(server::http::ServerInfo::read(data).unwrap().token)
}

pub(super) fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

pub(super) const TWO_MEMBERS: &str = "member_id,joined_at,region\nfile-1,2024-01-01,North\nfile-2,2024-01-02,South\n";
