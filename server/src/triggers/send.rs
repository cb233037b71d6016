//! Sending the batches of handed-on members (`trigger_outbox`) as alert notices are sent
//! ([`crate::alerts::delivery::post`]): the generic webhook gets the JSON (with names and
//! phones only when an admin allowed the channel them), WeCom and DingTalk robots a short
//! markdown list. Each batch carries its id (`Idempotency-Key: memberpulse-trigger-<id>`,
//! `delivery_id`); a failed try is retried with back-off, and every batch is marked sent
//! once its receiver took it.

use app::model::Channel;
use chrono::Utc;
use sqlx::Row;

use crate::{
    Result,
    alerts::delivery::{DeliveryConfig, plain, post},
    store::{analytics::Analytics, operational::stamp, sql::Sql},
};

/// One member's facts as `key value` pairs, for chat text.
fn facts_text(facts: &serde_json::Value) -> String {
    facts
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k} {}", v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The URL and body a batch goes out with on `channel`.
pub fn render(channel: &Channel, payload: &serde_json::Value, id: i64) -> Option<(String, serde_json::Value)> {
    let members = payload["members"].as_array().cloned().unwrap_or_default();
    let name = plain(payload["trigger"]["name"].as_str().unwrap_or("MemberPulse"));
    let lines: Vec<String> = members
        .iter()
        .map(|m| format!("- {} · {}", plain(m["member_id"].as_str().unwrap_or("")), facts_text(&m["facts"])))
        .collect();
    let text = format!("🎯 触发 Trigger: {name}\n{} 位会员 members\n{}", members.len(), lines.join("\n"));
    Some(match channel {
        Channel::Webhook { url } => {
            let mut body = payload.clone();
            body["delivery_id"] = serde_json::json!(format!("trigger-{id}"));
            (url.clone(), body)
        }
        Channel::Wecom { url } => {
            (url.clone(), serde_json::json!({ "msgtype": "markdown", "markdown": { "content": text } }))
        }
        Channel::Dingtalk { url } => {
            (url.clone(), serde_json::json!({ "msgtype": "markdown", "markdown": { "title": name, "text": text } }))
        }
        _ => return None,
    })
}

/// Adds names and phones (opened) to a batch's members, for a channel allowed them.
async fn with_personal(analytics: &Analytics, mut payload: serde_json::Value) -> Result<serde_json::Value> {
    let ids: Vec<String> = payload["members"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["member_id"].as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let found = analytics
        .read(move |conn| {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let marks: Vec<String> = (0..ids.len()).map(|i| format!("$m{i}")).collect();
            let mut sql = Sql::new(format!(
                "SELECT member_id, mp_open(name), mp_open(phone) FROM members WHERE member_id IN ({})",
                marks.join(", ")
            ));
            for (i, id) in ids.iter().enumerate() {
                sql = sql.bind(&format!("m{i}"), id.clone());
            }
            sql.rows(conn, |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, Option<String>>(2)?))
            })
        })
        .await?;
    if let Some(members) = payload["members"].as_array_mut() {
        for m in members {
            if let Some((_, name, phone)) = found.iter().find(|f| m["member_id"].as_str() == Some(f.0.as_str())) {
                m["name"] = serde_json::json!(name);
                m["phone"] = serde_json::json!(phone);
            }
        }
    }
    Ok(payload)
}

/// Sends the batches that are due; returns how many were sent. The channels are read
/// (and opened) only when something is due.
pub async fn send_due(
    analytics: &Analytics,
    pool: &crate::store::operational::Pool,
    http: &reqwest::Client,
    cfg: &DeliveryConfig,
) -> Result<usize> {
    let due = sqlx::query(
        "SELECT id, channel_id, payload, attempts FROM trigger_outbox
         WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id LIMIT 50",
    )
    .bind(stamp(Utc::now()))
    .fetch_all(pool)
    .await?;
    if due.is_empty() {
        return Ok(0);
    }
    let channels = super::saved::channels(pool, analytics.seal()).await?;
    let mut sent = 0;
    for row in due {
        let (id, channel_id, attempts): (i64, i64, i64) = (row.get(0), row.get(1), row.get(3));
        let mut payload: serde_json::Value = serde_json::from_str(row.get::<&str, _>(2)).unwrap_or_default();
        let outcome = match channels.iter().find(|c| c.id == channel_id) {
            None => Err((None, "the messaging channel is gone".to_string())),
            Some(c) => {
                if c.personal_fields && matches!(c.channel, Channel::Webhook { .. }) {
                    payload = with_personal(analytics, payload).await?;
                }
                match render(&c.channel, &payload, id) {
                    None => Err((None, "nothing to send".to_string())),
                    Some((url, body)) => {
                        post(http, &c.channel, &url, &body, &format!("memberpulse-trigger-{id}"), cfg.allow_private)
                            .await
                    }
                }
            }
        };
        match outcome {
            Ok(_) => {
                sqlx::query(
                    "UPDATE trigger_outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = NULL
                     WHERE id = ?",
                )
                .bind(stamp(Utc::now()))
                .bind(id)
                .execute(pool)
                .await?;
                sent += 1;
            }
            Err((_, error)) => {
                let next = cfg.retry_at(attempts);
                sqlx::query("UPDATE trigger_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?")
                    .bind(stamp(next))
                    .bind(&error)
                    .bind(id)
                    .execute(pool)
                    .await?;
                tracing::warn!(batch = id, error = %error, "trigger delivery failed; will retry");
            }
        }
    }
    Ok(sent)
}
