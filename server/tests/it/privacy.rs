//! The members' rights (issue 21) on the real server: consent lands with members and
//! changes as events, filters lists and outreach exports; the access document lists what
//! the fixture holds; an erasure leaves every figure as it was and no name or phone in
//! any file of the data directory.

use std::process::Command;

use serde_json::{Value, json};

use crate::common::{self, Site, Who};

const BIN: &str = env!("CARGO_BIN_EXE_memberpulse");

/// Five members (E's consent is not a yes or a no), their orders and points.
const MEMBERS: &str = "member_id,joined_at,region,name,phone,marketing_consent,consent_at,consent_channel
A,2023-01-10,East,欧阳娜娜,13812345678,true,2023-01-10 09:00:00,store
B,2023-02-01,East,李四,13900001111,no,,
C,2023-03-01,West,王五,13700002222,,,
D,2023-04-01,West,赵六,13600003333,是,,app
E,2023-05-01,West,钱七,13500004444,maybe,,
";

const ORDERS: &str = "order_id,ordered_at,net_amount,member_id,channel
a1,2024-03-05 10:00:00,120.50,A,store
a2,2024-03-20 10:00:00,80.25,A,app
b1,2024-03-10 10:00:00,40.00,B,web
c1,2024-02-10 10:00:00,60.00,C,store
d1,2024-03-30 10:00:00,99.99,D,store
d2,2024-01-30 10:00:00,10.01,D,store
";

const POINTS: &str = "entry_id,member_id,occurred_at,kind,points
p1,A,2024-03-05 10:00:00,earn,120
p2,A,2024-03-21 10:00:00,redeem,50
p3,D,2024-03-30 10:00:00,earn,99
";

fn import(data: &std::path::Path, file: &std::path::Path, table: &str) -> String {
    let out = Command::new(BIN).args(["import", "--table", table, "--data-dir"]).arg(data).arg(file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

const INGEST_TOKEN: &str = "privacy-ingest-token";

/// A served store with the fixture loaded, and its admin's, operator's and executive's
/// sessions.
struct Fixture {
    dir: tempfile::TempDir,
    server: common::Server,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let server = common::serve(&data, &["--ingest-token", INGEST_TOKEN]);
        for (name, text) in [("members", MEMBERS), ("orders", ORDERS), ("points", POINTS)] {
            let file = dir.path().join(format!("{name}.csv"));
            std::fs::write(&file, text).unwrap();
            let report = import(&data, &file, name);
            if name == "members" {
                assert!(report.contains("members: 4 inserted"), "{report}");
                assert!(report.contains("members.csv:6: marketing_consent = \"maybe\""), "{report}");
            }
        }
        for role in ["admin", "operator", "executive"] {
            common::add_user(&data, role, role, &format!("{role}-password-1"));
        }
        Fixture { dir, server }
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["rows"].as_array().unwrap().iter().map(|r| r["member_id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_is_kept_as_history_and_filters_lists_and_outreach() {
    let f = Fixture::new();
    let site = Site::new(&f.server.base);
    let operator = site.session("operator").await;
    let executive = site.session("executive").await;
    let get = |path: &str| {
        let (site, who, path) = (&site, operator.clone(), path.to_string());
        async move { site.ask(&who, "GET", &path, None).await }
    };

    // As loaded: A yes (at the time given), B no, C never asked, D yes (是, as of joining).
    let (_, a, _) = get("/api/v1/members/A").await;
    assert_eq!(a["member"]["marketing_consent"], true);
    assert_eq!(a["consent_history"].as_array().unwrap().len(), 1);
    assert_eq!(a["consent_history"][0]["given_at"], "2023-01-10 09:00:00");
    assert_eq!(a["consent_history"][0]["channel"], "store");
    let (_, d, _) = get("/api/v1/members/D").await;
    assert_eq!(
        (d["member"]["marketing_consent"].clone(), d["consent_history"][0]["given_at"].clone()),
        (json!(true), json!("2023-04-01 00:00:00"))
    );
    let (_, given, _) = get("/api/v1/members?consent=given&sort=member_id").await;
    assert_eq!(ids(&given), ["A", "D"]);
    let (_, not_given, _) = get("/api/v1/members?consent=not_given&sort=member_id").await;
    assert_eq!(ids(&not_given), ["B", "C"]);
    assert_eq!(not_given["rows"][1]["marketing_consent"], Value::Null);
    let (status, bad, _) = get("/api/v1/members?consent=perhaps").await;
    assert_eq!((status, bad["param"].as_str()), (400, Some("consent")));

    // The same file again records nothing.
    let file = f.dir.path().join("members.csv");
    let report = import(&f.data(), &file, "members");
    assert!(report.contains("members: 0 inserted"), "{report}");
    let (_, a, _) = get("/api/v1/members/A").await;
    assert_eq!(a["consent_history"].as_array().unwrap().len(), 1);

    // A withdraws through the API: a new event, the old one kept; the same call again
    // changes nothing. Executives may not record consent; an unknown member is a 404.
    let withdraw = json!({ "consent": false, "given_at": "2024-04-02T10:00:00", "channel": "app" });
    let (status, body, _) = site.ask(&operator, "POST", "/api/v1/members/A/consent", Some(&withdraw)).await;
    assert_eq!((status, body["recorded"].clone()), (200, json!(true)), "{body}");
    let (_, body, _) = site.ask(&operator, "POST", "/api/v1/members/A/consent", Some(&withdraw)).await;
    assert_eq!(body["recorded"], false);
    let (status, _, _) = site.ask(&executive, "POST", "/api/v1/members/A/consent", Some(&withdraw)).await;
    assert_eq!(status, 403);
    let (status, _, _) = site.ask(&operator, "POST", "/api/v1/members/Z/consent", Some(&withdraw)).await;
    assert_eq!(status, 404);
    let bad_time = json!({ "consent": true, "given_at": "yesterday" });
    let (status, body, _) = site.ask(&operator, "POST", "/api/v1/members/A/consent", Some(&bad_time)).await;
    assert_eq!((status, body["param"].as_str()), (400, Some("given_at")));
    let (_, a, _) = get("/api/v1/members/A").await;
    let history: Vec<bool> =
        a["consent_history"].as_array().unwrap().iter().map(|c| c["consent"].as_bool().unwrap()).collect();
    assert_eq!(history, [false, true]);
    assert_eq!(a["consent_history"][0]["source"], "api");
    assert_eq!(a["member"]["marketing_consent"], false);

    // An export for outreach holds D only and says it left three out.
    let (status, csv, headers) = get("/api/v1/members.csv?purpose=outreach").await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-memberpulse-left-out"], "3");
    let csv = csv.as_str().unwrap().trim_start_matches('\u{feff}').to_string();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{csv}");
    assert!(rows[0].starts_with("D,赵*,136****3333,") && rows[0].ends_with(",true"), "{csv}");
    let (_, all, headers) = get("/api/v1/members.csv").await;
    assert!(headers.get("x-memberpulse-left-out").is_none());
    assert_eq!(all.as_str().unwrap().lines().count(), 5);
    let (status, body, _) = get("/api/v1/members.csv?purpose=outreach&consent=not_given").await;
    assert_eq!((status, body["param"].as_str()), (400, Some("consent")));
    let (status, _, _) = site.ask(&executive, "GET", "/api/v1/members.csv?purpose=outreach", None).await;
    assert_eq!(status, 403);

    // The CLI asks the running server for D's access document.
    let out =
        Command::new(BIN).args(["privacy", "access", "--member", "D", "--data-dir"]).arg(f.data()).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{out:?}"));
    assert_eq!((doc["member_id"].as_str(), doc["profile"]["member"]["name"].as_str()), (Some("D"), Some("赵六")));
}

/// Every headline figure over two windows and a breakdown, as JSON.
async fn figures(site: &Site, who: &Who) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v1/overview?as_of=2024-03-31&window=30d",
        "/api/v1/overview?as_of=2024-03-31&window=90d",
        "/api/v1/breakdown?metric=repurchase_rate&dimension=region&as_of=2024-03-31&window=90d",
        "/api/v1/breakdown?metric=points_usage_rate&dimension=region&as_of=2024-03-31&window=30d",
    ] {
        let (status, body, _) = site.ask(who, "GET", path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        out.push(json!([body["kpis"], body["rows"], body["total"]]));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_lists_what_is_held_and_erasure_changes_no_figure_and_leaves_no_trace() {
    let f = Fixture::new();
    let site = Site::new(&f.server.base);
    let admin = site.session("admin").await;
    let operator = site.session("operator").await;
    let executive = site.session("executive").await;
    let (_, _, _) = site.ask(&operator, "GET", "/api/v1/members/A", None).await;

    // The access document, found by phone: what the fixture holds on A.
    let by_phone = json!({ "phone": "138 1234 5678" });
    for who in [&operator, &executive] {
        let (status, _, _) = site.ask(who, "POST", "/api/v1/privacy/access", Some(&by_phone)).await;
        assert_eq!(status, 403);
    }
    let (status, doc, _) = site.ask(&admin, "POST", "/api/v1/privacy/access", Some(&by_phone)).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["member_id"], "A");
    assert_eq!(doc["profile"]["member"]["name"], "欧阳娜娜");
    assert_eq!(doc["profile"]["member"]["phone"], "13812345678");
    let orders: Vec<&str> =
        doc["profile"]["orders"].as_array().unwrap().iter().map(|o| o["order_id"].as_str().unwrap()).collect();
    assert_eq!(orders, ["a2", "a1"]);
    assert_eq!(doc["profile"]["orders"][0]["net_amount_cents"], 8025);
    assert_eq!(doc["profile"]["points"].as_array().unwrap().len(), 2);
    assert_eq!(doc["profile"]["consent_history"].as_array().unwrap().len(), 1);
    assert!(doc["audit"].as_array().unwrap().iter().any(|a| a["action"] == "member.view"), "{doc}");
    let html = json!({ "member_id": "A", "format": "html" });
    let (status, page, headers) = site.ask(&admin, "POST", "/api/v1/privacy/access", Some(&html)).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.as_str().unwrap().contains("欧阳娜娜") && page.as_str().unwrap().contains("a2"));
    let (status, _, _) = site.ask(&admin, "POST", "/api/v1/privacy/access", Some(&json!({}))).await;
    assert_eq!(status, 400);
    let (status, _, _) = site.ask(&admin, "POST", "/api/v1/privacy/access", Some(&json!({ "phone": "1" }))).await;
    assert_eq!(status, 404);

    let before = figures(&site, &executive).await;
    let name = "欧阳娜娜".as_bytes();
    // Sealed at rest: even before the erasure, no file holds the name or the phone.
    assert_eq!(common::files_holding(&f.data(), name), Vec::<String>::new());
    assert_eq!(common::files_holding(&f.data(), b"13812345678"), Vec::<String>::new());

    // Erasure: operators may not; a reason is needed; then A is a pseudonym.
    let erase = json!({ "member_id": "A", "reason": "DSR-2024-001" });
    let (status, _, _) = site.ask(&operator, "POST", "/api/v1/privacy/erase", Some(&erase)).await;
    assert_eq!(status, 403);
    let (status, body, _) = site.ask(&admin, "POST", "/api/v1/privacy/erase", Some(&json!({ "member_id": "A" }))).await;
    assert_eq!((status, body["param"].as_str()), (400, Some("reason")));
    let (status, report, _) = site.ask(&admin, "POST", "/api/v1/privacy/erase", Some(&erase)).await;
    assert_eq!(status, 200, "{report}");
    let pseudonym = report["pseudonym"].as_str().unwrap().to_string();
    assert!(pseudonym.starts_with("erased-"));
    let changed: Vec<(String, u64)> = serde_json::from_value(report["rows"].clone()).unwrap();
    assert!(changed.contains(&("orders".into(), 2)) && changed.contains(&("points".into(), 2)), "{report}");
    assert!(report["operational_rows"].as_u64().unwrap() >= 1, "{report}");

    // Every figure as before; A is gone, the pseudonym has no name or phone.
    assert_eq!(figures(&site, &executive).await, before);
    let (status, _, _) = site.ask(&operator, "GET", "/api/v1/members/A", None).await;
    assert_eq!(status, 404);
    let (status, p, _) = site.ask(&admin, "GET", &format!("/api/v1/members/{pseudonym}"), None).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!((p["member"]["name"].clone(), p["member"]["phone"].clone()), (Value::Null, Value::Null));
    assert_eq!(p["member"]["revenue_cents"], 20075);
    let (_, csv, _) = site.ask(&admin, "GET", "/api/v1/members.csv", None).await;
    let csv = csv.as_str().unwrap();
    assert!(!csv.contains("欧阳") && !csv.contains("5678") && csv.contains(&pseudonym), "{csv}");
    let (status, _, _) = site.ask(&admin, "POST", "/api/v1/privacy/access", Some(&by_phone)).await;
    assert_eq!(status, 404);

    // No file of the data directory holds the name, the phone or the old id in the
    // audit log; the erasure is audited under the pseudonym.
    assert_eq!(common::files_holding(&f.data(), name), Vec::<String>::new());
    assert_eq!(common::files_holding(&f.data(), b"13812345678"), Vec::<String>::new());
    // (A look-up of A after the erasure is audited as asked.)
    let (_, audit, _) = site.ask(&admin, "GET", "/api/v1/audit", None).await;
    let rows = audit.as_array().unwrap();
    let erased_at = rows.iter().find(|r| r["action"] == "privacy.erase").unwrap();
    assert_eq!(erased_at["target"], pseudonym.as_str());
    let earlier: Vec<&Value> = rows.iter().filter(|r| r["id"].as_i64() < erased_at["id"].as_i64()).collect();
    assert!(earlier.iter().any(|r| r["action"] == "member.view" && r["target"] == pseudonym.as_str()), "{audit}");
    assert!(earlier.iter().all(|r| r["target"] != "A"), "{audit}");

    // The server goes on: an order for D lands and shows.
    let more = f.dir.path().join("more.csv");
    std::fs::write(&more, "order_id,ordered_at,net_amount,member_id\nd3,2024-03-31 12:00:00,5.00,D\n").unwrap();
    assert!(import(&f.data(), &more, "orders").contains("orders: 1 inserted"));
    let (_, d, _) = site.ask(&admin, "GET", "/api/v1/members/D", None).await;
    assert_eq!(d["member"]["purchases"], 3);

    // The erased person does not come back: rows carrying A's id or phone again are
    // refused by line (a file) or by index (the ingest API), the others land.
    let again = f.dir.path().join("again.csv");
    std::fs::write(
        &again,
        "member_id,joined_at,name,phone\nA,2024-04-01 00:00:00,欧阳娜娜,13900000000\n\
         Z,2024-04-01 00:00:00,欧阳娜娜,138 1234 5678\nY,2024-04-01 00:00:00,杨,13900009999\n",
    )
    .unwrap();
    let out = import(&f.data(), &again, "members");
    assert!(out.contains("members: 1 inserted"), "{out}");
    assert!(out.contains("again.csv:2: member_id") && out.contains("again.csv:3: phone"), "{out}");
    assert!(out.contains("erased at their request"), "{out}");
    let orders = json!([
        { "order_id": "a9", "ordered_at": "2024-04-01T10:00:00", "net_amount": "9.00", "member_id": "A" },
        { "order_id": "d9", "ordered_at": "2024-04-01T10:00:00", "net_amount": "9.00", "member_id": "D" }
    ]);
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/ingest/orders", f.server.base))
        .bearer_auth(INGEST_TOKEN)
        .json(&orders)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let landed: Value = answer.json().await.unwrap();
    assert_eq!(landed["inserted"], 1, "{landed}");
    assert_eq!(
        (landed["rejected"][0]["index"].as_u64(), landed["rejected"][0]["field"].as_str()),
        (Some(0), Some("member_id"))
    );
    let (status, _, _) = site.ask(&admin, "GET", "/api/v1/members/A", None).await;
    assert_eq!(status, 404);
    assert_eq!(common::files_holding(&f.data(), name), Vec::<String>::new());
}

/// Retention: a preview names the members with no purchase and no consent activity for
/// the period (by hand: A, C and D; B's consent changed today, E's row was refused at
/// load); a server started with
/// that period strips exactly those of name and phone at once, audited, and no figure
/// moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_strips_exactly_the_members_it_previewed() {
    let Fixture { dir, server } = Fixture::new();
    let data = dir.path().join("data");
    let site = Site::new(&server.base);
    let (admin, operator, executive) =
        (site.session("admin").await, site.session("operator").await, site.session("executive").await);
    let change = json!({ "consent": true, "channel": "app" });
    let (status, _, _) = site.ask(&operator, "POST", "/api/v1/members/B/consent", Some(&change)).await;
    assert_eq!(status, 200);
    for (who, status) in [(&operator, 403), (&executive, 403)] {
        assert_eq!(site.ask(who, "GET", "/api/v1/privacy/retention?days=365", None).await.0, status);
    }
    let (status, body, _) = site.ask(&admin, "GET", "/api/v1/privacy/retention", None).await;
    assert_eq!((status, body["param"].as_str()), (400, Some("days")), "no period: say one");
    for bad in ["0", "36501", "x"] {
        let (status, _, _) = site.ask(&admin, "GET", &format!("/api/v1/privacy/retention?days={bad}"), None).await;
        assert_eq!(status, 400, "{bad}");
    }
    let (status, preview, _) = site.ask(&admin, "GET", "/api/v1/privacy/retention?days=365", None).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!((preview["members"].as_i64(), preview["configured_days"].clone()), (Some(3), Value::Null));
    assert_eq!(preview["first"], json!(["A", "C", "D"]));
    let before = figures(&site, &executive).await;
    drop(server);

    let server = common::serve(&data, &["--personal-data-retention-days", "365"]);
    let site = Site::new(&server.base);
    let (admin, executive) = (site.session("admin").await, site.session("executive").await);
    let mut audit = Value::Null;
    for _ in 0..100 {
        audit = site.ask(&admin, "GET", "/api/v1/audit?action=privacy.", None).await.1;
        if audit.as_array().is_some_and(|rows| rows.iter().any(|r| r["action"] == "privacy.retention")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let run = audit.as_array().unwrap().iter().find(|r| r["action"] == "privacy.retention").expect("the job ran");
    assert_eq!((run["target"].as_str(), run["actor"].as_str()), (Some("3 members"), Some("system")), "{run}");
    for (id, kept) in [("A", false), ("B", true), ("C", false), ("D", false)] {
        let (_, p, _) = site.ask(&admin, "GET", &format!("/api/v1/members/{id}"), None).await;
        assert_eq!(p["member"]["name"].is_string(), kept, "{id}: {p}");
        assert_eq!(p["member"]["phone"].is_string(), kept, "{id}: {p}");
    }
    let (_, after, _) = site.ask(&admin, "GET", "/api/v1/privacy/retention", None).await;
    assert_eq!((after["members"].as_i64(), after["configured_days"].as_u64()), (Some(0), Some(365)));
    assert_eq!(figures(&site, &executive).await, before);
}
