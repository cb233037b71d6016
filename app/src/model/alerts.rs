//! Alert rules, events and their channels.

use serde::{Deserialize, Serialize};

/// Where an alert's notices go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Channel {
    /// A generic JSON webhook (the documented payload).
    Webhook { url: String },
    /// A WeCom (企业微信) group robot.
    Wecom { url: String },
    /// A DingTalk (钉钉) group robot.
    Dingtalk { url: String },
    /// A Feishu (飞书) group bot.
    Feishu { url: String },
    /// A Slack incoming webhook.
    Slack { url: String },
    /// E-mail over the configured SMTP server.
    Email { to: Vec<String> },
}

/// An alert rule (SPEC §7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertRule {
    /// Given by the server.
    #[serde(default)]
    pub id: i64,
    pub name: String,
    /// A metric key (see `/api/v1/metrics`).
    pub metric: String,
    /// A saved segment's key; none: all members.
    #[serde(default)]
    pub segment: Option<String>,
    /// `above`, `below` (the value against the threshold), `drop_pct`, `rise_pct` (the
    /// change against the comparison window, in percent, by more than the threshold).
    pub comparison: String,
    pub threshold: f64,
    pub window_days: u32,
    /// Evaluated this often (and after every data load).
    pub schedule_minutes: u32,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// A rule that stays in breach notifies again after this long (0: never).
    pub renotify_minutes: u32,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// A member behind an alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertMember {
    pub member_id: String,
    /// What the member spent in the 12 months to T, in cents.
    pub value_at_stake_cents: Option<i64>,
    pub p_alive: Option<f64>,
}

/// One breach of a rule, from firing to resolved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertEvent {
    pub id: i64,
    pub rule_id: i64,
    pub rule_name: String,
    pub metric: String,
    pub severity: String,
    /// `firing`, `acknowledged`, `snoozed` or `resolved`.
    pub state: String,
    pub opened_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub snoozed_until: Option<String>,
    pub as_of: String,
    pub window_start: String,
    pub window_end: String,
    pub value: Option<f64>,
    pub comparison_value: Option<f64>,
    pub threshold: f64,
    pub comparison: String,
    pub members_total: Option<i64>,
    /// The members of the rule's segment when it was read (none for all members; never
    /// shown to executives).
    #[serde(default)]
    pub population: Option<i64>,
    /// Whether executives may see the values: their view of the rule's segment was not
    /// withheld when it was read (see docs/security.md).
    #[serde(default = "yes")]
    pub executives_see: bool,
    /// The first members behind it, most value at stake first.
    pub members: Vec<AlertMember>,
    /// The drill-down of the breach (a path on this server).
    pub link: String,
}

/// Alert history filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct AlertQuery {
    /// `firing`, `acknowledged`, `snoozed`, `resolved`, or `open` (any but resolved).
    pub state: Option<String>,
    pub rule_id: Option<i64>,
    pub severity: Option<String>,
    pub limit: Option<u32>,
}

/// Snoozing an alert.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SnoozeRequest {
    /// Until when, `YYYY-MM-DDTHH:MM:SSZ`; or `minutes` from now.
    pub until: Option<String>,
    pub minutes: Option<u32>,
}
