//! The real binary: `serve` on a free port, the JSON API, and `import` handing a file to
//! the running server instead of opening the DuckDB file behind its back.

use std::{process::Command, time::Duration};

use crate::common;

const BIN: &str = env!("CARGO_BIN_EXE_memberpulse");

fn start(data_dir: &std::path::Path) -> common::Server {
    common::serve(data_dir, &[])
}

fn get(url: &str) -> (u16, serde_json::Value) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(common::call("GET", url, None))
}

#[test]
fn import_hands_the_file_to_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start(&data);
    let base = server.base.clone();
    assert_eq!(get(&format!("{base}/api/v1/health")).1["status"], "ok");

    let csv = dir.path().join("orders.csv");
    std::fs::write(
        &csv,
        "order_id,ordered_at,net_amount,member_id\no1,2024-03-01 10:00:00,10.00,m1\no2,2024-03-02 10:00:00,20.00,m1\no3,bad,1.00,m1\n",
    )
    .unwrap();
    let out =
        Command::new(BIN).args(["import", "--table", "orders", "--data-dir"]).arg(&data).arg(&csv).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("handed"), "{stderr}");
    assert!(stdout.contains("orders: 2 inserted"), "{stdout}");
    assert!(stdout.contains("orders.csv:4: ordered_at = \"bad\""), "{stdout}");

    // The server sees the rows at once, and recorded the load.
    let (status, overview) = get(&format!("{base}/api/v1/overview?as_of=2024-03-02&window=7d"));
    assert_eq!(status, 200);
    let repurchase = overview["kpis"].as_array().unwrap().iter().find(|k| k["key"] == "repurchase_rate").unwrap();
    assert_eq!(repurchase["current"]["numerator"], 1);
    assert_eq!(repurchase["current"]["denominator"], 1);
    let (_, loads) = get(&format!("{base}/api/v1/loads"));
    assert_eq!(loads[0]["rows_inserted"], 2);
    assert_eq!(loads[0]["rows_rejected"], 1);

    // Breakdowns use the same catalogue: m1 has no member record, so no region.
    let (status, b) =
        get(&format!("{base}/api/v1/breakdown?metric=repurchase_rate&dimension=region&as_of=2024-03-02&window=7d"));
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["rows"][0]["value"], "(none)");
    assert_eq!(b["rows"][0]["current"]["numerator"], 1);
    assert_eq!(b["total"]["current"]["denominator"], 1);
    let (status, b) = get(&format!("{base}/api/v1/breakdown?metric=happiness&dimension=region"));
    assert_eq!((status, b["param"].as_str()), (400, Some("metric")));
    let (status, b) = get(&format!("{base}/api/v1/breakdown?metric=aov&dimension=region&filters=planet:Mars"));
    assert_eq!((status, b["param"].as_str()), (400, Some("filters")));
    let (_, catalogue) = get(&format!("{base}/api/v1/metrics"));
    assert_eq!(catalogue["metrics"].as_array().unwrap().len(), app::model::Metric::ALL.len());

    // The member behind the numbers, and a 404 for one who does not exist.
    let (status, page) = get(&format!("{base}/api/v1/members?sort=-purchases"));
    assert_eq!((status, page["total"].as_i64()), (200, Some(1)));
    assert_eq!(page["rows"][0]["purchases"], 2);
    let (status, m) = get(&format!("{base}/api/v1/members/m1"));
    assert_eq!((status, m["orders"].as_array().map(Vec::len)), (200, Some(2)));
    let (status, _) = get(&format!("{base}/api/v1/members/nobody"));
    assert_eq!(status, 404);

    // The load asked for a refit of the model, which two orders cannot support: the
    // model's state says why, and asking for a fit is a 422 with the reason.
    let mut model = serde_json::Value::Null;
    for _ in 0..100 {
        model = get(&format!("{base}/api/v1/model")).1;
        if model["last_error"].is_string() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(model["last_error"].as_str().unwrap().contains("too little data"), "{model}");
    assert_eq!((model["scores_as_of"].clone(), model["scored_members"].as_i64()), (serde_json::Value::Null, Some(0)));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (status, body) =
        rt.block_on(common::call("POST", &format!("{base}/api/v1/model/fit"), Some(serde_json::json!({}))));
    assert_eq!(status, 422, "{body}");
    assert!(body["message"].as_str().unwrap().contains("too little data for BG/NBD"), "{body}");

    // The API describes itself.
    let (status, doc) = get(&format!("{base}/api/v1/openapi.json"));
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/overview"]["get"].is_object());
    // Its enums are spelled as the JSON is: by the catalogue's keys.
    let spelled = |name: &str| -> Vec<String> {
        let values = doc["components"]["schemas"][name]["enum"].as_array().unwrap_or_else(|| panic!("{name}: {doc}"));
        values.iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(spelled("Role"), app::model::Role::ALL.map(|r| r.key().to_string()));
    assert_eq!(spelled("Metric"), app::model::Metric::ALL.map(|m| m.key().to_string()));
    assert_eq!(spelled("Dimension"), app::model::Dimension::ALL.map(|d| d.key().to_string()));

    // A bad parameter is a 400 that names it.
    let (status, body) = get(&format!("{base}/api/v1/overview?window=forever"));
    assert_eq!(status, 400);
    assert_eq!(body["param"], "window");

    // Without the data directory's token, the server takes no load.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{base}/api/v1/loads"))
            .json(&serde_json::json!({ "path": csv, "mapping": { "kind": "orders" } }))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    assert_eq!(status, 401);

    drop(server);
    std::thread::sleep(Duration::from_millis(200));
}

/// Tier changes sent through the ingest API are not folded into the summary, yet they
/// change the figures at once: the shared answers and the member facts follow them.
#[test]
fn ingested_tier_changes_show_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(&dir.path().join("data"));
    let base = server.base.clone();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let post = |table: &str, rows: serde_json::Value| {
        let (status, report) = rt.block_on(common::call("POST", &format!("{base}/api/v1/ingest/{table}"), Some(rows)));
        assert_eq!(status, 200, "{report}");
        assert_eq!(report["inserted"], 1, "{report}");
    };
    post("members", serde_json::json!([{ "member_id": "m1", "joined_at": "2024-01-01T00:00:00", "tier": "silver" }]));
    post(
        "orders",
        serde_json::json!([{ "order_id": "o1", "ordered_at": "2024-03-01T10:00:00", "net_amount": "10.00", "member_id": "m1" }]),
    );
    let tiers = || -> Vec<String> {
        let (status, b) = get(&format!("{base}/api/v1/breakdown?metric=members&dimension=tier"));
        assert_eq!(status, 200, "{b}");
        // The members by tier at T (the comparison window's groups may differ).
        b["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["current"]["numerator"].as_i64() > Some(0))
            .map(|r| r["value"].as_str().unwrap().to_string())
            .collect()
    };
    let until = |want: &str| {
        for _ in 0..50 {
            if tiers() == [want] {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the tier breakdown stayed {:?}, not [{want}]", tiers());
    };
    until("silver");
    post(
        "tier_changes",
        serde_json::json!([{ "member_id": "m1", "changed_at": "2024-02-01T00:00:00", "tier": "gold" }]),
    );
    until("gold");
}
