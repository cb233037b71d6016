//! The predictive model through the real server: the fit that follows start-up (and every
//! load), `GET /api/v1/model`, `POST /api/v1/model/fit`, and the predicted metrics it
//! feeds in the overview and the member 360.

use crate::common;

use serde_json::{Value, json};

use crate::common::call;

#[tokio::test(flavor = "multi_thread")]
async fn the_server_fits_on_start_and_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::serve(&dir.path().join("data"), &["--demo-members", "2000"]);
    let api = format!("{}/api/v1", server.base);

    // The demo's scores are missing on first start: a background fit follows.
    let mut model = Value::Null;
    for _ in 0..600 {
        model = call("GET", &format!("{api}/model"), None).await.1;
        if model["scores_as_of"].is_string() && model["fitting"] == false {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let latest = call("GET", &format!("{api}/overview"), None).await.1["as_of"].clone();
    assert_eq!(model["scores_as_of"], latest, "{model}");
    assert_eq!(model["last_error"], Value::Null);
    let fits = model["fits"].as_array().unwrap();
    assert_eq!(fits.len(), 2, "{model}");
    assert_eq!(fits[0]["model"], "bgnbd");
    assert_eq!(fits[0]["names"], json!(["r", "alpha", "a", "b"]));
    assert_eq!(fits[1]["names"], json!(["p", "q", "gamma"]));
    for f in fits {
        for (p, se) in f["params"].as_array().unwrap().iter().zip(f["std_errors"].as_array().unwrap()) {
            assert!(p.as_f64().unwrap() > 0.0 && se.as_f64().unwrap() > 0.0, "{f}");
        }
    }
    let scored = model["scored_members"].as_i64().unwrap();
    assert_eq!(fits[0]["members"].as_i64(), Some(scored));

    // The overview at the fit's T carries the predicted metrics over every scored member.
    let overview = call("GET", &format!("{api}/overview"), None).await.1;
    let kpi = |key: &str| overview["kpis"].as_array().unwrap().iter().find(|k| k["key"] == key).unwrap().clone();
    assert_eq!(kpi("predicted_ltv")["current"]["denominator"].as_i64(), Some(scored));
    assert!(kpi("predicted_ltv")["current"]["value"].as_f64().unwrap() > 0.0);
    assert!(kpi("high_value_at_risk")["current"]["value"].as_f64().is_some());
    assert_eq!(kpi("high_value_at_risk")["comparison"]["value"], Value::Null);
    // The members behind the at-risk number.
    let page =
        call("GET", &format!("{api}/members?filters=churn_risk:high_value_at_risk&sort=-revenue_12m"), None).await.1;
    assert_eq!(page["total"], kpi("high_value_at_risk")["current"]["numerator"], "{page}");
    if let Some(first) = page["rows"].as_array().unwrap().first() {
        assert!(first["p_alive"].as_f64().unwrap() < 0.5 && first["high_value"] == true, "{first}");
        let m = call("GET", &format!("{api}/members/{}", first["member_id"].as_str().unwrap()), None).await.1;
        assert_eq!(m["prediction"]["p_alive"], first["p_alive"]);
    }
    // The shipped at-risk alert counts everyone behind it but names only members who gave
    // marketing consent (the demo gives about two in three).
    let given = call(
        "GET",
        &format!("{api}/members?filters=churn_risk:high_value_at_risk&sort=-revenue_12m&consent=given&page_size=500"),
        None,
    )
    .await
    .1;
    assert!(given["total"].as_i64() < page["total"].as_i64(), "{given}");
    let (status, _) = call("POST", &format!("{api}/alerts/evaluate"), None).await;
    assert_eq!(status, 200);
    let events = call("GET", &format!("{api}/alerts"), None).await.1;
    let event = events.as_array().unwrap().iter().find(|e| e["metric"] == "high_value_at_risk").expect("at-risk event");
    assert_eq!(event["members_total"], page["total"], "{event}");
    let named: Vec<&Value> = event["members"].as_array().unwrap().iter().map(|m| &m["member_id"]).collect();
    let with_consent: Vec<&Value> = given["rows"].as_array().unwrap().iter().map(|m| &m["member_id"]).collect();
    assert!(!named.is_empty() && named.iter().all(|m| with_consent.contains(m)), "{event}");
    assert_eq!(named[..], with_consent[..named.len()], "most value at stake first, consenting only");

    // A fit on request, as of another day; a bad day is a 400 naming it.
    let (status, body) = call("POST", &format!("{api}/model/fit"), Some(json!({ "as_of": "2026-02-30" }))).await;
    assert_eq!((status, body["param"].as_str()), (400, Some("as_of")), "{body}");
    let (status, body) = call("POST", &format!("{api}/model/fit"), Some(json!({ "as_of": "2026-03-31" }))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scores_as_of"], "2026-03-31");
    assert_eq!(body["fits"][0]["as_of"], "2026-03-31");
    let at = call("GET", &format!("{api}/overview?as_of=2026-03-31"), None).await.1;
    let k = at["kpis"].as_array().unwrap().iter().find(|k| k["key"] == "predicted_ltv").unwrap().clone();
    assert!(k["current"]["value"].as_f64().is_some(), "{k}");
    drop(server);
}
