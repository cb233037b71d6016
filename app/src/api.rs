//! Server functions: the pages' door to the engine. Each asks the one service layer the
//! JSON API and the CLI use, as the signed-in viewer, so the numbers on a page — and what
//! a role may not see — are the API's. Each is `POST /api/<its name>` with its arguments
//! as a JSON object (the access tests call every one as every role).

use leptos::{prelude::*, server_fn::codec::Json};

use crate::model::{
    AlertEvent, AlertQuery, AlertRule, ApiToken, AuditEntry, AuditQuery, Breakdown, BreakdownQuery, Campaign,
    Candidate, CohortQuery, Cohorts, ContactPolicy, ErasureReport, Holdout, HoldoutQuery, LoadRecord, LoadReject,
    Member360, MemberPage, MembersQuery, MergeRecord, MergeReport, MergeRequest, MessagingChannel, ModelStatus,
    Overview, OverviewQuery, PrivacyRequest, Readout, RetentionPreview, RfmRule, Segment, SegmentName, TierMigration,
    TierMigrationQuery, TokenRequest, Trend, TrendQuery, Trigger, User, UserChange, Viewer,
};

/// Who signed in: the request's viewer, which the server's access layer put there.
#[cfg(feature = "ssr")]
fn viewer() -> Option<Viewer> {
    use_context::<http::request::Parts>().and_then(|p| p.extensions.get::<Viewer>().cloned())
}

/// The engine's answer as the viewer, or its message (safe to show) as the error, with
/// the engine's status (401 without a session, 403 for a role that may not).
#[cfg(feature = "ssr")]
async fn ask<T>(
    call: impl FnOnce(&dyn crate::state::Engine, Viewer) -> crate::state::EngineFuture<T>,
) -> Result<T, ServerFnError> {
    use crate::state::EngineError;
    let state = expect_context::<crate::state::AppState>();
    let response = use_context::<leptos_axum::ResponseOptions>();
    let answer = match viewer() {
        Some(who) => call(state.engine.as_ref(), who).await,
        None => Err(EngineError { message: "authentication required".into(), bad_input: false, status: 401 }),
    };
    answer.map_err(|e| {
        if let (Some(r), Ok(status)) = (response, http::StatusCode::from_u16(e.status)) {
            r.set_status(status);
        }
        ServerFnError::new(e.message)
    })
}

/// The signed-in viewer, or none.
#[server(endpoint = "get_viewer", input = Json)]
pub async fn get_viewer() -> Result<Option<Viewer>, ServerFnError> {
    Ok(viewer())
}

/// Keeps the viewer's language (`zh` or `en`) for their next sign-in.
#[server(endpoint = "save_language", input = Json)]
pub async fn save_language(lang: String) -> Result<(), ServerFnError> {
    ask(|e, who| e.save_language(who, lang)).await
}

#[server(endpoint = "get_overview", input = Json)]
pub async fn get_overview(query: OverviewQuery) -> Result<Overview, ServerFnError> {
    ask(|e, who| e.overview(who, query)).await
}

#[server(endpoint = "get_trend", input = Json)]
pub async fn get_trend(query: TrendQuery) -> Result<Trend, ServerFnError> {
    ask(|e, who| e.trend(who, query)).await
}

#[server(endpoint = "get_breakdown", input = Json)]
pub async fn get_breakdown(query: BreakdownQuery) -> Result<Breakdown, ServerFnError> {
    ask(|e, who| e.breakdown(who, query)).await
}

#[server(endpoint = "get_cohorts", input = Json)]
pub async fn get_cohorts(query: CohortQuery) -> Result<Cohorts, ServerFnError> {
    ask(|e, who| e.cohorts(who, query)).await
}

#[server(endpoint = "get_members", input = Json)]
pub async fn get_members(query: MembersQuery) -> Result<MemberPage, ServerFnError> {
    ask(|e, who| e.members(who, query)).await
}

#[server(endpoint = "get_member", input = Json)]
pub async fn get_member(member_id: String) -> Result<Member360, ServerFnError> {
    ask(|e, who| e.member(who, member_id)).await
}

#[server(endpoint = "get_saved_segments", input = Json)]
pub async fn get_saved_segments() -> Result<Vec<Segment>, ServerFnError> {
    ask(|e, who| e.saved_segments(who)).await
}

#[server(endpoint = "get_rfm_rules", input = Json)]
pub async fn get_rfm_rules() -> Result<Vec<RfmRule>, ServerFnError> {
    ask(|e, who| e.rfm_rules(who)).await
}

#[server(endpoint = "save_rfm_rules", input = Json)]
pub async fn save_rfm_rules(rules: Vec<RfmRule>) -> Result<Vec<RfmRule>, ServerFnError> {
    ask(|e, who| e.save_rfm_rules(who, rules)).await
}

#[server(endpoint = "get_segment_names", input = Json)]
pub async fn get_segment_names() -> Result<Vec<SegmentName>, ServerFnError> {
    ask(|e, who| e.segment_names(who)).await
}

/// Saves the view's filters as a new segment (operators and admins; audited).
#[server(endpoint = "create_segment", input = Json)]
pub async fn create_segment(segment: Segment) -> Result<Segment, ServerFnError> {
    ask(|e, who| e.create_segment(who, segment)).await
}

/// Renames a saved segment or changes its filters (operators and admins; audited).
#[server(endpoint = "update_segment", input = Json)]
pub async fn update_segment(segment: Segment) -> Result<Segment, ServerFnError> {
    ask(|e, who| e.update_segment(who, segment)).await
}

/// Deletes a saved segment (operators and admins; audited).
#[server(endpoint = "delete_segment", input = Json)]
pub async fn delete_segment(key: String) -> Result<(), ServerFnError> {
    ask(|e, who| e.delete_segment(who, key)).await
}

#[server(endpoint = "get_tier_migration", input = Json)]
pub async fn get_tier_migration(query: TierMigrationQuery) -> Result<TierMigration, ServerFnError> {
    ask(|e, who| e.tier_migration(who, query)).await
}

#[server(endpoint = "get_model_status", input = Json)]
pub async fn get_model_status() -> Result<ModelStatus, ServerFnError> {
    ask(|e, who| e.model_status(who)).await
}

#[server(endpoint = "get_holdout", input = Json)]
pub async fn get_holdout(query: HoldoutQuery) -> Result<Holdout, ServerFnError> {
    ask(|e, who| e.holdout(who, query)).await
}

#[server(endpoint = "get_alerts", input = Json)]
pub async fn get_alerts(query: AlertQuery) -> Result<Vec<AlertEvent>, ServerFnError> {
    ask(|e, who| e.alerts(who, query)).await
}

#[server(endpoint = "act_on_alert", input = Json)]
pub async fn act_on_alert(id: i64, action: String, minutes: Option<u32>) -> Result<AlertEvent, ServerFnError> {
    ask(|e, who| e.act_on_alert(who, id, action, minutes)).await
}

#[server(endpoint = "get_alert_rules", input = Json)]
pub async fn get_alert_rules() -> Result<Vec<AlertRule>, ServerFnError> {
    ask(|e, who| e.alert_rules(who)).await
}

#[server(endpoint = "save_alert_rule", input = Json)]
pub async fn save_alert_rule(rule: AlertRule) -> Result<AlertRule, ServerFnError> {
    ask(|e, who| e.save_alert_rule(who, rule)).await
}

#[server(endpoint = "get_users", input = Json)]
pub async fn get_users() -> Result<Vec<User>, ServerFnError> {
    ask(|e, who| e.users(who)).await
}

#[server(endpoint = "save_user", input = Json)]
pub async fn save_user(change: UserChange, create: bool) -> Result<User, ServerFnError> {
    ask(|e, who| e.save_user(who, change, create)).await
}

#[server(endpoint = "get_tokens", input = Json)]
pub async fn get_tokens() -> Result<Vec<ApiToken>, ServerFnError> {
    ask(|e, who| e.tokens(who)).await
}

#[server(endpoint = "create_token", input = Json)]
pub async fn create_token(request: TokenRequest) -> Result<ApiToken, ServerFnError> {
    ask(|e, who| e.create_token(who, request)).await
}

#[server(endpoint = "revoke_token", input = Json)]
pub async fn revoke_token(id: i64) -> Result<ApiToken, ServerFnError> {
    ask(|e, who| e.revoke_token(who, id)).await
}

#[server(endpoint = "get_loads", input = Json)]
pub async fn get_loads() -> Result<Vec<LoadRecord>, ServerFnError> {
    ask(|e, who| e.loads(who)).await
}

#[server(endpoint = "get_load_rejects", input = Json)]
pub async fn get_load_rejects(id: i64) -> Result<Vec<LoadReject>, ServerFnError> {
    ask(|e, who| e.load_rejects(who, id)).await
}

#[server(endpoint = "get_audit", input = Json)]
pub async fn get_audit(query: AuditQuery) -> Result<Vec<AuditEntry>, ServerFnError> {
    ask(|e, who| e.audit(who, query)).await
}

#[server(endpoint = "privacy_access", input = Json)]
pub async fn privacy_access(request: PrivacyRequest) -> Result<String, ServerFnError> {
    ask(|e, who| e.privacy_access(who, request)).await
}

#[server(endpoint = "erase_member", input = Json)]
pub async fn erase_member(request: PrivacyRequest) -> Result<ErasureReport, ServerFnError> {
    ask(|e, who| e.erase_member(who, request)).await
}

#[server(endpoint = "get_retention_preview", input = Json)]
pub async fn get_retention_preview(days: Option<u32>) -> Result<RetentionPreview, ServerFnError> {
    ask(|e, who| e.retention_preview(who, days)).await
}

#[server(endpoint = "get_identity_candidates", input = Json)]
pub async fn get_identity_candidates() -> Result<Vec<Candidate>, ServerFnError> {
    ask(|e, who| e.identity_candidates(who)).await
}

#[server(endpoint = "get_merges", input = Json)]
pub async fn get_merges() -> Result<Vec<MergeRecord>, ServerFnError> {
    ask(|e, who| e.merges(who)).await
}

#[server(endpoint = "merge_members", input = Json)]
pub async fn merge_members(request: MergeRequest) -> Result<MergeReport, ServerFnError> {
    ask(|e, who| e.merge_members(who, request)).await
}

#[server(endpoint = "undo_merge", input = Json)]
pub async fn undo_merge(merge_id: i64) -> Result<MergeReport, ServerFnError> {
    ask(|e, who| e.undo_merge(who, merge_id)).await
}

#[server(endpoint = "get_campaigns", input = Json)]
pub async fn get_campaigns() -> Result<Vec<Campaign>, ServerFnError> {
    ask(|e, who| e.campaigns(who)).await
}

#[server(endpoint = "create_campaign", input = Json)]
pub async fn create_campaign(campaign: Campaign) -> Result<Campaign, ServerFnError> {
    ask(|e, who| e.create_campaign(who, campaign)).await
}

#[server(endpoint = "get_campaign_readout", input = Json)]
pub async fn get_campaign_readout(id: i64) -> Result<Readout, ServerFnError> {
    ask(|e, who| e.campaign_readout(who, id)).await
}

#[server(endpoint = "get_triggers", input = Json)]
pub async fn get_triggers() -> Result<Vec<Trigger>, ServerFnError> {
    ask(|e, who| e.triggers(who)).await
}

#[server(endpoint = "save_trigger", input = Json)]
pub async fn save_trigger(trigger: Trigger) -> Result<Trigger, ServerFnError> {
    ask(|e, who| e.save_trigger(who, trigger)).await
}

#[server(endpoint = "delete_trigger", input = Json)]
pub async fn delete_trigger(id: i64) -> Result<(), ServerFnError> {
    ask(|e, who| e.delete_trigger(who, id)).await
}

#[server(endpoint = "get_messaging_channels", input = Json)]
pub async fn get_messaging_channels() -> Result<Vec<MessagingChannel>, ServerFnError> {
    ask(|e, who| e.messaging_channels(who)).await
}

#[server(endpoint = "create_messaging_channel", input = Json)]
pub async fn create_messaging_channel(channel: MessagingChannel) -> Result<MessagingChannel, ServerFnError> {
    ask(|e, who| e.create_messaging_channel(who, channel)).await
}

#[server(endpoint = "get_contact_policy", input = Json)]
pub async fn get_contact_policy() -> Result<ContactPolicy, ServerFnError> {
    ask(|e, who| e.contact_policy(who)).await
}

#[server(endpoint = "save_contact_policy", input = Json)]
pub async fn save_contact_policy(policy: ContactPolicy) -> Result<ContactPolicy, ServerFnError> {
    ask(|e, who| e.save_contact_policy(who, policy)).await
}
