//! Alerts (SPEC §7): rules in the operational store, their evaluation against the metric
//! catalogue, and the life of each breach — firing → acknowledged / snoozed until a time
//! → resolved. Every notice an event owes (firing, renotify after the rule's interval,
//! the one recovery notice) is queued in `alert_outbox` in the same transaction that
//! changes the event; [`crate::delivery`] sends it. So a restart neither loses a notice
//! nor queues one twice.

use app::model::{AlertEvent, AlertMember, AlertQuery, AlertRule, Channel, Metric, Unit};
use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::{
    Error, Result,
    store::{Seal, operational::Pool},
};

pub const COMPARISONS: [&str; 4] = ["above", "below", "drop_pct", "rise_pct"];
pub const SEVERITIES: [&str; 3] = ["info", "warning", "critical"];
pub const STATES: [&str; 4] = ["firing", "acknowledged", "snoozed", "resolved"];

/// How many members an event keeps (the total is kept too).
pub const MEMBERS_KEPT: u32 = 100;

pub use crate::store::operational::stamp;

fn parse_stamp(param: &str, text: &str) -> Result<DateTime<Utc>> {
    let bad = || {
        Error::bad_param(
            param,
            format!("expected YYYY-MM-DDTHH:MM:SSZ up to {}, got {text:?}", crate::metrics::DATES.end()),
        )
    };
    let t = DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc)).map_err(|_| bad())?;
    if crate::metrics::DATES.contains(&t.date_naive()) { Ok(t) } else { Err(bad()) }
}

/// Checks a rule; the error names the field at fault.
pub fn validate(rule: &AlertRule) -> Result<Metric> {
    if rule.name.trim().is_empty() || rule.name.len() > 200 {
        return Err(Error::bad_param("name", "expected 1 to 200 characters"));
    }
    let metric = Metric::parse(&rule.metric)
        .ok_or_else(|| Error::bad_param("metric", format!("unknown metric {:?}; see /api/v1/metrics", rule.metric)))?;
    if !COMPARISONS.contains(&rule.comparison.as_str()) {
        return Err(Error::bad_param(
            "comparison",
            format!("expected one of {}, got {:?}", COMPARISONS.join(", "), rule.comparison),
        ));
    }
    let t = rule.threshold;
    let range = match (rule.comparison.as_str(), metric.unit()) {
        ("drop_pct" | "rise_pct", _) => (0.0, 1000.0, "a change in percent, 0 to 1000"),
        (_, Unit::Ratio) => (0.0, 10.0, "a share (0.2 is 20%), 0 to 10"),
        _ => (0.0, 1e15, "a value of 0 or more"),
    };
    if !t.is_finite() || t < range.0 || t > range.1 {
        return Err(Error::bad_param("threshold", format!("{t} is out of range: expected {}", range.2)));
    }
    if Metric::PREDICTED.contains(&metric) && rule.comparison.ends_with("_pct") {
        return Err(Error::bad_param(
            "comparison",
            "predicted metrics exist for the fit's day only, so they have no comparison window: use above or below",
        ));
    }
    if !(1..=3650).contains(&rule.window_days) {
        return Err(Error::bad_param("window_days", "expected 1 to 3650"));
    }
    if !(1..=525_600).contains(&rule.schedule_minutes) {
        return Err(Error::bad_param("schedule_minutes", "expected 1 to 525600 (a year)"));
    }
    if rule.renotify_minutes > 525_600 {
        return Err(Error::bad_param("renotify_minutes", "expected 0 to 525600 (a year)"));
    }
    if !SEVERITIES.contains(&rule.severity.as_str()) {
        return Err(Error::bad_param(
            "severity",
            format!("expected one of {}, got {:?}", SEVERITIES.join(", "), rule.severity),
        ));
    }
    for (i, c) in rule.channels.iter().enumerate() {
        match c {
            Channel::Email { to } => {
                if to.is_empty() || to.iter().any(|a| !a.contains('@') || a.contains(char::is_whitespace)) {
                    return Err(Error::bad_param(format!("channels[{i}].to"), "expected e-mail addresses"));
                }
            }
            Channel::Webhook { url }
            | Channel::Wecom { url }
            | Channel::Dingtalk { url }
            | Channel::Feishu { url }
            | Channel::Slack { url } => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(Error::bad_param(format!("channels[{i}].url"), "expected an http(s) URL"));
                }
            }
        }
    }
    Ok(metric)
}

const RULE: &str = "id, name, metric, segment, comparison, threshold, window_days, schedule_minutes, severity,
                    channels, renotify_minutes, enabled";

/// A rule's or notice's channels as stored: sealed (`crate::store::seal`), since their URLs
/// hold robot keys and tokens. The same channels always seal alike, so the outbox can tell
/// one channel's notices apart.
pub fn seal_channels<T: serde::Serialize>(seal: &Seal, channels: &T) -> String {
    seal.seal_fixed(&serde_json::to_string(channels).unwrap_or_default())
}

/// Channels as [`seal_channels`] stored them (or stored before they were sealed); None
/// when they do not open.
pub fn open_channels<T: serde::de::DeserializeOwned>(seal: &Seal, stored: &str) -> Option<T> {
    serde_json::from_str(&seal.open(stored).ok()?).ok()
}

/// Checks that `seal` is the key the operational store's channels are sealed with (a
/// store without one takes it), then seals the channels of rules and queued notices stored
/// before channels were sealed; returns how many rows changed. Another key is an error,
/// before any channel is read or written.
pub async fn seal_stored_channels(pool: &Pool, seal: &Seal) -> Result<u64> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT key_check FROM privacy_key LIMIT 1").fetch_optional(pool).await?;
    match stored {
        Some(check) if check != seal.check() => {
            return Err(Error::Load(format!(
                "the operational store's alert channels are sealed with another privacy key than the one from {}; \
                 nothing was changed",
                seal.origin()
            )));
        }
        Some(_) => {}
        None => {
            sqlx::query(concat!(
                "INSERT INTO privacy_key (key_check, set_at) VALUES (?, ",
                crate::store::operational::now_sql!(),
                ")"
            ))
            .bind(seal.check())
            .execute(pool)
            .await?;
        }
    }
    let mut changed = 0;
    for (table, column) in [("alert_rules", "channels"), ("alert_outbox", "channel")] {
        let rows = sqlx::query(&format!("SELECT id, {column} FROM {table} WHERE {column} NOT LIKE 'enc1:%'"))
            .fetch_all(pool)
            .await?;
        for row in rows {
            let sealed = seal.seal_fixed(row.get::<&str, _>(1));
            sqlx::query(&format!("UPDATE {table} SET {column} = ? WHERE id = ?"))
                .bind(sealed)
                .bind(row.get::<i64, _>(0))
                .execute(pool)
                .await?;
            changed += 1;
        }
    }
    Ok(changed)
}

fn rule_of(seal: &Seal, r: &sqlx::sqlite::SqliteRow) -> AlertRule {
    AlertRule {
        id: r.get(0),
        name: r.get(1),
        metric: r.get(2),
        segment: r.get(3),
        comparison: r.get(4),
        threshold: r.get(5),
        window_days: r.get::<i64, _>(6) as u32,
        schedule_minutes: r.get::<i64, _>(7) as u32,
        severity: r.get(8),
        channels: open_channels(seal, r.get::<&str, _>(9)).unwrap_or_default(),
        renotify_minutes: r.get::<i64, _>(10) as u32,
        enabled: r.get::<i64, _>(11) != 0,
    }
}

pub async fn rules(pool: &Pool, seal: &Seal) -> Result<Vec<AlertRule>> {
    let rows = sqlx::query(&format!("SELECT {RULE} FROM alert_rules ORDER BY id")).fetch_all(pool).await?;
    Ok(rows.iter().map(|r| rule_of(seal, r)).collect())
}

pub async fn rule(pool: &Pool, seal: &Seal, id: i64) -> Result<AlertRule> {
    sqlx::query(&format!("SELECT {RULE} FROM alert_rules WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| rule_of(seal, &r))
        .ok_or_else(|| Error::NotFound(format!("no alert rule {id}")))
}

/// Binds a rule's fields, in the column order `create` and `update` name them.
fn bind_fields<'q>(
    q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    rule: &'q AlertRule,
    seal: &Seal,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    q.bind(rule.name.trim())
        .bind(&rule.metric)
        .bind(&rule.segment)
        .bind(&rule.comparison)
        .bind(rule.threshold)
        .bind(i64::from(rule.window_days))
        .bind(i64::from(rule.schedule_minutes))
        .bind(&rule.severity)
        .bind(seal_channels(seal, &rule.channels))
        .bind(i64::from(rule.renotify_minutes))
        .bind(rule.enabled)
}

/// Binds a reading's fields (and its members as JSON), in the column order the event's
/// INSERT and UPDATE in [`apply`] name them.
fn bind_reading<'q>(
    q: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    reading: &'q Reading,
    members: &'q str,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>> {
    q.bind(&reading.as_of)
        .bind(&reading.window_start)
        .bind(&reading.window_end)
        .bind(reading.value)
        .bind(reading.comparison_value)
        .bind(reading.members_total)
        .bind(reading.population)
        .bind(reading.executives_see)
        .bind(members)
        .bind(&reading.link)
}

/// Stores a new rule (validated by the caller); returns its id.
pub async fn create(pool: &Pool, seal: &Seal, rule: &AlertRule) -> Result<i64> {
    let now = stamp(Utc::now());
    let row = bind_fields(
        sqlx::query(
            "INSERT INTO alert_rules (name, metric, segment, comparison, threshold, window_days, schedule_minutes,
                                  severity, channels, renotify_minutes, enabled, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        ),
        rule,
        seal,
    )
    .bind(&now)
    .bind(&now)
    .fetch_one(pool)
    .await?;
    Ok(row.get(0))
}

pub async fn update(pool: &Pool, seal: &Seal, rule: &AlertRule) -> Result<()> {
    let done = bind_fields(
        sqlx::query(
            "UPDATE alert_rules SET name = ?, metric = ?, segment = ?, comparison = ?, threshold = ?, window_days = ?,
                schedule_minutes = ?, severity = ?, channels = ?, renotify_minutes = ?, enabled = ?,
                evaluated_at = NULL, updated_at = ?
         WHERE id = ?",
        ),
        rule,
        seal,
    )
    .bind(stamp(Utc::now()))
    .bind(rule.id)
    .execute(pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no alert rule {}", rule.id)));
    }
    Ok(())
}

pub async fn delete(pool: &Pool, id: i64) -> Result<()> {
    let done = sqlx::query("DELETE FROM alert_rules WHERE id = ?").bind(id).execute(pool).await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound(format!("no alert rule {id}")));
    }
    Ok(())
}

/// What one evaluation saw.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    pub as_of: String,
    pub window_start: String,
    pub window_end: String,
    pub value: Option<f64>,
    pub comparison_value: Option<f64>,
    pub members_total: Option<i64>,
    /// The members of the rule's segment (none for all members).
    pub population: Option<i64>,
    /// Whether executives' view of the rule's metric and segment showed the value.
    pub executives_see: bool,
    pub members: Vec<AlertMember>,
    /// Members behind the breach left out of `members` for want of marketing consent
    /// (a notice is meant for contacting them).
    pub left_out_without_consent: Option<i64>,
    pub link: String,
}

/// Whether a reading breaches the rule; None when it cannot tell (no value, or no
/// comparison value for a change).
pub fn breached(rule: &AlertRule, r: &Reading) -> Option<bool> {
    let v = r.value?;
    match rule.comparison.as_str() {
        "above" => Some(v > rule.threshold),
        "below" => Some(v < rule.threshold),
        kind => {
            let c = r.comparison_value.filter(|c| *c != 0.0)?;
            let change = (v - c) / c.abs() * 100.0;
            Some(if kind == "drop_pct" { -change > rule.threshold } else { change > rule.threshold })
        }
    }
}

/// Rules due at `now`: enabled, and not evaluated within their schedule (or `all`).
pub async fn due(pool: &Pool, seal: &Seal, now: DateTime<Utc>, all: bool) -> Result<Vec<AlertRule>> {
    let rows = sqlx::query(&format!("SELECT {RULE}, evaluated_at FROM alert_rules WHERE enabled = 1 ORDER BY id"))
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .filter(|r| {
            all || match r.get::<Option<String>, _>(12) {
                None => true,
                Some(t) => parse_stamp("evaluated_at", &t)
                    .is_ok_and(|t| now - t >= chrono::Duration::minutes(r.get::<i64, _>(7))),
            }
        })
        .map(|r| rule_of(seal, r))
        .collect())
}

/// The notice a channel is sent, before it is rendered for the channel.
pub fn notice_payload(rule: &AlertRule, event_id: i64, notice: &str, r: &Reading, state: &str) -> serde_json::Value {
    serde_json::json!({
        "event_id": event_id,
        "notice": notice,
        "state": state,
        "rule": { "id": rule.id, "name": rule.name, "metric": rule.metric, "segment": rule.segment,
                  "severity": rule.severity, "comparison": rule.comparison, "threshold": rule.threshold },
        "as_of": r.as_of,
        "window": { "start": r.window_start, "end": r.window_end },
        "value": r.value,
        "comparison_value": r.comparison_value,
        "members_total": r.members_total,
        "members": r.members.iter().take(20).collect::<Vec<_>>(),
        "members_left_out_without_consent": r.left_out_without_consent,
        "link": r.link,
    })
}

/// Applies one evaluation to the rule's open event, in one transaction with the notices
/// it queues: a new breach opens a firing event (and its notices); a breach that goes on
/// updates the event and, once the renotify interval has passed since the last notice
/// while firing (a snooze that has ended counts as firing), queues a renotify; the end of
/// a breach resolves the event with one recovery notice. Returns the open or resolved
/// event's id, if any.
pub async fn apply(
    pool: &Pool,
    seal: &Seal,
    rule: &AlertRule,
    reading: &Reading,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let now_s = stamp(now);
    let mut tx = pool.begin().await?;
    sqlx::query("UPDATE alert_rules SET evaluated_at = ? WHERE id = ?")
        .bind(&now_s)
        .bind(rule.id)
        .execute(&mut *tx)
        .await?;
    let Some(breach) = breached(rule, reading) else {
        tx.commit().await?;
        return Ok(None);
    };
    let open = sqlx::query(
        "SELECT id, state, notified_at, snoozed_until FROM alert_events
         WHERE rule_id = ? AND state <> 'resolved' ORDER BY id DESC LIMIT 1",
    )
    .bind(rule.id)
    .fetch_optional(&mut *tx)
    .await?;
    let members = serde_json::to_string(&reading.members).unwrap_or_default();
    let queue = |event_id: i64, notice: &'static str, state: &'static str| {
        let payload = notice_payload(rule, event_id, notice, reading, state).to_string();
        (event_id, notice, payload)
    };
    let mut notices = Vec::new();
    let id = match (breach, open) {
        (false, None) => None,
        (true, None) => {
            let insert = sqlx::query(
                "INSERT INTO alert_events (rule_id, state, opened_at, updated_at, notified_at, threshold, as_of,
                                           window_start, window_end, value, comparison_value, members_total, population,
                                           executives_see, members, link)
                 VALUES (?, 'firing', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(rule.id)
            .bind(&now_s)
            .bind(&now_s)
            .bind(&now_s)
            .bind(rule.threshold);
            let row = bind_reading(insert, reading, &members).fetch_one(&mut *tx).await?;
            let id: i64 = row.get(0);
            notices.push(queue(id, "firing", "firing"));
            Some(id)
        }
        (true, Some(open)) => {
            let id: i64 = open.get(0);
            let mut state: String = open.get(1);
            let notified: Option<String> = open.get(2);
            let snoozed_until: Option<String> = open.get(3);
            if state == "snoozed" && snoozed_until.as_deref().is_none_or(|u| u <= now_s.as_str()) {
                state = "firing".into();
            }
            let interval = chrono::Duration::minutes(i64::from(rule.renotify_minutes));
            let renotify = state == "firing"
                && rule.renotify_minutes > 0
                && notified
                    .as_deref()
                    .and_then(|t| parse_stamp("notified_at", t).ok())
                    .is_none_or(|t| now - t >= interval);
            let update = sqlx::query(
                "UPDATE alert_events SET state = ?, updated_at = ?, as_of = ?, window_start = ?, window_end = ?,
                        value = ?, comparison_value = ?, members_total = ?, population = ?, executives_see = ?, members = ?, link = ?,
                        notified_at = CASE WHEN ? THEN ? ELSE notified_at END,
                        snoozed_until = CASE WHEN ? = 'snoozed' THEN snoozed_until END
                 WHERE id = ?",
            )
            .bind(&state)
            .bind(&now_s);
            bind_reading(update, reading, &members)
                .bind(renotify)
                .bind(&now_s)
                .bind(&state)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if renotify {
                notices.push(queue(id, "renotify", "firing"));
            }
            Some(id)
        }
        (false, Some(open)) => {
            let id: i64 = open.get(0);
            sqlx::query(
                "UPDATE alert_events SET state = 'resolved', updated_at = ?, resolved_at = ?, snoozed_until = NULL,
                        value = ?, comparison_value = ?, as_of = ? WHERE id = ?",
            )
            .bind(&now_s)
            .bind(&now_s)
            .bind(reading.value)
            .bind(reading.comparison_value)
            .bind(&reading.as_of)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            notices.push(queue(id, "resolved", "resolved"));
            Some(id)
        }
    };
    for (event_id, notice, payload) in notices {
        for channel in &rule.channels {
            sqlx::query(
                "INSERT INTO alert_outbox (event_id, notice, channel, payload, status, next_attempt_at, created_at)
                 VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            )
            .bind(event_id)
            .bind(notice)
            .bind(seal_channels(seal, channel))
            .bind(&payload)
            .bind(&now_s)
            .bind(&now_s)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(id)
}

const EVENT: &str = "e.id, e.rule_id, r.name, r.metric, r.severity, e.state, e.opened_at, e.updated_at, e.resolved_at,
                     e.snoozed_until, e.as_of, e.window_start, e.window_end, e.value, e.comparison_value,
                     e.threshold, r.comparison, e.members_total, e.members, e.link, e.population, e.executives_see";

fn event_of(r: &sqlx::sqlite::SqliteRow) -> AlertEvent {
    AlertEvent {
        id: r.get(0),
        rule_id: r.get(1),
        rule_name: r.get(2),
        metric: r.get(3),
        severity: r.get(4),
        state: r.get(5),
        opened_at: r.get(6),
        updated_at: r.get(7),
        resolved_at: r.get(8),
        snoozed_until: r.get(9),
        as_of: r.get(10),
        window_start: r.get(11),
        window_end: r.get(12),
        value: r.get(13),
        comparison_value: r.get(14),
        threshold: r.get(15),
        comparison: r.get(16),
        members_total: r.get(17),
        members: r.get::<Option<String>, _>(18).and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default(),
        link: r.get(19),
        population: r.get(20),
        executives_see: r.get::<i64, _>(21) != 0,
    }
}

/// Alert history, newest first.
pub async fn events(pool: &Pool, q: &AlertQuery) -> Result<Vec<AlertEvent>> {
    let state = q.state.clone().unwrap_or_default();
    if !state.is_empty() && state != "open" && !STATES.contains(&state.as_str()) {
        return Err(Error::bad_param("state", format!("expected open or one of {}", STATES.join(", "))));
    }
    let rows = sqlx::query(&format!(
        "SELECT {EVENT} FROM alert_events e JOIN alert_rules r ON r.id = e.rule_id
         WHERE (? = '' OR (? = 'open' AND e.state <> 'resolved') OR e.state = ?)
           AND (? IS NULL OR e.rule_id = ?) AND (? IS NULL OR r.severity = ?)
         ORDER BY e.id DESC LIMIT ?"
    ))
    .bind(&state)
    .bind(&state)
    .bind(&state)
    .bind(q.rule_id)
    .bind(q.rule_id)
    .bind(&q.severity)
    .bind(&q.severity)
    .bind(i64::from(q.limit.unwrap_or(100).min(1000)))
    .fetch_all(pool)
    .await?;
    Ok(rows.iter().map(event_of).collect())
}

pub async fn event(pool: &Pool, id: i64) -> Result<AlertEvent> {
    sqlx::query(&format!("SELECT {EVENT} FROM alert_events e JOIN alert_rules r ON r.id = e.rule_id WHERE e.id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .map(|r| event_of(&r))
        .ok_or_else(|| Error::NotFound(format!("no alert {id}")))
}

/// An operator's move: `acknowledge`, `snooze` (until), `resolve`. A resolved alert is
/// closed (a breach that goes on opens a new one at the next evaluation); no notice.
pub async fn act(
    pool: &Pool,
    id: i64,
    action: &str,
    until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<AlertEvent> {
    let current = event(pool, id).await?;
    if current.state == "resolved" {
        return Err(Error::Conflict(format!("alert {id} is already resolved")));
    }
    let now_s = stamp(now);
    let q = match action {
        "acknowledge" => sqlx::query("UPDATE alert_events SET state = 'acknowledged', snoozed_until = NULL, updated_at = ? WHERE id = ?")
            .bind(now_s)
            .bind(id),
        "snooze" => {
            let until = until.filter(|u| *u > now).ok_or_else(|| Error::bad_param("until", "expected a time in the future"))?;
            sqlx::query("UPDATE alert_events SET state = 'snoozed', snoozed_until = ?, updated_at = ? WHERE id = ?")
                .bind(stamp(until))
                .bind(now_s)
                .bind(id)
        }
        "resolve" => sqlx::query(
            "UPDATE alert_events SET state = 'resolved', resolved_at = ?, snoozed_until = NULL, updated_at = ? WHERE id = ?",
        )
        .bind(now_s.clone())
        .bind(now_s)
        .bind(id),
        other => return Err(Error::bad_param("action", format!("expected acknowledge, snooze or resolve, got {other:?}"))),
    };
    q.execute(pool).await?;
    event(pool, id).await
}

/// `until` or `minutes` from now, for a snooze.
/// The longest snooze by minutes: a year.
pub const MAX_SNOOZE_MINUTES: u32 = 366 * 24 * 60;

pub fn snooze_until(until: Option<&str>, minutes: Option<u32>, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    match (until, minutes) {
        (Some(u), _) => Ok(Some(parse_stamp("until", u)?)),
        (None, Some(m)) if (1..=MAX_SNOOZE_MINUTES).contains(&m) => {
            Ok(Some(now + chrono::Duration::minutes(i64::from(m))))
        }
        (None, Some(m)) => Err(Error::bad_param("minutes", format!("expected 1 to {MAX_SNOOZE_MINUTES}, got {m}"))),
        (None, None) => Ok(None),
    }
}
