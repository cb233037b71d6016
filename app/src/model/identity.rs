//! Identities, the rules that find members who are one person, and merges (SPEC §11).

use serde::{Deserialize, Serialize};

/// The kinds of identity a member may have besides their member id.
pub const IDENTITY_KINDS: [&str; 6] =
    ["pos_card", "mini_program_openid", "wechat_unionid", "app_account", "web_account", "phone"];

/// What a matching rule may compare besides identities: the birth year.
pub const RULE_FIELDS: [&str; 1] = ["birth_year"];

/// One identity of a member: a phone is shown as `(keyed hash)`, never its number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Identity {
    /// The member id it was loaded for (a member merged into this one, or this one).
    pub member_id: String,
    pub kind: String,
    pub value: String,
}

/// A matching rule: members who share every one of `match_on` (identity kinds, and
/// optionally `birth_year`) are proposed as one person. An automatic rule's pairs are
/// merged without review (`POST /api/v1/identity/merges/automatic`, and after each load).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct IdentityRule {
    /// Given by the server; none when creating.
    #[serde(default)]
    pub id: Option<i64>,
    pub name: String,
    pub match_on: Vec<String>,
    #[serde(default)]
    pub automatic: bool,
}

/// Two members a rule says are the same person, with the evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Candidate {
    pub rule_id: i64,
    pub rule: String,
    /// The member who would survive a merge: the earlier to join (then the smaller id).
    pub survivor: CandidateMember,
    pub merged: CandidateMember,
    /// What they share, e.g. `wechat_unionid = oU8x…`, `phone (keyed hash)`, `birth_year = 1988`.
    pub evidence: Vec<String>,
}

/// A candidate's member as the admin reviews them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CandidateMember {
    pub member_id: String,
    pub joined_at: Option<String>,
    pub join_channel: Option<String>,
    pub purchases: i64,
    pub revenue_cents: i64,
    /// The channels of their orders: store, app, mini_program, web.
    pub channels: Vec<String>,
}

/// Merge members into a survivor: one pair, or many.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MergeRequest {
    pub survivor: String,
    pub merged: Vec<String>,
}

/// What a merge (or an undo) moved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MergeReport {
    pub merge_ids: Vec<i64>,
    pub orders: i64,
    pub points: i64,
    pub tier_changes: i64,
}

/// One merge, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MergeRecord {
    pub merge_id: i64,
    pub survivor: String,
    pub merged: String,
    pub merged_at: String,
    pub merged_by: String,
    /// The automatic rule that merged them; none for an admin's decision.
    pub rule: Option<String>,
    pub undone_at: Option<String>,
    pub undone_by: Option<String>,
}
