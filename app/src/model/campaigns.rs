//! Activation (SPEC §12): the messaging channels admins own, the triggers operators set on
//! them, and campaigns measured against a control group.

use serde::{Deserialize, Serialize};

use super::Channel;

/// Where triggered members are handed on: a channel an admin set up (webhook, WeCom or
/// DingTalk), named so that operators can choose it without seeing its URL.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MessagingChannel {
    /// Given by the server.
    #[serde(default)]
    pub id: i64,
    pub name: String,
    /// Only `webhook`, `wecom` and `dingtalk`. Operators see the URL without its path.
    pub channel: Channel,
    /// Whether members' names and phones go with their ids (webhooks only: a group robot
    /// posts into a chat). Off: ids and the facts that fired.
    #[serde(default)]
    pub personal_fields: bool,
}

/// What makes a trigger fire for a member (`kind`, with the parameters it uses).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TriggerWhen {
    /// A first purchase in the last `within_days` days (welcome).
    FirstPurchase { within_days: u32 },
    /// A buyer with no purchase for more than `days` days.
    NoPurchase { days: u32 },
    /// A high-value member (the model's top 20%) whose P(alive) is below `below`.
    PAliveBelow { below: f64 },
    /// Outstanding points worth at least `min_points` points that expire within `days`
    /// (30 or 90) days, as the points-expiring metrics count them.
    PointsExpiring { days: u32, min_points: i64 },
    /// Net spend over the last 365 days within `within_yuan` below `threshold_yuan`, the
    /// spend that earns tier `next_tier`, for members not in that tier.
    NearNextTier { next_tier: String, threshold_yuan: f64, within_yuan: f64 },
    /// Entering saved segment `segment`.
    EntersSegment { segment: String },
    /// Leaving saved segment `segment` (after having been in it since the trigger began).
    LeavesSegment { segment: String },
}

impl TriggerWhen {
    pub fn key(&self) -> &'static str {
        match self {
            TriggerWhen::FirstPurchase { .. } => "first_purchase",
            TriggerWhen::NoPurchase { .. } => "no_purchase",
            TriggerWhen::PAliveBelow { .. } => "p_alive_below",
            TriggerWhen::PointsExpiring { .. } => "points_expiring",
            TriggerWhen::NearNextTier { .. } => "near_next_tier",
            TriggerWhen::EntersSegment { .. } => "enters_segment",
            TriggerWhen::LeavesSegment { .. } => "leaves_segment",
        }
    }
}

/// A trigger: members are handed to `channels` once per episode of `when`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Trigger {
    /// Given by the server.
    #[serde(default)]
    pub id: i64,
    pub name: String,
    pub when: TriggerWhen,
    /// Messaging channel ids.
    pub channels: Vec<i64>,
    /// Send only this campaign's treatment arm (its control arm is held out).
    #[serde(default)]
    pub campaign: Option<i64>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Given by the server: members handed on, and held back (by consent, the frequency
    /// cap or a campaign's control arm), so far.
    #[serde(default)]
    pub sent: i64,
    #[serde(default)]
    pub held_back: i64,
    /// Given by the server: when its first evaluation took its baseline (the members
    /// already in its condition, not handed on); none before.
    #[serde(default)]
    pub armed_at: Option<String>,
}

impl Trigger {
    /// A new, enabled trigger (the server gives the rest).
    pub fn new(name: impl Into<String>, when: TriggerWhen, channels: Vec<i64>) -> Trigger {
        Trigger {
            id: 0,
            name: name.into(),
            when,
            channels,
            campaign: None,
            enabled: true,
            sent: 0,
            held_back: 0,
            armed_at: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// How often one member may be contacted across every trigger, and when not.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ContactPolicy {
    /// At most this many hand-ons per member in `per_days` days (0: no cap).
    pub max_contacts: u32,
    pub per_days: u32,
    /// Quiet hours in the retailer's time zone, `HH:MM` to `HH:MM` (may span midnight);
    /// none: any time. What fires then is sent when they end.
    #[serde(default)]
    pub quiet_from: Option<String>,
    #[serde(default)]
    pub quiet_to: Option<String>,
}

/// What a campaign is meant to move.
pub const CAMPAIGN_GOALS: [&str; 4] = ["reactivation", "repurchase", "revenue_per_member", "points_redemption"];

/// A campaign on a saved segment, with a control group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Campaign {
    /// Given by the server.
    #[serde(default)]
    pub id: i64,
    pub name: String,
    /// The saved segment whose members (on the start date) are the target group.
    pub segment: String,
    /// `YYYY-MM-DD`: the first day of the measured window.
    pub start: String,
    /// The window measured, in days from the start.
    pub window_days: u32,
    /// One of [`CAMPAIGN_GOALS`].
    pub goal: String,
    /// The share of the target group held out as control (0.05 to 0.5).
    pub control_share: f64,
    /// The draw's seed: the same seed and members give the same arms.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Given by the server: `drawn` or `imported`, and the arms' sizes.
    #[serde(default)]
    pub arms_from: Option<String>,
    #[serde(default)]
    pub treatment_members: i64,
    #[serde(default)]
    pub control_members: i64,
}

/// One arm of a readout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ArmReadout {
    /// `treatment` or `control`.
    pub arm: String,
    pub members: i64,
    pub conversions: i64,
    pub rate: f64,
    /// Net revenue in the window, in cents, and per member (yuan).
    pub revenue_cents: i64,
    pub revenue_per_member: f64,
}

/// A difference between the arms (treatment − control).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Comparison {
    /// `two_proportion_z` or `welch_t`.
    pub test: String,
    pub treatment: f64,
    pub control: f64,
    pub difference: f64,
    /// The 95% confidence interval of the difference.
    pub ci_low: f64,
    pub ci_high: f64,
    pub statistic: f64,
    /// Welch's degrees of freedom.
    #[serde(default)]
    pub df: Option<f64>,
    pub p_value: f64,
}

/// A campaign's readout over its window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Readout {
    pub campaign: Campaign,
    /// The window read: from the start to the earlier of its end and the latest data day.
    pub window_start: String,
    pub window_end: String,
    /// Whether the window is complete (the data reaches its end).
    pub complete: bool,
    /// Empty when withheld (an arm under the minimum group size, for executives).
    pub arms: Vec<ArmReadout>,
    /// The goal's rate (reactivation, repurchase or points redemption; a purchase for
    /// revenue per member) compared by a two-proportion z-test.
    pub rate: Option<Comparison>,
    /// Revenue per member (yuan) compared by Welch's t-test.
    pub revenue: Option<Comparison>,
    /// The sample ratio check: the control share drawn against the share asked.
    pub sample_ratio_p: Option<f64>,
    pub sample_ratio_mismatch: bool,
    pub verdict_zh: String,
    pub verdict_en: String,
    pub withheld: bool,
}
