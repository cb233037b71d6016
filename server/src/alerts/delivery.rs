//! Sending what the alerts queued (`alert_outbox`): each notice rendered for its channel —
//! the generic JSON webhook, WeCom, DingTalk and Feishu group robots, Slack incoming
//! webhooks, e-mail over SMTP (`lettre`) — and sent; every try is recorded in `alert_attempts`. A failed try is
//! retried with exponential back-off (capped), so a receiver that is down gets everything
//! once it is back, in order: a notice waits for the earlier ones of its event and channel. A notice is marked sent right after its receiver accepts it; each
//! carries its outbox id (`Idempotency-Key`, and `delivery_id` in the generic payload) for
//! receivers that want to drop the one repeat a crash between the two could cause.

use std::time::Duration;

use app::model::Channel;
use chrono::Utc;
use sqlx::Row;

use crate::{
    Result,
    alerts::rules::stamp,
    store::{Seal, operational::Pool},
};

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// How often the outbox is looked at.
    pub tick: Duration,
    /// The first retry's delay; each further one doubles, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Where the links in notices point (`http://host:port`).
    pub public_url: String,
    /// The SMTP server e-mail goes through (`smtp://host:port`, plain), and the sender.
    pub smtp: Option<Smtp>,
    /// Whether webhooks may reach internal addresses (`--allow-private-webhooks`); the
    /// HTTP client passed to [`send_due`] must be [`crate::alerts::webhook::client`] of the same.
    pub allow_private: bool,
}

#[derive(Clone, Debug)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub from: String,
}

impl Smtp {
    /// `smtp://host:port` (port 25 when absent).
    pub fn parse(url: &str, from: &str) -> Result<Smtp> {
        let rest = url
            .strip_prefix("smtp://")
            .ok_or_else(|| crate::Error::bad_param("smtp-url", format!("expected smtp://host:port, got {url:?}")))?;
        let (host, port) = match rest.trim_end_matches('/').rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse().map_err(|_| crate::Error::bad_param("smtp-url", format!("bad port in {url:?}")))?,
            ),
            None => (rest.trim_end_matches('/').to_string(), 25),
        };
        Ok(Smtp { host, port, from: from.to_string() })
    }
}

impl DeliveryConfig {
    /// When to try again after `attempts` failed tries: `backoff` doubled per try, capped
    /// at `max_backoff`.
    pub fn retry_at(&self, attempts: i64) -> chrono::DateTime<Utc> {
        let delay = self.backoff.saturating_mul(1u32 << attempts.clamp(0, 16) as u32).min(self.max_backoff);
        Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default()
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            tick: Duration::from_secs(1),
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(60),
            public_url: "http://127.0.0.1:3000".into(),
            smtp: None,
            allow_private: false,
        }
    }
}

/// A rule's name as the chat robots get it: operators choose names, so markup (links,
/// images, mentions, emphasis, `scheme://`) and line breaks are taken out; letters, CJK
/// and plain punctuation stay.
pub fn plain(name: &str) -> String {
    name.replace("://", " ")
        .chars()
        .map(|c| if "[]()<>*_`#!|~\\&".contains(c) || c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
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
    let members = p["members_total"].as_i64().map(|n| format!("\n会员 Members: {n}")).unwrap_or_default();
    format!(
        "{head} [{}] {}\n{}: {value} ({} {})\n{} – {}{members}\n{link}",
        rule["severity"].as_str().unwrap_or(""),
        plain(rule["name"].as_str().unwrap_or("")),
        rule["metric"].as_str().unwrap_or(""),
        rule["comparison"].as_str().unwrap_or(""),
        rule["threshold"],
        p["window"]["start"].as_str().unwrap_or(""),
        p["window"]["end"].as_str().unwrap_or(""),
    )
}

/// The URL and body a channel is sent, per its documented format.
pub fn render(
    channel: &Channel,
    payload: &serde_json::Value,
    outbox_id: i64,
    public_url: &str,
) -> Option<(String, serde_json::Value)> {
    let link = format!("{}{}", public_url.trim_end_matches('/'), payload["link"].as_str().unwrap_or("/"));
    let text = text(payload, &link);
    let title = plain(payload["rule"]["name"].as_str().unwrap_or("MemberPulse"));
    Some(match channel {
        Channel::Webhook { url } => {
            let mut body = payload.clone();
            body["delivery_id"] = serde_json::json!(outbox_id);
            body["link"] = serde_json::json!(link);
            (url.clone(), body)
        }
        // WeCom group robot: {"msgtype":"markdown","markdown":{"content":…}}.
        Channel::Wecom { url } => {
            (url.clone(), serde_json::json!({ "msgtype": "markdown", "markdown": { "content": text } }))
        }
        // DingTalk group robot: {"msgtype":"markdown","markdown":{"title":…,"text":…}}.
        Channel::Dingtalk { url } => {
            (url.clone(), serde_json::json!({ "msgtype": "markdown", "markdown": { "title": title, "text": text } }))
        }
        // Feishu custom bot: {"msg_type":"text","content":{"text":…}}.
        Channel::Feishu { url } => {
            (url.clone(), serde_json::json!({ "msg_type": "text", "content": { "text": text } }))
        }
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
pub async fn send_due(pool: &Pool, seal: &Seal, http: &reqwest::Client, cfg: &DeliveryConfig) -> Result<usize> {
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
        let channel: Option<Channel> = crate::alerts::rules::open_channels(seal, row.get::<&str, _>(1));
        let payload: serde_json::Value = serde_json::from_str(row.get::<&str, _>(2)).unwrap_or_default();
        let outcome: std::result::Result<u16, (Option<u16>, String)> =
            match channel.as_ref().map(|c| (c, render(c, &payload, id, &cfg.public_url))) {
                None => Err((None, "the channel could not be read".into())),
                Some((Channel::Email { to }, _)) => {
                    send_mail(cfg, to, &payload, id).await.map(|_| 250).map_err(|e| (None, e))
                }
                Some((_, None)) => Err((None, "nothing to send".into())),
                Some((channel, Some((url, body)))) => {
                    post(http, channel, &url, &body, &format!("memberpulse-{id}"), cfg.allow_private).await
                }
            };
        let now_s = stamp(Utc::now());
        let mut tx = pool.begin().await?;
        match &outcome {
            Ok(status) => {
                sqlx::query(
                    "UPDATE alert_outbox SET status = 'sent', attempts = attempts + 1, sent_at = ? WHERE id = ?",
                )
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
                let next = cfg.retry_at(attempts);
                sqlx::query("UPDATE alert_outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?")
                    .bind(stamp(next))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO alert_attempts (outbox_id, attempted_at, ok, status, error) VALUES (?, ?, 0, ?, ?)",
                )
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

/// Posts `body` to a webhook or robot `url` with `Idempotency-Key: key`: the HTTP status
/// when the receiver took it, or the status (if any) and why not. The URL is checked
/// again first ([`crate::alerts::webhook::check_before_send`]); errors never carry it (it
/// holds the robot key, and attempts are stored).
pub async fn post(
    http: &reqwest::Client,
    channel: &Channel,
    url: &str,
    body: &serde_json::Value,
    key: &str,
    allow_private: bool,
) -> std::result::Result<u16, (Option<u16>, String)> {
    if let Err(why) = crate::alerts::webhook::check_before_send(url, allow_private) {
        return Err((None, format!("refused: {why}")));
    }
    match http.post(url).header("Idempotency-Key", key).json(body).timeout(Duration::from_secs(10)).send().await {
        Err(e) => Err((None, crate::alerts::webhook::describe(&e.without_url()))),
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

/// One notice by e-mail: the text the robots get, the rule's name in the subject.
async fn send_mail(
    cfg: &DeliveryConfig,
    to: &[String],
    payload: &serde_json::Value,
    id: i64,
) -> std::result::Result<(), String> {
    use lettre::{
        AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
        message::{
            SinglePart,
            header::{ContentTransferEncoding, ContentType},
        },
    };
    let smtp = cfg.smtp.as_ref().ok_or("e-mail needs an SMTP server (--smtp-url)")?;
    let link = format!("{}{}", cfg.public_url.trim_end_matches('/'), payload["link"].as_str().unwrap_or("/"));
    let notice = match payload["notice"].as_str() {
        Some("resolved") => "已恢复 Resolved",
        Some("renotify") => "仍在告警 Still firing",
        _ => "告警 Firing",
    };
    let mut message = Message::builder()
        .from(smtp.from.parse().map_err(|e| format!("from {:?}: {e}", smtp.from))?)
        .subject(format!(
            "[MemberPulse {}] {notice}: {}",
            payload["rule"]["severity"].as_str().unwrap_or(""),
            payload["rule"]["name"].as_str().unwrap_or("")
        ))
        .message_id(Some(format!("<memberpulse-{id}@{}>", smtp.host)));
    for address in to {
        message = message.to(address.parse().map_err(|e| format!("to {address:?}: {e}"))?);
    }
    // Plain 8-bit UTF-8 text, readable as it is (Chinese included).
    let body = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::EightBit)
        .body(text(payload, &link));
    let message = message.singlepart(body).map_err(|e| e.to_string())?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(10)))
        .build();
    transport.send(message).await.map(|_| ()).map_err(|e| e.to_string())
}

/// Sends due notices every tick until the process ends.
/// The HTTP client notices go out with under `cfg` (see [`crate::alerts::webhook::client`]).
pub fn client_for(cfg: &DeliveryConfig) -> reqwest::Client {
    crate::alerts::webhook::client(cfg.allow_private)
}

pub async fn run(pool: Pool, seal: Seal, cfg: DeliveryConfig) {
    let http = client_for(&cfg);
    loop {
        if let Err(e) = send_due(&pool, &seal, &http, &cfg).await {
            tracing::error!(error = %e, "alert outbox");
        }
        tokio::time::sleep(cfg.tick).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rule_names_carry_no_markup_to_the_robots() {
        assert_eq!(
            super::plain("流失 [点这里](http://evil.example) <@all> **急**\n!"),
            "流失 点这里 http evil.example @all 急"
        );
        assert_eq!(super::plain("复购率下降 Repurchase drop"), "复购率下降 Repurchase drop");
    }
}
