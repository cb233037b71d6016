//! Member lists and the member 360 record.

use serde::{Deserialize, Serialize};

use super::*;

/// A member-list request; raw text, validated on the server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct MembersQuery {
    /// Filters as in [`BreakdownQuery::filters`], evaluated as of `as_of`.
    pub filters: Option<String>,
    pub as_of: Option<String>,
    /// A column, `-` first for descending: `revenue`, `-last_purchase_at`, …
    pub sort: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
    /// A saved segment's key; its filters combine with `filters`.
    pub segment: Option<String>,
    /// Find one member: a member id, or a whole phone number (exact match; spaces are
    /// ignored, a part of a number finds nothing). Combines with the filters. Audited
    /// with the number masked.
    pub find: Option<String>,
    /// Marketing consent: `given` (the member's latest consent is yes) or `not_given`
    /// (withdrawn, or never recorded).
    pub consent: Option<String>,
    /// `outreach` for a CSV meant for contacting members: it holds only members who gave
    /// consent, and says how many of the selection it left out (the
    /// `X-MemberPulse-Left-Out` header).
    pub purpose: Option<String>,
}

/// A member as listed; name and phone are masked (`张*`, `138****5678`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberRow {
    pub member_id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub region: Option<String>,
    pub tier: Option<String>,
    pub join_channel: Option<String>,
    pub joined_at: Option<String>,
    pub first_purchase_at: Option<String>,
    pub last_purchase_at: Option<String>,
    pub purchases: i64,
    /// Net revenue, returns included, in cents.
    pub revenue_cents: i64,
    pub points_balance: i64,
    /// From the last model fit (none for a member without a purchase by its T).
    pub p_alive: Option<f64>,
    /// Predicted 12-month CLV, in the store currency.
    pub clv_12m: Option<f64>,
    /// Net revenue in the 12 months to the fit's T, in cents: what the member stands
    /// for if lost.
    pub revenue_12m_cents: Option<i64>,
    /// In the top 20% by predicted or historical value at the fit's T.
    pub high_value: Option<bool>,
    /// The member's latest marketing consent (none when never recorded).
    #[serde(default)]
    pub marketing_consent: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberPage {
    pub as_of: String,
    pub filters: Vec<Filter>,
    pub ranges: Vec<RangeFilter>,
    pub sort: String,
    pub page: u32,
    pub page_size: u32,
    /// Members matching the filters, over all pages.
    pub total: i64,
    pub rows: Vec<MemberRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberOrder {
    pub order_id: String,
    pub ordered_at: String,
    pub net_amount_cents: i64,
    pub channel: Option<String>,
    pub store_id: Option<String>,
    pub item_count: Option<i32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberPoints {
    pub entry_id: String,
    pub occurred_at: String,
    pub kind: String,
    pub points: i64,
    pub source: Option<String>,
    pub order_id: Option<String>,
}

/// Everything about one member: profile, orders across channels, points ledger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Member360 {
    pub member: MemberRow,
    pub gender: Option<String>,
    pub birth_year: Option<i32>,
    pub home_store_id: Option<String>,
    /// Lifecycle stage as of the latest order date.
    pub stage: String,
    /// Newest first.
    pub orders: Vec<MemberOrder>,
    /// Newest first.
    pub points: Vec<MemberPoints>,
    /// What the last model fit says of the member (none before a fit, or for a member
    /// without a purchase by its T).
    pub prediction: Option<MemberPrediction>,
    /// RFM scores and named segment as of the latest order date (none without a
    /// purchase in the lookback).
    pub rfm: Option<MemberRfm>,
    /// Tier history, newest first.
    pub tier_changes: Vec<MemberTierChange>,
    /// Every recorded marketing consent change, newest first (the first is the
    /// member's consent now).
    #[serde(default)]
    pub consent_history: Vec<ConsentChange>,
    /// The member's identities and those of members merged into them (masked unless the
    /// viewer is an admin; a phone shows as its keyed hash only).
    #[serde(default)]
    pub identities: Vec<Identity>,
}

/// One recorded marketing consent change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConsentChange {
    /// Given (true) or withdrawn (false).
    pub consent: bool,
    /// When the member gave or withdrew it.
    pub given_at: String,
    /// Through which channel (store, app, mini_program, web, …).
    pub channel: Option<String>,
    /// `load` (a members file or the ingest API) or `api` (the consent API).
    pub source: String,
    /// When MemberPulse recorded it.
    pub recorded_at: String,
}

/// A consent change sent to `POST /api/v1/members/{member_id}/consent`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConsentRequest {
    /// Given (true) or withdrawn (false).
    pub consent: bool,
    /// When the member gave or withdrew it (ISO-8601; default: now, in the retailer's
    /// time zone).
    pub given_at: Option<String>,
    /// Through which channel.
    pub channel: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberRfm {
    pub r: i32,
    pub f: i32,
    pub m: i32,
    /// The named segment's key (`other` when no rule matches).
    pub segment: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberTierChange {
    pub changed_at: String,
    pub tier: String,
}

/// A member's scores from the last BG/NBD + Gamma-Gamma fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberPrediction {
    /// The T of the fit.
    pub as_of: String,
    #[serde(flatten)]
    pub score: MemberScore,
}

/// What the purchase and spend models say of one member.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MemberScore {
    pub p_alive: f64,
    pub purchases_30d: f64,
    pub purchases_90d: f64,
    pub purchases_365d: f64,
    pub spend_per_purchase: f64,
    /// Expected net revenue in the next 12 months, discounted.
    pub clv_12m: f64,
}

/// Which member a privacy request is about: by id, or by a whole phone number (exactly
/// one member must have it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PrivacyRequest {
    pub member_id: Option<String>,
    pub phone: Option<String>,
    /// Erasure only: why (the request's reference); kept with the erasure.
    pub reason: Option<String>,
    /// Access only: `html` for a readable page instead of JSON.
    pub format: Option<String>,
}

/// The retention period a preview is asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
pub struct RetentionQuery {
    /// Days without a purchase or consent activity (default: the server's period).
    pub days: Option<u32>,
}

/// What the retention job would do (a preview) or did: the members with no purchase and
/// no consent activity since the cutoff, whose name and phone it removes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetentionPreview {
    /// The retention period, in days.
    pub days: u32,
    /// No activity since this time (the retailer's local time, `YYYY-MM-DD HH:MM:SS`).
    pub cutoff: String,
    /// How many members it strips.
    pub members: i64,
    /// The first of them by id (at most 100).
    pub first: Vec<String>,
    /// The period the server's daily job runs with (`--personal-data-retention-days`), if on.
    pub configured_days: Option<u32>,
}

/// What an erasure did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErasureReport {
    /// The id that now stands for the member everywhere.
    pub pseudonym: String,
    /// Rows whose member id became the pseudonym, per analytics table.
    pub rows: Vec<(String, usize)>,
    /// Rows of the operational store (alert events, notices, audit) that named the member.
    pub operational_rows: u64,
    /// The analytics file's size before and after it was copied anew.
    pub file_bytes: (u64, u64),
}
