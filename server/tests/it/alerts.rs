//! Alerts with real parts: rules validated; a rule's events crossing and leaving its
//! threshold on the hand-built retailer; firing → renotify → acknowledged / snoozed →
//! resolved with one recovery notice; delivery to a real HTTP receiver that fails, then
//! recovers, receiving each notice exactly once; and the real server killed in the middle
//! of delivery and started again.

use crate::common;

use server::access::Caller;
use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use app::model::{AlertQuery, AlertRule, Channel};
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use server::{
    alerts::delivery::{self, DeliveryConfig},
    alerts::rules::{self, Reading},
    metrics::MetricConfig,
    service::Services,
    store::operational,
};

/// A real HTTP receiver: answers 503 to the first `failures` posts, then 200 with `reply`;
/// keeps every body it accepted.
struct Receiver {
    addr: SocketAddr,
    accepted: Arc<Mutex<Vec<Value>>>,
    refused: Arc<AtomicUsize>,
}

async fn receiver(failures: usize, reply: Value) -> Receiver {
    receiver_on("127.0.0.1:0", failures, reply).await
}

async fn receiver_on(addr: &str, failures: usize, reply: Value) -> Receiver {
    use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
    type Shared = (Arc<Mutex<Vec<Value>>>, Arc<AtomicUsize>, usize, Value);
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let state: Shared = (accepted.clone(), refused.clone(), failures, reply);
    let app = Router::new()
        .route(
            "/hook",
            post(|State((accepted, refused, failures, reply)): State<Shared>, Json(body): Json<Value>| async move {
                if refused.load(Ordering::SeqCst) < failures {
                    refused.fetch_add(1, Ordering::SeqCst);
                    return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "down": true })));
                }
                accepted.lock().unwrap().push(body);
                (StatusCode::OK, Json(reply))
            }),
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { addr, accepted, refused }
}

fn rule(channels: Vec<Channel>) -> AlertRule {
    AlertRule {
        id: 0,
        name: "活跃会员过多 test".into(),
        metric: "active_members".into(),
        segment: None,
        comparison: "above".into(),
        threshold: 3.0,
        window_days: 30,
        schedule_minutes: 60,
        severity: "warning".into(),
        channels,
        renotify_minutes: 120,
        enabled: true,
    }
}

fn reading(value: f64) -> Reading {
    Reading {
        as_of: "2024-04-06".into(),
        window_start: "2024-03-08".into(),
        window_end: "2024-04-06".into(),
        value: Some(value),
        comparison_value: Some(2.0),
        members_total: None,
        population: None,
        executives_see: true,
        members: vec![],
        left_out_without_consent: None,
        link: "/breakdown?metric=active_members".into(),
    }
}

async fn pool(dir: &tempfile::TempDir) -> operational::Pool {
    operational::connect(&format!("sqlite://{}", dir.path().join("o.sqlite").display())).await.unwrap()
}

async fn outbox(pool: &operational::Pool) -> Vec<(String, String)> {
    use sqlx::Row;
    sqlx::query("SELECT notice, status FROM alert_outbox ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn rules_are_validated_with_the_field_named() {
    let ok = rule(vec![]);
    assert!(rules::validate(&ok).is_ok());
    let field = |r: AlertRule| match rules::validate(&r) {
        Err(server::Error::BadParam { param, .. }) => param,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(AlertRule { metric: "happiness".into(), ..ok.clone() }), "metric");
    // A share above 10 (1,000%) is out of range.
    assert_eq!(field(AlertRule { metric: "repurchase_rate".into(), threshold: 20.0, ..ok.clone() }), "threshold");
    assert_eq!(field(AlertRule { threshold: -1.0, ..ok.clone() }), "threshold");
    assert_eq!(field(AlertRule { comparison: "sideways".into(), ..ok.clone() }), "comparison");
    assert_eq!(
        field(AlertRule { metric: "high_value_at_risk".into(), comparison: "rise_pct".into(), ..ok.clone() }),
        "comparison"
    );
    assert_eq!(field(AlertRule { severity: "meh".into(), ..ok.clone() }), "severity");
    assert_eq!(field(AlertRule { window_days: 0, ..ok.clone() }), "window_days");
    assert_eq!(field(rule(vec![Channel::Slack { url: "ftp://x".into() }])), "channels[0].url");
    assert_eq!(field(rule(vec![Channel::Email { to: vec!["nobody".into()] }])), "channels[0].to");
}

#[test]
fn breaches_by_hand() {
    let r = rule(vec![]);
    assert_eq!(rules::breached(&r, &reading(3.0)), Some(false));
    assert_eq!(rules::breached(&r, &reading(3.5)), Some(true));
    let below = AlertRule { comparison: "below".into(), ..r.clone() };
    assert_eq!(rules::breached(&below, &reading(2.9)), Some(true));
    // 2 → 1.7 is a 15% drop: more than 10, not more than 20.
    let drop = AlertRule { comparison: "drop_pct".into(), threshold: 10.0, ..r.clone() };
    assert_eq!(rules::breached(&drop, &reading(1.7)), Some(true));
    assert_eq!(rules::breached(&AlertRule { threshold: 20.0, ..drop.clone() }, &reading(1.7)), Some(false));
    let rise = AlertRule { comparison: "rise_pct".into(), threshold: 10.0, ..r.clone() };
    assert_eq!(rules::breached(&rise, &reading(2.3)), Some(true));
    assert_eq!(rules::breached(&r, &Reading { value: None, ..reading(9.0) }), None);
    assert_eq!(rules::breached(&drop, &Reading { comparison_value: None, ..reading(1.0) }), None);
}

/// firing → (no repeat within the interval) → renotify → acknowledged (quiet) → … and a
/// snooze that ends → firing again → resolved with one recovery notice.
#[tokio::test]
async fn an_event_lives_and_notices_are_queued_once() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool(&dir).await;
    let mut r = rule(vec![Channel::Webhook { url: "http://127.0.0.1:9/hook".into() }]);
    r.id = rules::create(&pool, &common::seal(), &r).await.unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0).unwrap();
    let at = |m: i64| t0 + chrono::Duration::minutes(m);

    assert_eq!(rules::apply(&pool, &common::seal(), &r, &reading(2.0), at(0)).await.unwrap(), None);
    let id = rules::apply(&pool, &common::seal(), &r, &reading(4.0), at(60)).await.unwrap().unwrap();
    assert_eq!(outbox(&pool).await, [("firing".into(), "pending".into())]);
    // Still in breach an hour later: the interval (2 h) has not passed.
    rules::apply(&pool, &common::seal(), &r, &reading(5.0), at(120)).await.unwrap();
    assert_eq!(outbox(&pool).await.len(), 1);
    let e = rules::event(&pool, id).await.unwrap();
    assert_eq!((e.state.as_str(), e.value), ("firing", Some(5.0)));
    // Two hours after the first notice: one renotify.
    rules::apply(&pool, &common::seal(), &r, &reading(5.0), at(180)).await.unwrap();
    assert_eq!(outbox(&pool).await.iter().filter(|n| n.0 == "renotify").count(), 1);
    // Acknowledged: quiet however long it lasts.
    rules::act(&pool, id, "acknowledge", None, at(181)).await.unwrap();
    rules::apply(&pool, &common::seal(), &r, &reading(5.0), at(600)).await.unwrap();
    assert_eq!(outbox(&pool).await.len(), 2);
    assert_eq!(rules::event(&pool, id).await.unwrap().state, "acknowledged");
    // Snoozed for an hour: quiet until then, firing (and due a notice) after.
    rules::act(&pool, id, "snooze", Some(at(660)), at(601)).await.unwrap();
    rules::apply(&pool, &common::seal(), &r, &reading(5.0), at(630)).await.unwrap();
    assert_eq!(outbox(&pool).await.len(), 2);
    assert_eq!(rules::event(&pool, id).await.unwrap().state, "snoozed");
    rules::apply(&pool, &common::seal(), &r, &reading(5.0), at(661)).await.unwrap();
    assert_eq!(rules::event(&pool, id).await.unwrap().state, "firing");
    assert_eq!(outbox(&pool).await.len(), 3);
    // Back under the threshold: resolved, one recovery notice; and nothing more after.
    rules::apply(&pool, &common::seal(), &r, &reading(3.0), at(700)).await.unwrap();
    rules::apply(&pool, &common::seal(), &r, &reading(2.0), at(800)).await.unwrap();
    let notices: Vec<String> = outbox(&pool).await.into_iter().map(|n| n.0).collect();
    assert_eq!(notices, ["firing", "renotify", "renotify", "resolved"]);
    let e = rules::event(&pool, id).await.unwrap();
    assert_eq!(e.state, "resolved");
    assert!(matches!(rules::act(&pool, id, "acknowledge", None, at(801)).await, Err(server::Error::Conflict(_))));
    // A new breach is a new event.
    let again = rules::apply(&pool, &common::seal(), &r, &reading(9.0), at(900)).await.unwrap().unwrap();
    assert_ne!(again, id);
    let open = rules::events(&pool, &AlertQuery { state: Some("open".into()), ..Default::default() }).await.unwrap();
    assert_eq!(open.iter().map(|e| e.id).collect::<Vec<_>>(), [again]);
}

/// The evaluator on the hand-built retailer: active members in the 30 days to the latest
/// day cross the threshold when a load adds a buyer, and leave it when later orders move
/// T on. A (03-20), H (03-31), E (04-06) are active in the window to 04-06: 3, not above 3.
#[tokio::test(flavor = "multi_thread")]
async fn the_evaluator_fires_and_resolves_on_the_data() {
    let (dir, analytics) = common::retailer();
    let ops = pool(&dir).await;
    let services = Services::new(analytics.clone(), ops.clone(), MetricConfig::default());
    // Only this rule: the defaults are switched off.
    sqlx::query("UPDATE alert_rules SET enabled = 0").execute(&ops).await.unwrap();
    let r = services.create_alert_rule(&Caller::system(), rule(vec![])).await.unwrap();
    let now = Utc::now();
    services.evaluate(now, true).await.unwrap();
    assert!(services.alerts(&Caller::system(), AlertQuery::default()).await.unwrap().is_empty());
    // D buys on 04-05: four active members.
    common::add(
        &analytics,
        "INSERT INTO orders (order_id, ordered_at, net_amount, member_id, channel) VALUES ('d2', '2024-04-05 10:00:00', 30.00, 'D', 'store')",
    );
    services.evaluate(now, true).await.unwrap();
    let fired = services.alerts(&Caller::system(), AlertQuery::default()).await.unwrap();
    assert_eq!(fired.len(), 1);
    let e = &fired[0];
    assert_eq!((e.rule_id, e.state.as_str(), e.value, e.threshold), (r.id, "firing", Some(4.0), 3.0));
    assert_eq!((e.window_start.as_str(), e.window_end.as_str()), ("2024-03-08", "2024-04-06"));
    assert!(e.link.starts_with("/breakdown?metric=active_members"), "{}", e.link);
    // G buys on 05-20: T moves there and only G is active.
    common::add(
        &analytics,
        "INSERT INTO orders (order_id, ordered_at, net_amount, member_id, channel) VALUES ('g2', '2024-05-20 10:00:00', 30.00, 'G', 'store')",
    );
    services.evaluate(now, true).await.unwrap();
    let e = services.alert(&Caller::system(), e.id).await.unwrap();
    assert_eq!((e.state.as_str(), e.value, e.as_of.as_str()), ("resolved", Some(1.0), "2024-05-20"));
}

/// A receiver down for its first three tries gets each notice exactly once, in each
/// robot's documented format; every try is recorded.
#[tokio::test(flavor = "multi_thread")]
async fn delivery_retries_until_the_receiver_is_back_and_sends_once() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool(&dir).await;
    let hook = receiver(3, json!({ "ok": true })).await;
    let wecom = receiver(0, json!({ "errcode": 0, "errmsg": "ok" })).await;
    let feishu = receiver(1, json!({ "code": 0 })).await;
    let url = |r: &Receiver| format!("http://{}/hook", r.addr);
    let mut r = rule(vec![
        Channel::Webhook { url: url(&hook) },
        Channel::Wecom { url: url(&wecom) },
        Channel::Feishu { url: url(&feishu) },
    ]);
    r.id = rules::create(&pool, &common::seal(), &r).await.unwrap();
    let t0 = Utc::now() - chrono::Duration::minutes(5);
    let id = rules::apply(&pool, &common::seal(), &r, &reading(4.0), t0).await.unwrap().unwrap();
    rules::apply(&pool, &common::seal(), &r, &reading(2.0), Utc::now()).await.unwrap();
    let cfg = DeliveryConfig {
        // The receivers here are on loopback.
        allow_private: true,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        public_url: "http://dash.example".into(),
        ..Default::default()
    };
    let http = delivery::client_for(&cfg);
    for _ in 0..60 {
        delivery::send_due(&pool, &common::seal(), &http, &cfg).await.unwrap();
        if outbox(&pool).await.iter().all(|n| n.1 == "sent") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(outbox(&pool).await.iter().all(|n| n.1 == "sent"), "{:?}", outbox(&pool).await);
    // More rounds send nothing again.
    delivery::send_due(&pool, &common::seal(), &http, &cfg).await.unwrap();
    let got = hook.accepted.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!((got[0]["notice"].as_str(), got[0]["event_id"].as_i64()), (Some("firing"), Some(id)));
    assert_eq!(got[1]["notice"], "resolved");
    assert_eq!(got[0]["value"], 4.0);
    assert_eq!(got[0]["link"], "http://dash.example/breakdown?metric=active_members");
    assert_eq!(hook.refused.load(Ordering::SeqCst), 3);
    let w = wecom.accepted.lock().unwrap().clone();
    assert_eq!(w.len(), 2);
    assert_eq!(w[0]["msgtype"], "markdown");
    assert!(w[0]["markdown"]["content"].as_str().unwrap().contains("活跃会员过多"));
    let f = feishu.accepted.lock().unwrap().clone();
    assert_eq!((f.len(), f[0]["msg_type"].as_str()), (2, Some("text")));
    use sqlx::Row;
    let attempts: Vec<(i64, i64)> = sqlx::query("SELECT ok, count(*) FROM alert_attempts GROUP BY ok ORDER BY ok")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // 3 refusals by the webhook, 1 by Feishu; 6 notices accepted.
    assert_eq!(attempts, [(0, 4), (1, 6)]);
}

/// The real server, killed while its receiver is down and a notice waits in the outbox;
/// started again after the receiver is back: the notice arrives once, and evaluating the
/// same breach again sends nothing more.
#[tokio::test(flavor = "multi_thread")]
async fn a_restart_in_the_middle_of_delivery_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // A free port for the receiver, not listening yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // The receiver is on loopback, which webhooks may reach only when allowed.
    let args =
        ["--demo-members", "1500", "--retry-base-ms", "100", "--retry-max-secs", "1", "--allow-private-webhooks"];
    let server = common::serve(&data, &args);
    let api = format!("{}/api/v1", server.base);
    let (status, created) = common::call(
        "POST",
        &format!("{api}/alerts/rules"),
        Some(json!({
            "name": "members above 1", "metric": "members", "comparison": "above", "threshold": 1,
            "window_days": 30, "schedule_minutes": 60, "severity": "critical", "renotify_minutes": 600,
            "channels": [{ "kind": "webhook", "url": format!("http://127.0.0.1:{port}/hook") }]
        })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, _) = common::call("POST", &format!("{api}/alerts/evaluate"), None).await;
    assert_eq!(status, 200);
    let firing = common::call("GET", &format!("{api}/alerts?rule_id={}", created["id"]), None).await.1;
    assert_eq!(firing[0]["state"], "firing", "{firing}");
    // Let it try (and fail) a little, then kill it without warning.
    tokio::time::sleep(Duration::from_millis(800)).await;
    drop(server);
    let hook = receiver_on(&format!("127.0.0.1:{port}"), 0, json!({ "ok": true })).await;
    let server = common::serve(&data, &args);
    let api = format!("{}/api/v1", server.base);
    for _ in 0..100 {
        if !hook.accepted.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    common::call("POST", &format!("{api}/alerts/evaluate"), None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let got = hook.accepted.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((got[0]["notice"].as_str(), got[0]["rule"]["name"].as_str()), (Some("firing"), Some("members above 1")));
    // The defaults shipped and were evaluated too (without channels: nothing sent).
    let rules = common::call("GET", &format!("{api}/alerts/rules"), None).await.1;
    assert_eq!(rules.as_array().unwrap().len(), 5);
    assert_eq!(rules[0]["metric"], "high_value_at_risk");
    let (status, bad) = common::call(
        "POST",
        &format!("{api}/alerts/rules"),
        Some(json!({ "name": "x", "metric": "nope", "comparison": "above", "threshold": 1, "window_days": 30,
                     "schedule_minutes": 60, "severity": "info", "renotify_minutes": 0 })),
    )
    .await;
    assert_eq!((status, bad["param"].as_str()), (400, Some("metric")));
    drop(server);
}

/// A real SMTP sink (plain SMTP over TCP, as a local relay speaks it): keeps each
/// message's envelope recipients and data.
async fn smtp_sink() -> (SocketAddr, Arc<Mutex<Vec<(Vec<String>, String)>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let got = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let keep = got.clone();
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let keep = keep.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let (mut rcpt, mut data, mut in_data) = (Vec::new(), String::new(), false);
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            keep.lock().unwrap().push((std::mem::take(&mut rcpt), std::mem::take(&mut data)));
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        let to = line[8..].trim();
                        rcpt.push(to.split_whitespace().next().unwrap_or("").trim_matches(['<', '>']).to_string());
                        b"250 ok\r\n"
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        b"354 go on\r\n"
                    } else if upper.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (addr, got)
}

/// E-mail through a real SMTP sink: the firing and the recovery notice, each once, to
/// every address, with the rule in the subject and the link in the body.
#[tokio::test(flavor = "multi_thread")]
async fn email_reaches_an_smtp_sink_once() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool(&dir).await;
    let (addr, mail) = smtp_sink().await;
    let mut r = rule(vec![Channel::Email { to: vec!["ops@example.com".into(), "店长@example.com".into()] }]);
    r.id = rules::create(&pool, &common::seal(), &r).await.unwrap();
    let t0 = Utc::now() - chrono::Duration::minutes(5);
    rules::apply(&pool, &common::seal(), &r, &reading(4.0), t0).await.unwrap();
    rules::apply(&pool, &common::seal(), &r, &reading(1.0), Utc::now()).await.unwrap();
    let cfg = DeliveryConfig {
        // The receivers here are on loopback.
        allow_private: true,
        public_url: "http://dash.example".into(),
        smtp: Some(delivery::Smtp::parse(&format!("smtp://{addr}"), "alerts@memberpulse.example").unwrap()),
        ..Default::default()
    };
    let http = delivery::client_for(&cfg);
    for _ in 0..3 {
        delivery::send_due(&pool, &common::seal(), &http, &cfg).await.unwrap();
    }
    let errors: Vec<String> =
        sqlx::query_scalar("SELECT coalesce(error, '') FROM alert_attempts").fetch_all(&pool).await.unwrap();
    assert!(outbox(&pool).await.iter().all(|n| n.1 == "sent"), "{:?} {errors:?}", outbox(&pool).await);
    let got = mail.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, ["ops@example.com", "店长@example.com"]);
    assert!(got[0].1.contains("Subject: [MemberPulse warning]"), "{}", got[0].1);
    assert!(got[0].1.contains("http://dash.example/breakdown?metric=active_members"), "{}", got[0].1);
    assert!(got[0].1.contains("活跃会员过多") && got[0].1.contains("Firing"), "{}", got[0].1);
    assert!(got[1].1.contains("已恢复 Resolved"), "{}", got[1].1);
}

/// Channels hold robot keys and tokens: rules and queued notices keep them sealed in the
/// operational store and read them back whole; channels stored before sealing are sealed
/// on the next start; another key reads none.
#[tokio::test]
async fn channels_are_sealed_in_the_operational_store() {
    use sqlx::Row;
    let dir = tempfile::tempdir().unwrap();
    let pool = pool(&dir).await;
    let seal = common::seal();
    // As a start does: the shipped rules' (empty) channels are sealed too.
    assert!(rules::seal_stored_channels(&pool, &seal).await.unwrap() > 0);
    let url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=ROBOT-KEY-7f3a";
    let mut r = rule(vec![Channel::Wecom { url: url.into() }]);
    r.id = rules::create(&pool, &seal, &r).await.unwrap();
    rules::apply(&pool, &seal, &r, &reading(4.0), Utc::now()).await.unwrap();
    assert_eq!(rules::rule(&pool, &seal, r.id).await.unwrap().channels, r.channels);
    let queued: String = sqlx::query("SELECT channel FROM alert_outbox").fetch_one(&pool).await.unwrap().get(0);
    assert!(queued.starts_with("enc1:"), "{queued}");
    assert_eq!(rules::open_channels::<Channel>(&seal, &queued), Some(r.channels[0].clone()));
    assert_eq!(rules::open_channels::<Channel>(&server::store::Seal::from_master(&[2u8; 32], "o"), &queued), None);
    // A rule stored before channels were sealed is sealed on the next start.
    sqlx::query("UPDATE alert_rules SET channels = ? WHERE id = ?")
        .bind(serde_json::to_string(&r.channels).unwrap())
        .bind(r.id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(rules::seal_stored_channels(&pool, &seal).await.unwrap(), 1);
    assert_eq!(rules::seal_stored_channels(&pool, &seal).await.unwrap(), 0);
    assert_eq!(rules::rule(&pool, &seal, r.id).await.unwrap().channels, r.channels);
    // A start with another key stops before any channel is read or written.
    let other = server::store::Seal::from_master(&[2u8; 32], "other");
    let err = rules::seal_stored_channels(&pool, &other).await.unwrap_err().to_string();
    assert!(err.contains("sealed with another privacy key"), "{err}");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await.unwrap();
    pool.close().await;
    assert_eq!(common::files_holding(dir.path(), b"ROBOT-KEY-7f3a"), Vec::<String>::new());
}

/// The shipped high-value-at-risk rule on a generated retailer with a fit: its notice
/// counts every member behind the breach, names only those whose latest consent is a yes
/// (found here with plain SQL over `consent_events`), and says how many it left out.
#[tokio::test(flavor = "multi_thread")]
async fn an_at_risk_notice_names_consenting_members_and_counts_the_others() {
    use app::model::MembersQuery;
    let (dir, analytics) = common::generated(3_000, 4);
    let ops = operational::connect(&format!("sqlite://{}", dir.path().join("o.sqlite").display())).await.unwrap();
    let services = Services::new(analytics.clone(), ops.clone(), MetricConfig::default());
    services.fit(&Caller::system(), Some("2026-06-30".into())).await.unwrap();
    let rule = rules::rules(&ops, &common::seal())
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.metric == "high_value_at_risk")
        .expect("shipped");
    let reading = services.read_rule(&rule).await.unwrap();
    let query = MembersQuery {
        filters: Some("churn_risk:high_value_at_risk".into()),
        as_of: Some(reading.as_of.clone()),
        page_size: Some(500),
        ..Default::default()
    };
    let page = services.members(&Caller::system(), query).await.unwrap();
    assert_eq!(reading.members_total, Some(page.total));
    assert!(page.total > 20 && page.total <= 500, "{}", page.total);
    let ids: Vec<String> = page.rows.iter().map(|r| format!("'{}'", r.member_id)).collect();
    let consenting: Vec<String> = {
        let conn = analytics.reader().unwrap();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT member_id FROM (SELECT member_id, arg_max(consent, given_at) AS yes FROM consent_events GROUP BY 1)
                 WHERE yes AND member_id IN ({}) ORDER BY 1",
                ids.join(", ")
            ))
            .unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    let left_out = page.total - consenting.len() as i64;
    assert!(left_out > 0 && !consenting.is_empty(), "{left_out}");
    assert_eq!(reading.left_out_without_consent, Some(left_out));
    let payload = rules::notice_payload(&rule, 1, "firing", &reading, "firing");
    assert_eq!(payload["members_left_out_without_consent"], left_out);
    assert_eq!(payload["members_total"], page.total);
    let named: Vec<&str> =
        payload["members"].as_array().unwrap().iter().map(|m| m["member_id"].as_str().unwrap()).collect();
    assert_eq!(named.len(), consenting.len().min(20));
    assert!(named.iter().all(|m| consenting.iter().any(|c| c == m)), "{named:?}");
}
