//! Triggers, messaging channels and the contact policy, kept in the operational store.
//! A channel's JSON is sealed like alert channels (its URL holds a robot key).

use app::model::{Channel, ContactPolicy, MessagingChannel, Trigger, TriggerWhen};
use sqlx::Row;

use crate::{
    Error, Result,
    alerts::rules::{open_channels, seal_channels},
    store::{
        Seal,
        operational::{Pool, name_taken, stamp},
    },
};

fn now() -> String {
    stamp(chrono::Utc::now())
}

fn check_name(name: &str) -> Result<()> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(Error::bad_param("name", "expected 1 to 100 characters"));
    }
    Ok(())
}

// --- messaging channels -------------------------------------------------------------

/// Checks a messaging channel: webhook, WeCom or DingTalk; personal fields on webhooks only.
pub fn validate_channel(c: &MessagingChannel) -> Result<&str> {
    check_name(&c.name)?;
    let url = match &c.channel {
        Channel::Webhook { url } => url,
        Channel::Wecom { url } | Channel::Dingtalk { url } if !c.personal_fields => url,
        Channel::Wecom { .. } | Channel::Dingtalk { .. } => {
            return Err(Error::bad_param(
                "personal_fields",
                "a group robot posts into a chat: names and phones go to webhooks only",
            ));
        }
        _ => return Err(Error::bad_param("channel", "triggers hand members to a webhook, WeCom or DingTalk")),
    };
    Ok(url)
}

fn channel(seal: &Seal, r: &sqlx::sqlite::SqliteRow) -> Option<MessagingChannel> {
    Some(MessagingChannel {
        id: r.get(0),
        name: r.get(1),
        channel: open_channels(seal, r.get::<&str, _>(2))?,
        personal_fields: r.get::<i64, _>(3) != 0,
    })
}

pub async fn channels(pool: &Pool, seal: &Seal) -> Result<Vec<MessagingChannel>> {
    let rows = sqlx::query("SELECT id, name, channel, personal_fields FROM messaging_channels ORDER BY id")
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().filter_map(|r| channel(seal, r)).collect())
}

pub async fn channel_by_id(pool: &Pool, seal: &Seal, id: i64) -> Result<MessagingChannel> {
    sqlx::query("SELECT id, name, channel, personal_fields FROM messaging_channels WHERE id = ?")
        .bind(id)
        .fetch_optional(pool)
        .await?
        .and_then(|r| channel(seal, &r))
        .ok_or_else(|| Error::NotFound(format!("no messaging channel {id}")))
}

pub async fn create_channel(pool: &Pool, seal: &Seal, c: &MessagingChannel, by: &str) -> Result<i64> {
    let id: i64 = sqlx::query(
        "INSERT INTO messaging_channels (name, channel, personal_fields, updated_by, updated_at) VALUES (?, ?, ?, ?, ?)
         RETURNING id",
    )
    .bind(c.name.trim())
    .bind(seal_channels(seal, &c.channel))
    .bind(c.personal_fields as i64)
    .bind(by)
    .bind(now())
    .fetch_one(pool)
    .await
    .map_err(name_taken("a messaging channel"))?
    .get(0);
    Ok(id)
}

pub async fn update_channel(pool: &Pool, seal: &Seal, id: i64, c: &MessagingChannel, by: &str) -> Result<()> {
    let done = sqlx::query(
        "UPDATE messaging_channels SET name = ?, channel = ?, personal_fields = ?, updated_by = ?, updated_at = ? WHERE id = ?",
    )
    .bind(c.name.trim())
    .bind(seal_channels(seal, &c.channel))
    .bind(c.personal_fields as i64)
    .bind(by)
    .bind(now())
    .bind(id)
    .execute(pool)
    .await
    .map_err(name_taken("a messaging channel"))?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no messaging channel {id}")));
    }
    Ok(())
}

/// Deletes a channel no trigger uses (a 409 names the trigger that does).
pub async fn delete_channel(pool: &Pool, id: i64) -> Result<()> {
    for t in triggers(pool).await? {
        if t.channels.contains(&id) {
            return Err(Error::Conflict(format!("trigger {:?} hands members to this channel", t.name)));
        }
    }
    let done = sqlx::query("DELETE FROM messaging_channels WHERE id = ?").bind(id).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no messaging channel {id}")));
    }
    Ok(())
}

// --- triggers -------------------------------------------------------------------------

/// Checks a trigger's condition and names; the channels and campaign are checked against
/// the store by the caller.
pub fn validate(t: &Trigger) -> Result<()> {
    check_name(&t.name)?;
    let days = |d: u32, field: &str| match (1..=3650).contains(&d) {
        true => Ok(()),
        false => Err(Error::bad_param(field, "expected 1 to 3650 days")),
    };
    match &t.when {
        TriggerWhen::FirstPurchase { within_days } => days(*within_days, "when.within_days")?,
        TriggerWhen::NoPurchase { days: d } => days(*d, "when.days")?,
        TriggerWhen::PAliveBelow { below } if !(*below > 0.0 && *below <= 1.0) => {
            return Err(Error::bad_param("when.below", "expected a probability in (0, 1]"));
        }
        TriggerWhen::PointsExpiring { days, .. } if *days != 30 && *days != 90 => {
            return Err(Error::bad_param("when.days", "expected 30 or 90 (the points-expiring metrics' horizons)"));
        }
        TriggerWhen::PointsExpiring { min_points, .. } if *min_points < 1 => {
            return Err(Error::bad_param("when.min_points", "expected at least 1"));
        }
        TriggerWhen::NearNextTier { next_tier, threshold_yuan, within_yuan } => {
            if next_tier.trim().is_empty() || next_tier.len() > 64 {
                return Err(Error::bad_param("when.next_tier", "expected a tier name"));
            }
            if !(threshold_yuan.is_finite() && *threshold_yuan > 0.0) {
                return Err(Error::bad_param("when.threshold_yuan", "expected a positive amount"));
            }
            if !(within_yuan.is_finite() && *within_yuan > 0.0 && within_yuan <= threshold_yuan) {
                return Err(Error::bad_param("when.within_yuan", "expected a positive amount up to the threshold"));
            }
        }
        _ => {}
    }
    if t.channels.is_empty() || t.channels.len() > 10 {
        return Err(Error::bad_param("channels", "name 1 to 10 messaging channels"));
    }
    Ok(())
}

/// A trigger's settings, then what it handed on and held back (see [`trigger`]).
const SETTINGS: &str = "t.id, t.name, t.condition, t.channels, t.campaign, t.enabled";
const COUNTS: &str = "
    (SELECT count(*) FROM trigger_deliveries d WHERE d.trigger_id = t.id AND d.status = 'queued'),
    (SELECT count(*) FROM trigger_deliveries d WHERE d.trigger_id = t.id AND d.status <> 'queued')";

fn trigger(r: &sqlx::sqlite::SqliteRow) -> Option<Trigger> {
    Some(Trigger {
        id: r.get(0),
        name: r.get(1),
        when: serde_json::from_str(r.get::<&str, _>(2)).ok()?,
        channels: serde_json::from_str(r.get::<&str, _>(3)).ok()?,
        campaign: r.get(4),
        enabled: r.get::<i64, _>(5) != 0,
        sent: r.get(6),
        held_back: r.get(7),
        armed_at: None,
    })
}

/// The enabled triggers, for an evaluation: without what they handed on (counting every
/// delivery at every evaluation grew with the deliveries).
pub async fn enabled(pool: &Pool) -> Result<Vec<Trigger>> {
    let rows = sqlx::query(&format!("SELECT {SETTINGS}, 0, 0 FROM triggers t WHERE t.enabled <> 0 ORDER BY t.id"))
        .fetch_all(pool)
        .await?;
    Ok(rows.iter().filter_map(trigger).collect())
}

pub async fn triggers(pool: &Pool) -> Result<Vec<Trigger>> {
    let rows =
        sqlx::query(&format!("SELECT {SETTINGS}, {COUNTS} FROM triggers t ORDER BY t.id")).fetch_all(pool).await?;
    Ok(rows.iter().filter_map(trigger).collect())
}

pub async fn trigger_by_id(pool: &Pool, id: i64) -> Result<Trigger> {
    sqlx::query(&format!("SELECT {SETTINGS}, {COUNTS} FROM triggers t WHERE t.id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .and_then(|r| trigger(&r))
        .ok_or_else(|| Error::NotFound(format!("no trigger {id}")))
}

pub async fn create(pool: &Pool, t: &Trigger, by: &str) -> Result<i64> {
    let id: i64 = sqlx::query(
        "INSERT INTO triggers (name, condition, channels, campaign, enabled, updated_by, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(t.name.trim())
    .bind(serde_json::to_string(&t.when).unwrap_or_default())
    .bind(serde_json::to_string(&t.channels).unwrap_or_default())
    .bind(t.campaign)
    .bind(t.enabled as i64)
    .bind(by)
    .bind(now())
    .fetch_one(pool)
    .await
    .map_err(name_taken("a trigger"))?
    .get(0);
    Ok(id)
}

pub async fn update(pool: &Pool, id: i64, t: &Trigger, by: &str) -> Result<()> {
    let done = sqlx::query(
        "UPDATE triggers SET name = ?, condition = ?, channels = ?, campaign = ?, enabled = ?, updated_by = ?, updated_at = ?
         WHERE id = ?",
    )
    .bind(t.name.trim())
    .bind(serde_json::to_string(&t.when).unwrap_or_default())
    .bind(serde_json::to_string(&t.channels).unwrap_or_default())
    .bind(t.campaign)
    .bind(t.enabled as i64)
    .bind(by)
    .bind(now())
    .bind(id)
    .execute(pool)
    .await
    .map_err(name_taken("a trigger"))?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no trigger {id}")));
    }
    Ok(())
}

pub async fn delete(pool: &Pool, id: i64) -> Result<()> {
    let done = sqlx::query("DELETE FROM triggers WHERE id = ?").bind(id).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no trigger {id}")));
    }
    Ok(())
}

// --- the contact policy ---------------------------------------------------------------

/// `HH:MM` as minutes after midnight.
pub fn minutes(field: &str, hm: &str) -> Result<u32> {
    let bad = || Error::bad_param(field, format!("expected HH:MM, got {hm:?}"));
    let (h, m) = hm.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 || hm.len() != 5 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

pub fn validate_policy(p: &ContactPolicy) -> Result<()> {
    if p.max_contacts > 100 {
        return Err(Error::bad_param("max_contacts", "expected 0 (no cap) to 100"));
    }
    if !(1..=365).contains(&p.per_days) {
        return Err(Error::bad_param("per_days", "expected 1 to 365"));
    }
    match (&p.quiet_from, &p.quiet_to) {
        (None, None) => Ok(()),
        (Some(f), Some(t)) => {
            if minutes("quiet_from", f)? == minutes("quiet_to", t)? {
                return Err(Error::bad_param("quiet_to", "quiet hours need a length"));
            }
            Ok(())
        }
        _ => Err(Error::bad_param("quiet_to", "give both ends of the quiet hours, or neither")),
    }
}

pub async fn policy(pool: &Pool) -> Result<ContactPolicy> {
    let r = sqlx::query("SELECT max_contacts, per_days, quiet_from, quiet_to FROM contact_policy WHERE id = 1")
        .fetch_one(pool)
        .await?;
    Ok(ContactPolicy {
        max_contacts: r.get::<i64, _>(0) as u32,
        per_days: r.get::<i64, _>(1) as u32,
        quiet_from: r.get(2),
        quiet_to: r.get(3),
    })
}

pub async fn set_policy(pool: &Pool, p: &ContactPolicy, by: &str) -> Result<()> {
    sqlx::query(
        "UPDATE contact_policy SET max_contacts = ?, per_days = ?, quiet_from = ?, quiet_to = ?, updated_by = ?,
         updated_at = ? WHERE id = 1",
    )
    .bind(i64::from(p.max_contacts))
    .bind(i64::from(p.per_days))
    .bind(&p.quiet_from)
    .bind(&p.quiet_to)
    .bind(by)
    .bind(now())
    .execute(pool)
    .await?;
    Ok(())
}
