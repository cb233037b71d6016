//! Triggers against the real stores and a real HTTP receiver, on the hand-built retailer
//! (T = 2024-04-06; last purchases A 03-20, B 03-02, D 2023-12-20, F 2023-06-01,
//! G 01-20, H 04-01, E 04-06): a trigger's first evaluation is its baseline; members who
//! enter its condition as later data moves T are handed on once per episode (again only
//! after leaving and re-entering), not without consent, not past the frequency cap; an
//! evaluation cut short after the deliveries were recorded hands nothing on twice; the
//! batches reach the webhook once each.

use std::sync::{Arc, Mutex};

use app::model::{Channel, ConsentRequest, ContactPolicy, MessagingChannel, Role, Trigger, TriggerWhen};
use serde_json::{Value, json};
use server::{
    access::Caller, alerts::delivery::DeliveryConfig, metrics::MetricConfig, service::Services, store::operational,
    triggers,
};

use crate::common;

async fn receiver() -> (std::net::SocketAddr, Arc<Mutex<Vec<Value>>>) {
    use axum::{Json, Router, routing::post};
    let got = Arc::new(Mutex::new(Vec::new()));
    let kept = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                Json(json!({ "ok": true }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, got)
}

pub(crate) fn np(name: &str, days: u32, channel: i64) -> Trigger {
    Trigger::new(name, TriggerWhen::NoPurchase { days }, vec![channel])
}

/// (trigger, member, episode, status) of every delivery, in order.
pub(crate) async fn deliveries(ops: &operational::Pool) -> Vec<(i64, String, i64, String)> {
    sqlx::query_as(
        "SELECT trigger_id, member_id, episode, status FROM trigger_deliveries ORDER BY trigger_id, member_id, episode",
    )
    .fetch_all(ops)
    .await
    .unwrap()
}

fn order(analytics: &server::store::analytics::Analytics, id: &str, member: &str, at: &str) {
    common::add(
        analytics,
        &format!(
            "INSERT INTO orders (order_id, ordered_at, net_amount, member_id, channel) VALUES ('{id}', '{at} 10:00:00', 30, '{member}', 'store')"
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn members_are_handed_on_once_per_episode_within_consent_and_the_cap() {
    let (dir, analytics) = common::retailer();
    let ops = operational::connect(&format!("sqlite://{}", dir.path().join("o.sqlite").display())).await.unwrap();
    let services = Services::new(analytics.clone(), ops.clone(), MetricConfig::default()).with_private_webhooks(true);
    let admin = Caller::system();
    let (addr, got) = receiver().await;
    let channel = MessagingChannel {
        id: 0,
        name: "CRM webhook".into(),
        channel: Channel::Webhook { url: format!("http://{addr}/hook") },
        personal_fields: true,
    };
    let channel = services.create_messaging_channel(&admin, channel).await.unwrap();
    let policy = ContactPolicy { max_contacts: 1, per_days: 7, quiet_from: None, quiet_to: None };
    services.set_contact_policy(&admin, policy.clone()).await.unwrap();
    // Operators set triggers but not the policy; executives neither.
    let operator = Caller { role: Role::Operator, ..Caller::system() };
    let executive = Caller { role: Role::Executive, ..Caller::system() };
    assert!(services.set_contact_policy(&operator, policy.clone()).await.is_err());
    assert!(services.create_trigger(&executive, np("x", 60, channel.id)).await.is_err());
    let t60 = services.create_trigger(&operator, np("60 天未购", 60, channel.id)).await.unwrap();
    let t90 = services.create_trigger(&operator, np("90 天未购", 90, channel.id)).await.unwrap();
    // A bad condition or an unknown channel is refused.
    assert!(
        services.create_trigger(&operator, np("y", 0, channel.id)).await.unwrap_err().to_string().contains("when.days")
    );
    assert!(services.create_trigger(&operator, np("z", 60, 999)).await.unwrap_err().to_string().contains("channels"));

    // The baseline: D, F, G (60 days) and D, F (90 days) are in already; nobody is handed on.
    let run = services.run_triggers().await.unwrap();
    assert_eq!((run.opened, run.queued, run.held_back), (5, 0, 0));
    assert!(deliveries(&ops).await.is_empty());

    // T moves to 05-10: B enters the 60-day condition, G the 90-day one.
    order(&analytics, "e2", "E", "2024-05-10");
    let run = services.run_triggers().await.unwrap();
    assert_eq!((run.opened, run.queued), (2, 2));
    assert_eq!(services.run_triggers().await.unwrap().queued, 0, "nothing twice");

    // H withdraws consent; T moves to 06-20: A and H enter at 60 days, A and B at 90.
    services
        .change_consent(
            &admin,
            "H".into(),
            ConsentRequest { consent: false, given_at: None, channel: Some("app".into()) },
        )
        .await
        .unwrap();
    order(&analytics, "e3", "E", "2024-06-20");
    services.run_triggers().await.unwrap();
    let (a, b, g, h) = ("A".to_string(), "B".to_string(), "G".to_string(), "H".to_string());
    let q = |s: &str| s.to_string();
    assert_eq!(
        deliveries(&ops).await,
        vec![
            (t60.id, a.clone(), 1, q("queued")),
            (t60.id, b.clone(), 1, q("queued")),
            (t60.id, h.clone(), 1, q("no_consent")),
            // A was handed on by the 60-day trigger a moment ago; B at 05-10: one a week.
            (t90.id, a.clone(), 1, q("capped")),
            (t90.id, b.clone(), 1, q("capped")),
            (t90.id, g.clone(), 1, q("queued")),
        ]
    );

    // G buys (leaves both), then stays away past 60 days again: a second episode.
    services.set_contact_policy(&admin, ContactPolicy { max_contacts: 0, ..policy }).await.unwrap();
    order(&analytics, "g2", "G", "2024-06-25");
    services.run_triggers().await.unwrap();
    order(&analytics, "e4", "E", "2024-09-01");
    services.run_triggers().await.unwrap();
    let all = deliveries(&ops).await;
    assert!(all.contains(&(t60.id, g.clone(), 2, q("queued"))), "{all:?}");
    assert!(!all.iter().any(|d| d.0 == t90.id && d.1 == g && d.2 == 2), "90 days have not passed since 06-25: {all:?}");

    // An evaluation cut short after recording its deliveries (the pending marks still on):
    // the next one records nothing again.
    let before = deliveries(&ops).await;
    analytics
        .writer()
        .execute_batch(
            "UPDATE trigger_episodes SET pending = TRUE WHERE member_id = 'A' OR (member_id = 'G' AND episode = 2)",
        )
        .unwrap();
    let run = services.run_triggers().await.unwrap();
    assert_eq!((run.queued, run.held_back), (0, 0));
    assert_eq!(run.repeated, 3, "{run:?}");
    assert_eq!(deliveries(&ops).await, before);

    // Within one latest day only the members a fold touched are read again. E's last
    // purchase (09-01) is pushed back in the summary behind the folder's back: read again,
    // E would enter both conditions, but no fold names E. A buys through the ingest path on
    // 09-01 (T stays) and leaves both.
    analytics
        .writer()
        .execute_batch("UPDATE member_summary SET last_purchase_at = TIMESTAMP '2024-01-02' WHERE member_id = 'E'")
        .unwrap();
    let body = r#"{"order_id":"a9","ordered_at":"2024-09-01T11:00:00","net_amount":"30.00","member_id":"A","channel":"store"}"#;
    let landed = services.ingest(&Caller::cli(), server::load::import::Kind::Orders, None, body.into()).await.unwrap();
    assert_eq!(landed.inserted, 1);
    server::jobs::folder::fold(&services).await.unwrap();
    let run = services.run_triggers().await.unwrap();
    assert_eq!((run.opened, run.closed), (0, 2), "{run:?}");
    let touched: i64 = analytics.writer().query_row("SELECT count(*) FROM touched_members", [], |r| r.get(0)).unwrap();
    assert_eq!(touched, 0, "read, then let go");

    // The batches reach the webhook: each queued (trigger, member, episode) once, with the
    // facts that fired and — this channel is allowed them — the name.
    let cfg = DeliveryConfig { allow_private: true, ..Default::default() };
    let http = server::alerts::delivery::client_for(&cfg);
    while triggers::send::send_due(&analytics, &ops, &http, &cfg).await.unwrap() > 0 {}
    let mut handed: Vec<(i64, String, i64)> = got
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| {
            let t = b["trigger"]["id"].as_i64().unwrap();
            b["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |m| (t, m["member_id"].as_str().unwrap().to_string(), m["episode"].as_i64().unwrap()))
                .collect::<Vec<_>>()
        })
        .collect();
    handed.sort();
    let mut queued: Vec<(i64, String, i64)> =
        deliveries(&ops).await.into_iter().filter(|d| d.3 == "queued").map(|d| (d.0, d.1, d.2)).collect();
    queued.sort();
    assert_eq!(handed, queued);
    let body = got.lock().unwrap().iter().find(|b| b["members"][0]["member_id"] == "A").cloned().unwrap();
    assert_eq!(body["members"][0]["name"], "张三");
    assert!(body["members"][0]["facts"]["days_since"].as_i64().unwrap() >= 60, "{body}");
    assert!(body["delivery_id"].as_str().unwrap().starts_with("trigger-"));
}

/// The real server killed (SIGKILL) right after first purchases landed through the ingest
/// API — before, during or after their fold, evaluation and delivery — and started again:
/// every new buyer reaches the webhook in exactly one batch (a receiver may see that batch
/// twice, with the same delivery id, if the kill fell between its sending and its mark).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_between_landing_and_delivery_hands_each_member_on_once() {
    const TOKEN: &str = "till-ingest-token-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let args = ["--demo-members", "300", "--allow-private-webhooks", "--ingest-token", TOKEN];
    let mut server = common::serve(dir.path(), &args);
    let (addr, got) = receiver().await;
    let (status, channel) = common::call(
        "POST",
        &format!("{}/api/v1/messaging-channels", server.base),
        Some(json!({ "name": "hook", "channel": { "kind": "webhook", "url": format!("http://{addr}/hook") } })),
    )
    .await;
    assert_eq!(status, 201, "{channel}");
    // No quiet hours: the batches go at once whatever the hour of the run.
    let (status, policy) = common::call(
        "PUT",
        &format!("{}/api/v1/contact-policy", server.base),
        Some(json!({ "max_contacts": 3, "per_days": 7, "quiet_from": null, "quiet_to": null })),
    )
    .await;
    assert_eq!(status, 200, "{policy}");
    let (status, trigger) = common::call(
        "POST",
        &format!("{}/api/v1/triggers", server.base),
        Some(json!({ "name": "欢迎 welcome", "when": { "kind": "first_purchase", "within_days": 3650 }, "channels": [channel["id"]] })),
    )
    .await;
    assert_eq!(status, 201, "{trigger}");
    // The baseline first (every buyer of the demo programme so far is in it).
    for _ in 0..100 {
        let (_, list) = common::call("GET", &format!("{}/api/v1/triggers", server.base), None).await;
        if !list[0]["armed_at"].is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let mut expected = Vec::new();
    for (round, wait_ms) in [0u64, 300, 1500].into_iter().enumerate() {
        let orders: Vec<Value> = (0..20)
            .map(|i| {
                let member = format!("new-{round}-{i:02}");
                expected.push(member.clone());
                json!({ "order_id": format!("o-{member}"), "ordered_at": format!("{today} 09:00:00"),
                        "net_amount": 88.0, "member_id": member, "channel": "mini_program" })
            })
            .collect();
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/ingest/orders", server.base))
            .bearer_auth(TOKEN)
            .json(&orders)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
        drop(server); // SIGKILL
        server = common::serve(dir.path(), &args);
    }
    // Every new buyer arrives; then a while longer, for any second hand-on to show.
    let handed = || -> Vec<(String, String)> {
        got.lock()
            .unwrap()
            .iter()
            .flat_map(|b| {
                let batch = b["delivery_id"].as_str().unwrap_or("").to_string();
                b["members"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |m| (m["member_id"].as_str().unwrap_or("").to_string(), batch.clone()))
            })
            .collect()
    };
    for _ in 0..300 {
        if expected.iter().all(|m| handed().iter().any(|(h, _)| h == m)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let mut batches_per_member: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    for (member, batch) in handed() {
        batches_per_member.entry(member).or_default().insert(batch);
    }
    for m in &expected {
        assert_eq!(batches_per_member.get(m).map(|b| b.len()), Some(1), "{m}: {batches_per_member:?}");
    }
    assert_eq!(batches_per_member.len(), expected.len(), "only the new buyers: {batches_per_member:?}");
    drop(server);
}
