//! Recording episodes as deliveries in the operational store, in one transaction: each
//! (trigger, member, episode) once — queued for the trigger's channels, or held back for
//! want of consent, by the frequency cap, or as a campaign's control — and the queued
//! members in batches on `trigger_outbox`, not to be sent before quiet hours end.

use app::model::{Channel, ContactPolicy, MessagingChannel, Trigger};
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};

use super::{episodes::Pending, saved::minutes};
use crate::{
    Result,
    store::operational::{Pool, stamp},
};

/// Members per batch: a webhook takes many; a group robot's message stays short.
fn batch_size(c: &Channel) -> usize {
    match c {
        Channel::Webhook { .. } => 100,
        _ => 20,
    }
}

/// The first moment at or after `now` outside the quiet hours of `policy` in `zone`.
pub fn not_before(policy: &ContactPolicy, zone: chrono_tz::Tz, now: DateTime<Utc>) -> DateTime<Utc> {
    let (Some(from), Some(to)) = (policy.quiet_from.as_deref(), policy.quiet_to.as_deref()) else {
        return now;
    };
    let (Ok(from), Ok(to)) = (minutes("quiet_from", from), minutes("quiet_to", to)) else {
        return now;
    };
    let local = now.with_timezone(&zone);
    let m = local.hour() * 60 + local.minute();
    let quiet = if from < to { (from..to).contains(&m) } else { m >= from || m < to };
    if !quiet {
        return now;
    }
    let date = if m < to { local.date_naive() } else { local.date_naive() + Duration::days(1) };
    let end = date.and_time(NaiveTime::from_hms_opt(to / 60, to % 60, 0).unwrap_or_default());
    zone.from_local_datetime(&end).earliest().map(|t| t.with_timezone(&Utc)).unwrap_or(now)
}

/// What one hand-on recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    pub queued: usize,
    pub held_back: usize,
    /// Episodes recorded before (a repeat after a crash): nothing new.
    pub repeated: usize,
}

/// Records `pending` episodes of trigger `t` (see the module).
pub async fn record(
    pool: &Pool,
    t: &Trigger,
    channels: &[MessagingChannel],
    pending: &[Pending],
    policy: &ContactPolicy,
    zone: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<Recorded> {
    let mut done = Recorded::default();
    let now_s = stamp(now);
    let since = stamp(now - Duration::days(i64::from(policy.per_days)));
    let at = stamp(not_before(policy, zone, now));
    // Set-wise, a chunk at a time and a transaction each (a hand-on of many members does
    // not hold the operational store for long): what was recorded before (a repeat after
    // a crash or an error: nothing new, and no contact counted) and each member's contacts
    // in the cap's period in one query each, the chunk's new deliveries in one insert, and
    // the batches of those queued.
    for chunk in pending.chunks(2_000) {
        // The write lock from the start: a deferred transaction that read first fails at
        // once ("database is locked") if another connection wrote meanwhile.
        let lap = std::time::Instant::now();
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
        let began = lap.elapsed();
        let mut queued: Vec<&Pending> = Vec::new();
        let ids = json_list(chunk.iter().map(|p| |out: &mut String| text(out, &p.member_id)));
        let mut seen: std::collections::HashSet<(String, i64)> = sqlx::query_as(
            "SELECT member_id, episode FROM trigger_deliveries
             WHERE trigger_id = ? AND member_id IN (SELECT value FROM json_each(?))",
        )
        .bind(t.id)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let fresh: Vec<&Pending> = chunk.iter().filter(|p| seen.insert((p.member_id.clone(), p.episode))).collect();
        done.repeated += chunk.len() - fresh.len();
        let chunk = fresh;
        let mut contacts: std::collections::HashMap<String, i64> = if policy.max_contacts > 0 {
            sqlx::query_as(
                "SELECT d.member_id, count(*) FROM trigger_deliveries d
                 WHERE d.member_id IN (SELECT value FROM json_each(?)) AND d.status = 'queued' AND d.created_at > ?
                 GROUP BY d.member_id",
            )
            .bind(&ids)
            .bind(&since)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect()
        } else {
            Default::default()
        };
        let read = lap.elapsed();
        let statuses: Vec<&str> = chunk
            .iter()
            .map(|p| {
                if !p.consent {
                    return "no_consent";
                }
                if !p.treated {
                    return "control";
                }
                let n = contacts.entry(p.member_id.clone()).or_default();
                if policy.max_contacts > 0 && *n >= i64::from(policy.max_contacts) {
                    return "capped";
                }
                *n += 1;
                "queued"
            })
            .collect();
        let rows = json_list(chunk.iter().zip(&statuses).map(|(p, status)| {
            move |out: &mut String| {
                out.push('[');
                text(out, &p.member_id);
                out.push(',');
                out.push_str(&p.episode.to_string());
                out.push(',');
                text(out, &p.facts);
                out.push(',');
                text(out, status);
                out.push(']');
            }
        }));
        // Within the write lock taken above: nothing was recorded since `seen` was read.
        sqlx::query(
            "INSERT INTO trigger_deliveries (trigger_id, member_id, episode, facts, status, created_at)
             SELECT ?, value ->> 0, value ->> 1, value ->> 2, value ->> 3, ? FROM json_each(?)",
        )
        .bind(t.id)
        .bind(&now_s)
        .bind(&rows)
        .execute(&mut *tx)
        .await?;
        let inserted = lap.elapsed();
        for (p, status) in chunk.iter().zip(statuses) {
            match status {
                "queued" => {
                    done.queued += 1;
                    queued.push(*p);
                }
                _ => done.held_back += 1,
            }
        }
        batches(&mut tx, t, channels, &queued, &at, &now_s).await?;
        let batched = lap.elapsed();
        tx.commit().await?;
        tracing::debug!(
            begin_ms = began.as_millis() as u64,
            read_ms = (read - began).as_millis() as u64,
            insert_ms = (inserted - read).as_millis() as u64,
            batches_ms = (batched - inserted).as_millis() as u64,
            commit_ms = (lap.elapsed() - batched).as_millis() as u64,
            "hand-on chunk"
        );
    }
    Ok(done)
}

/// `s` as a JSON string.
fn text(out: &mut String, s: &str) {
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

/// A JSON array of what each of `items` writes.
fn json_list<F: FnOnce(&mut String)>(items: impl Iterator<Item = F>) -> String {
    let mut out = String::from("[");
    for (i, write) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write(&mut out);
    }
    out.push(']');
    out
}

/// Puts `queued` on the outbox in batches for each of `t`'s channels, not to be sent before `at`.
async fn batches(
    tx: &mut sqlx::SqliteConnection,
    t: &Trigger,
    channels: &[MessagingChannel],
    queued: &[&Pending],
    at: &str,
    now_s: &str,
) -> Result<()> {
    for c in channels.iter().filter(|c| t.channels.contains(&c.id)) {
        for batch in queued.chunks(batch_size(&c.channel)) {
            // {"trigger":{"id","name","kind"},"members":[{"member_id","episode","facts"}]},
            // written as text (building a JSON tree for each member cost more than the
            // insert); facts that are not JSON go as null.
            let mut payload = String::from("{\"trigger\":");
            payload.push_str(&serde_json::json!({ "id": t.id, "name": t.name, "kind": t.when.key() }).to_string());
            payload.push_str(",\"members\":");
            payload.push_str(&json_list(batch.iter().map(|p| {
                move |out: &mut String| {
                    out.push_str("{\"member_id\":");
                    text(out, &p.member_id);
                    out.push_str(",\"episode\":");
                    out.push_str(&p.episode.to_string());
                    out.push_str(",\"facts\":");
                    match serde_json::from_str::<serde::de::IgnoredAny>(&p.facts) {
                        Ok(_) => out.push_str(&p.facts),
                        Err(_) => out.push_str("null"),
                    }
                    out.push('}');
                }
            })));
            payload.push('}');
            sqlx::query(
                "INSERT INTO trigger_outbox (trigger_id, channel_id, payload, status, next_attempt_at, created_at)
                 VALUES (?, ?, ?, 'pending', ?, ?)",
            )
            .bind(t.id)
            .bind(c.id)
            .bind(payload)
            .bind(at)
            .bind(now_s)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(from: &str, to: &str) -> ContactPolicy {
        ContactPolicy { max_contacts: 3, per_days: 7, quiet_from: Some(from.into()), quiet_to: Some(to.into()) }
    }

    /// Shanghai is UTC+8: 22:30 there is 14:30 UTC, inside 21:00–09:00, which ends at 09:00
    /// the next day there (01:00 UTC); 12:00 there is outside.
    #[test]
    fn quiet_hours_hold_back_until_they_end_in_the_retailers_zone() {
        let zone = chrono_tz::Asia::Shanghai;
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let p = policy("21:00", "09:00");
        assert_eq!(not_before(&p, zone, at("2026-12-07T14:30:00Z")), at("2026-12-08T01:00:00Z"));
        assert_eq!(not_before(&p, zone, at("2026-12-07T18:00:00Z")), at("2026-12-08T01:00:00Z"));
        assert_eq!(not_before(&p, zone, at("2026-12-07T04:00:00Z")), at("2026-12-07T04:00:00Z"));
        // Quiet hours within one day: 12:00–14:00.
        let p = policy("12:00", "14:00");
        assert_eq!(not_before(&p, zone, at("2026-12-07T04:30:00Z")), at("2026-12-07T06:00:00Z"));
        assert_eq!(not_before(&p, zone, at("2026-12-07T06:00:00Z")), at("2026-12-07T06:00:00Z"));
        let none = ContactPolicy { quiet_from: None, quiet_to: None, ..p };
        assert_eq!(not_before(&none, zone, at("2026-12-07T04:30:00Z")), at("2026-12-07T04:30:00Z"));
    }
}
