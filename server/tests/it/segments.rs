//! Saved segments and the RFM rule table through the real server's JSON API: validation
//! naming the field, 404/409, and a segment giving the same numbers as its filters.

use std::process::Command;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_memberpulse");

use crate::common;

use crate::common::call;

/// Serves a generated 1,500-member retailer on a free port.
fn start(data_dir: &std::path::Path) -> (common::Server, String) {
    let server = common::serve(data_dir, &["--demo-members", "1500"]);
    let api = format!("{}/api/v1", server.base);
    (server, api)
}

/// (numerator, denominator) of every KPI, current then comparison.
fn numbers(overview: &Value) -> Vec<(i64, i64)> {
    overview["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|k| {
            ["current", "comparison"]
                .map(|w| (k[w]["numerator"].as_i64().unwrap(), k[w]["denominator"].as_i64().unwrap()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_segments_and_rfm_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, api) = start(&dir.path().join("data"));

    // Create, with validation first.
    let good = json!({"key": "east-gold", "name_zh": "华东金卡", "name_en": "East gold",
                      "filters": "region:华东;tier:gold"});
    let mut bad = good.clone();
    bad["filters"] = json!("colour:red");
    let (status, err) = call("POST", &format!("{api}/segments"), Some(bad)).await;
    assert_eq!((status, err["param"].as_str()), (400, Some("filters")), "{err}");
    assert!(err["message"].as_str().unwrap().contains("colour"), "{err}");
    let mut bad = good.clone();
    bad["key"] = json!("East Gold");
    let (status, err) = call("POST", &format!("{api}/segments"), Some(bad)).await;
    assert_eq!((status, err["param"].as_str()), (400, Some("key")));
    let (status, saved) = call("POST", &format!("{api}/segments"), Some(good.clone())).await;
    assert_eq!(status, 201, "{saved}");
    assert_eq!(saved, good);
    let (status, _) = call("POST", &format!("{api}/segments"), Some(good.clone())).await;
    assert_eq!(status, 409);
    let (_, list) = call("GET", &format!("{api}/segments"), None).await;
    assert_eq!(list, json!([good]));

    // A segment counts exactly the members its filters do: overview, breakdown, list.
    let q = "as_of=2026-06-30&window=90d";
    let (s1, by_segment) = call("GET", &format!("{api}/overview?{q}&segment=east-gold"), None).await;
    let (s2, by_filters) =
        call("GET", &format!("{api}/overview?{q}&filters=region:%E5%8D%8E%E4%B8%9C;tier:gold"), None).await;
    let (_, everyone) = call("GET", &format!("{api}/overview?{q}"), None).await;
    assert_eq!((s1, s2), (200, 200), "{by_segment}");
    assert_eq!(numbers(&by_segment), numbers(&by_filters));
    assert_ne!(numbers(&by_segment), numbers(&everyone));
    assert_eq!(by_segment["segment"], "east-gold");
    let members = |k: &Value| {
        k["kpis"].as_array().unwrap().iter().find(|k| k["key"] == "members").unwrap()["current"]["numerator"]
            .as_i64()
            .unwrap()
    };
    let segment_size = members(&by_segment);
    assert!(segment_size > 0 && segment_size < members(&everyone));
    let (_, page) = call("GET", &format!("{api}/members?as_of=2026-06-30&segment=east-gold&page_size=500"), None).await;
    // The list also holds members with orders but no member row; the segment's regions
    // and tiers come from member rows, so every listed member is one that joined.
    assert_eq!(page["total"].as_i64().unwrap(), segment_size);
    for row in page["rows"].as_array().unwrap() {
        assert_eq!((row["region"].as_str(), row["tier"].as_str()), (Some("华东"), Some("gold")));
    }
    // A segment and a filter on the same dimension intersect.
    let (_, none) = call("GET", &format!("{api}/members?segment=east-gold&filters=tier:silver"), None).await;
    assert_eq!(none["total"], 0);
    let (status, err) = call("GET", &format!("{api}/overview?segment=nope"), None).await;
    assert_eq!((status, err["param"].as_str()), (400, Some("segment")));

    // Update and delete.
    let mut changed = good.clone();
    changed["filters"] = json!("region:华东");
    let (status, updated) = call("PUT", &format!("{api}/segments/east-gold"), Some(changed.clone())).await;
    assert_eq!((status, updated), (200, changed));
    let (_, wider) = call("GET", &format!("{api}/overview?{q}&segment=east-gold"), None).await;
    assert!(members(&wider) > segment_size);
    assert_eq!(call("DELETE", &format!("{api}/segments/east-gold"), None).await.0, 204);
    assert_eq!(call("DELETE", &format!("{api}/segments/east-gold"), None).await.0, 404);
    assert_eq!(call("GET", &format!("{api}/segments/east-gold"), None).await.0, 404);

    // A segment may bound member measures too; it then equals the same filter text.
    let spenders = json!({"key": "big-spenders", "name_zh": "高消费", "name_en": "Big spenders",
                          "filters": "revenue:2000..;days_since_purchase:..90"});
    assert_eq!(call("POST", &format!("{api}/segments"), Some(spenders)).await.0, 201);
    let (_, by_segment) = call("GET", &format!("{api}/overview?{q}&segment=big-spenders"), None).await;
    let (_, by_filters) =
        call("GET", &format!("{api}/overview?{q}&filters=revenue:2000..;days_since_purchase:..90"), None).await;
    assert_eq!(numbers(&by_segment), numbers(&by_filters));
    assert!(members(&by_segment) > 0 && members(&by_segment) < members(&everyone));
    assert_eq!(by_segment["ranges"][0]["min"], 200_000);
    let (status, err) = call("GET", &format!("{api}/overview?filters=revenue:9..1"), None).await;
    assert_eq!((status, err["param"].as_str()), (400, Some("filters")));

    // The RFM rule table: read, reject a bad range naming it, replace.
    let (_, rules) = call("GET", &format!("{api}/rfm-rules"), None).await;
    assert_eq!(rules.as_array().unwrap().len(), 6);
    let mut bad = rules.clone();
    bad[1]["r"] = json!([4, 6]);
    let (status, err) = call("PUT", &format!("{api}/rfm-rules"), Some(bad)).await;
    assert_eq!((status, err["param"].as_str()), (400, Some("rules[1].r")), "{err}");
    let (_, same) = call("GET", &format!("{api}/rfm-rules"), None).await;
    assert_eq!(same, rules, "a rejected table leaves the rules as they were");
    // One rule that takes every scored member: the segment list is then everyone scored.
    let all = json!([{"priority": 1, "key": "everyone", "name_zh": "全部", "name_en": "Everyone",
                      "r": [1, 5], "f": [1, 5], "m": [1, 5]}]);
    let (status, replaced) = call("PUT", &format!("{api}/rfm-rules"), Some(all.clone())).await;
    assert_eq!((status, replaced), (200, all));
    let (_, scored) =
        call("GET", &format!("{api}/breakdown?metric=members&dimension=rfm_segment&as_of=2026-06-30"), None).await;
    let keys: Vec<&str> = scored["rows"].as_array().unwrap().iter().map(|r| r["value"].as_str().unwrap()).collect();
    assert_eq!(keys, ["everyone", "no_purchase"], "{scored}");
}

/// The CLI: save a segment, then `metrics --segment` equals `metrics --filters`.
#[test]
fn cli_metrics_for_a_saved_segment() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).arg("--data-dir").arg(dir.path()).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{args:?}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
        stdout
    };
    run(&["generate", "--members", "400"]);
    let saved = run(&[
        "segments",
        "save",
        "app-joiners",
        "--filters",
        "join_channel:app",
        "--name-zh",
        "App 注册",
        "--name-en",
        "App joiners",
    ]);
    assert!(saved.contains("saved segment app-joiners"), "{saved}");
    assert!(run(&["segments"]).contains("join_channel:app"));
    let json = |args: &[&str]| -> Value { serde_json::from_str(&run(args)).unwrap() };
    let by_segment = json(&["metrics", "--segment", "app-joiners", "--json"]);
    let by_filters = json(&["metrics", "--filters", "join_channel:app", "--json"]);
    assert_eq!(numbers(&by_segment), numbers(&by_filters));
    assert_ne!(numbers(&by_segment), numbers(&json(&["metrics", "--json"])));
    run(&["segments", "delete", "app-joiners"]);
    assert!(!run(&["segments"]).contains("app-joiners"));
}
