//! What the server hands the pages: the engine behind the server functions.
//!
//! The engine lives in the `server` crate (DuckDB); the pages only know this trait, so
//! the UI, the JSON API and the CLI all go through the same service layer. Every call
//! names the signed-in [`Viewer`]; the engine checks what their role may see.

use std::{future::Future, pin::Pin, sync::Arc};

use crate::model::{
    AlertEvent, AlertQuery, AlertRule, ApiToken, AuditEntry, AuditQuery, Breakdown, BreakdownQuery, Campaign,
    Candidate, CohortQuery, Cohorts, ContactPolicy, ErasureReport, Holdout, HoldoutQuery, LoadRecord, LoadReject,
    Member360, MemberPage, MembersQuery, MergeRecord, MergeReport, MergeRequest, MessagingChannel, ModelStatus,
    Overview, OverviewQuery, PrivacyRequest, Readout, RetentionPreview, RfmRule, Segment, SegmentName, TierMigration,
    TierMigrationQuery, TokenRequest, Trend, TrendQuery, Trigger, User, UserChange, Viewer,
};

pub type EngineFuture<T> = Pin<Box<dyn Future<Output = Result<T, EngineError>> + Send>>;

/// An engine failure as the pages see it: a message safe to show, whether the caller's
/// input was at fault, and the HTTP status the server function answers with.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    pub message: String,
    pub bad_input: bool,
    pub status: u16,
}

pub trait Engine: Send + Sync + 'static {
    fn overview(&self, who: Viewer, query: OverviewQuery) -> EngineFuture<Overview>;
    fn trend(&self, who: Viewer, query: TrendQuery) -> EngineFuture<Trend>;
    fn breakdown(&self, who: Viewer, query: BreakdownQuery) -> EngineFuture<Breakdown>;
    fn cohorts(&self, who: Viewer, query: CohortQuery) -> EngineFuture<Cohorts>;
    fn members(&self, who: Viewer, query: MembersQuery) -> EngineFuture<MemberPage>;
    /// A member's 360 record; an unknown member is an error saying so.
    fn member(&self, who: Viewer, member_id: String) -> EngineFuture<Member360>;
    fn saved_segments(&self, who: Viewer) -> EngineFuture<Vec<Segment>>;
    /// The named RFM segments' keys and names, in priority order.
    fn segment_names(&self, who: Viewer) -> EngineFuture<Vec<SegmentName>>;
    /// The RFM rule table, by priority.
    fn rfm_rules(&self, who: Viewer) -> EngineFuture<Vec<RfmRule>>;
    /// Replaces the whole RFM rule table (admins); a bad rule is a 400 naming
    /// `rules[i].field`.
    fn save_rfm_rules(&self, who: Viewer, rules: Vec<RfmRule>) -> EngineFuture<Vec<RfmRule>>;
    /// Saves a new segment (operators and admins); a key in use is a conflict.
    fn create_segment(&self, who: Viewer, segment: Segment) -> EngineFuture<Segment>;
    fn update_segment(&self, who: Viewer, segment: Segment) -> EngineFuture<Segment>;
    fn delete_segment(&self, who: Viewer, key: String) -> EngineFuture<()>;
    fn tier_migration(&self, who: Viewer, query: TierMigrationQuery) -> EngineFuture<TierMigration>;
    fn model_status(&self, who: Viewer) -> EngineFuture<ModelStatus>;
    fn alerts(&self, who: Viewer, query: AlertQuery) -> EngineFuture<Vec<AlertEvent>>;
    fn alert_rules(&self, who: Viewer) -> EngineFuture<Vec<AlertRule>>;
    /// Creates the rule (id 0) or replaces it.
    fn save_alert_rule(&self, who: Viewer, rule: AlertRule) -> EngineFuture<AlertRule>;
    /// `acknowledge`, `snooze` (for `minutes`) or `resolve`.
    fn act_on_alert(&self, who: Viewer, id: i64, action: String, minutes: Option<u32>) -> EngineFuture<AlertEvent>;
    fn holdout(&self, who: Viewer, query: HoldoutQuery) -> EngineFuture<Holdout>;
    fn users(&self, who: Viewer) -> EngineFuture<Vec<User>>;
    /// Creates the user (`create`) or changes it.
    fn save_user(&self, who: Viewer, change: UserChange, create: bool) -> EngineFuture<User>;
    fn tokens(&self, who: Viewer) -> EngineFuture<Vec<ApiToken>>;
    fn create_token(&self, who: Viewer, request: TokenRequest) -> EngineFuture<ApiToken>;
    fn revoke_token(&self, who: Viewer, id: i64) -> EngineFuture<ApiToken>;
    fn audit(&self, who: Viewer, query: AuditQuery) -> EngineFuture<Vec<AuditEntry>>;
    /// The latest data loads, newest first (admins).
    fn loads(&self, who: Viewer) -> EngineFuture<Vec<LoadRecord>>;
    /// The rows one load rejected, as its report lists them (admins).
    fn load_rejects(&self, who: Viewer, id: i64) -> EngineFuture<Vec<LoadReject>>;
    /// Everything held on one member (PIPL art. 45), as indented JSON (admins; audited).
    fn privacy_access(&self, who: Viewer, request: PrivacyRequest) -> EngineFuture<String>;
    /// Erases a member (PIPL art. 47; admins; audited under the pseudonym).
    fn erase_member(&self, who: Viewer, request: PrivacyRequest) -> EngineFuture<ErasureReport>;
    /// How many members a retention period (or the server's) would strip now (admins).
    fn retention_preview(&self, who: Viewer, days: Option<u32>) -> EngineFuture<RetentionPreview>;
    /// The pairs the identity rules propose as one person (admins; audited).
    fn identity_candidates(&self, who: Viewer) -> EngineFuture<Vec<Candidate>>;
    /// The merges, newest first (admins).
    fn merges(&self, who: Viewer) -> EngineFuture<Vec<MergeRecord>>;
    /// Merges members into a survivor (admins; audited).
    fn merge_members(&self, who: Viewer, request: MergeRequest) -> EngineFuture<MergeReport>;
    /// Undoes a merge exactly (admins; audited).
    fn undo_merge(&self, who: Viewer, merge_id: i64) -> EngineFuture<MergeReport>;
    /// Every campaign, newest first, with its arms' sizes (any role).
    fn campaigns(&self, who: Viewer) -> EngineFuture<Vec<Campaign>>;
    /// Defines a campaign and draws its arms (operators; audited).
    fn create_campaign(&self, who: Viewer, campaign: Campaign) -> EngineFuture<Campaign>;
    /// A campaign's readout (any role; executives get no figures for a small arm).
    fn campaign_readout(&self, who: Viewer, id: i64) -> EngineFuture<Readout>;
    /// The triggers, with what each handed on (operators).
    fn triggers(&self, who: Viewer) -> EngineFuture<Vec<Trigger>>;
    /// Creates the trigger (id 0) or replaces it (operators; audited).
    fn save_trigger(&self, who: Viewer, trigger: Trigger) -> EngineFuture<Trigger>;
    fn delete_trigger(&self, who: Viewer, id: i64) -> EngineFuture<()>;
    /// The messaging channels (operators see their URLs without path or query).
    fn messaging_channels(&self, who: Viewer) -> EngineFuture<Vec<MessagingChannel>>;
    /// Adds a messaging channel (admins; audited).
    fn create_messaging_channel(&self, who: Viewer, channel: MessagingChannel) -> EngineFuture<MessagingChannel>;
    fn contact_policy(&self, who: Viewer) -> EngineFuture<ContactPolicy>;
    /// Sets the frequency cap and quiet hours (admins; audited).
    fn save_contact_policy(&self, who: Viewer, policy: ContactPolicy) -> EngineFuture<ContactPolicy>;
    /// Keeps the viewer's language, `zh` or `en`.
    fn save_language(&self, who: Viewer, lang: String) -> EngineFuture<()>;
}

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<dyn Engine>,
}
