//! Sending what the alerts queued (`alert_outbox`): each notice rendered for its channel —
//! the generic JSON webhook, WeCom, DingTalk and Feishu group robots, Slack incoming
//! webhooks — and posted; every try is recorded in `alert_attempts`. A failed try is
//! retried with exponential back-off (capped), so a receiver that is down gets everything
//! once it is back, in order: a notice waits for the earlier ones of its event and channel. A notice is marked sent right after its receiver accepts it; each
//! carries its outbox id (`Idempotency-Key`, and `delivery_id` in the generic payload) for
//! receivers that want to drop the one repeat a crash between the two could cause.

use std::time::Duration;

use app::model::Channel;
use chrono::Utc;
use sqlx::Row;

use crate::{Result, alerts::stamp, operational::Pool};

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// How often the outbox is looked at.
    pub tick: Duration,
    /// The first retry's delay; each further one doubles, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Where the links in notices point (`http://host:port`).
    pub public_url: String,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            tick: Duration::from_secs(1),
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            public_url: "http://127.0.0.1:3000".into(),
        }
    }
}

/// A notice as text, for the chat robots.
fn text(p: &serde_json::Value, link: &str) -> String {
    let rule = &p["rule"];
    let head = match p["notice"].as_str() {
        Some("resolved") => "✅ 已恢复 Resolved",
        Some("renotify") => "🔁 仍在告警 Still firing",
        _ => "🚨 告警 Firing",
    };
    let value = p["value"].as_f64().map_or("—".to_string(), |v| format!("{v:.4}"));
    let members = p["members_total"]
        .as_i64()
        .map(|n| format!("\n会员 Members: {n}"))
        .unwrap_or_default();
    format!(
        "{head} [{}] {}\n{}: {value} ({} {})\n{} – {}{members}\n{link}",
        rule["severity"].as_str().unwrap_or(""),
        rule["name"].as_str().unwrap_or(""),
        rule["metric"].as_str().unwrap_or(""),
        rule["comparison"].as_str().unwrap_or(""),
        rule["threshold"],
        p["window"]["start"].as_str().unwrap_or(""),
        p["window"]["end"].as_str().unwrap_or(""),
    )
}

/// The URL and body a channel is sent, per its documented format.
pub fn render(channel: &Channel, payload: &serde_json::Value, outbox_id: i64, public_url: &str) -> Option<(String, serde_json::Value)> {
    let link = format!("{}{}", public_url.trim_end_matches('/'), payload["link"].as_str().unwrap_or("/"));
    let text = text(payload, &link);
    let title = payload["rule"]["name"].as_str().unwrap_or("MemberPulse").to_string();
    Some(match channel {
        Channel::Webhook { url } => {
            let mut body = payload.clone();
            body["delivery_id"] = serde_json::json!(outbox_id);
            body["link"] = serde_json::json!(link);
            (url.clone(), body)
        }
        // WeCom group robot: {"msgtype":"markdown","markdown":{"content":…}}.
        Channel::Wecom { url } => (url.clone(), serde_json::json!({ "msgtype": "markdown", "markdown": { "content": text } })),
        // DingTalk group robot: {"msgtype":"markdown","markdown":{"title":…,"text":…}}.
        Channel::Dingtalk { url } => (
            url.clone(),
            serde_json::json!({ "msgtype": "markdown", "markdown": { "title": title, "text": text } }),
        ),
        // Feishu custom bot: {"msg_type":"text","content":{"text":…}}.
        Channel::Feishu { url } => (url.clone(), serde_json::json!({ "msg_type": "text", "content": { "text": text } })),
        // Slack incoming webhook: {"text":…}.
        Channel::Slack { url } => (url.clone(), serde_json::json!({ "text": text })),
        Channel::Email { .. } => return None,
    })
}

/// Whether a robot's 200 answer reports an error in its body (WeCom and DingTalk
/// `errcode`, Feishu `code`/`StatusCode`).
fn body_error(channel: &Channel, body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let code = match channel {
        Channel::Wecom { .. } | Channel::Dingtalk { .. } => v["errcode"].as_i64(),
        Channel::Feishu { .. } => v["code"].as_i64().or(v["StatusCode"].as_i64()),
        _ => None,
    }?;
    (code != 0).then(|| format!("the receiver answered code {code}: {body}"))
}

/// Sends what is due; returns how many were sent.
pub async fn send_due(pool: &Pool, http: &reqwest::Client, cfg: &DeliveryConfig) -> Result<usize> {
    let now = Utc::now();
    let due = sqlx::query(
        "SELECT id, channel, payload, attempts FROM alert_outbox o
         WHERE status = 'pending' AND next_attempt_at <= ?
           -- in order per event and channel: a recovery never overtakes its firing
           AND NOT EXISTS (SELECT 1 FROM alert_outbox p WHERE p.status = 'pending' AND p.event_id = o.event_id
                             AND p.channel = o.channel AND p.id < o.id)
         ORDER BY id LIMIT 50",
    )
    .bind(stamp(now))
    .fetch_all(pool)
    .await?;
    let mut sent = 0;
    for row in due {
        let (id, attempts): (i64, i64) = (row.get(0), row.get(3));
        let channel: Option<Channel> = serde_json::from_str(row.get::<&str, _>(1)).ok();
        let payload: serde_json::Value = serde_json::from_str(row.get::<&str, _>(2)).unwrap_or_default();
        let outcome: std::result::Result<u16, (Option<u16>, String)> = match channel
            .as_ref()
            .and_then(|c| render(c, &payload, id, &cfg.public_url).map(|r| (c, r)))
        {
            None => Err((None, "this channel cannot be sent yet (e-mail needs --smtp-url)".into())),
            Some((channel, (url, body))) => {
                match http
                    .post(&url)
                    .header("Idempotency-Key", format!("memberpulse-{id}"))
                    .json(&body)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await
                {
                    Err(e) => Err((None, e.to_string())),
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let text = r.text().await.unwrap_or_default();
                        if !(200..300).contains(&status) {
                            Err((Some(status), format!("HTTP {status}: {}", text.chars().take(300).collect::<String>())))
                        } else if let Some(e) = body_error(channel, &text) {
                            Err((Some(status), e))
                        } else {
                            Ok(status)
                        }
                    }
                }
            }
        };
        let now_s = stamp(Utc::now());
        let mut tx = pool.begin().await?;
        match &outcome {
            Ok(status) => {
                sqlx::query("UPDATE alert_outbox SET status = 'sent', attempts = attempts + 1, sent_at = ? WHERE id = ?")
                    .bind(&now_s)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO alert_attempts (outbox_id, attempted_at, ok, status) VALUES (?, ?, 1, ?)")
                    .bind(id)
                    .bind(&now_s)
                    .bind(i64::from(*status))
                    .execute(&mut *tx)
                    .await?;
                sent += 1;
            }
            Err((status, error)) => {
                let delay = cfg
                    .backoff
                    .saturating_mul(1u32 << attempts.clamp(0, 16) as u32)
                    .min(cfg.max_backoff);
                let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
                sqlx::query("UPDATE alert_outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?")
                    .bind(stamp(next))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO alert_attempts (outbox_id, attempted_at, ok, status, error) VALUES (?, ?, 0, ?, ?)")
                    .bind(id)
                    .bind(&now_s)
                    .bind(status.map(i64::from))
                    .bind(error)
                    .execute(&mut *tx)
                    .await?;
                tracing::warn!(outbox = id, error = %error, "alert delivery failed; will retry");
            }
        }
        tx.commit().await?;
    }
    Ok(sent)
}

/// Sends due notices every tick until the process ends.
pub async fn run(pool: Pool, cfg: DeliveryConfig) {
    let http = reqwest::Client::new();
    loop {
        if let Err(e) = send_due(&pool, &http, &cfg).await {
            tracing::error!(error = %e, "alert outbox");
        }
        tokio::time::sleep(cfg.tick).await;
    }
}
