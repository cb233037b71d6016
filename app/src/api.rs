//! Server functions: the pages' door to the engine. Each asks the one service layer the
//! JSON API and the CLI use, so the numbers on a page are the API's.

use leptos::prelude::*;

use crate::model::{
    AlertEvent, AlertQuery, AlertRule, Breakdown, BreakdownQuery, CohortQuery, Cohorts, Holdout, HoldoutQuery, Member360, MemberPage, MembersQuery,
    ModelStatus, Overview, OverviewQuery, Segment, SegmentName, Trend, TrendQuery,
};

/// The engine's answer, or its message (safe to show) as the error.
#[cfg(feature = "ssr")]
async fn ask<T>(
    call: impl FnOnce(&dyn crate::state::Engine) -> crate::state::EngineFuture<T>,
) -> Result<T, ServerFnError> {
    let state = expect_context::<crate::state::AppState>();
    call(state.engine.as_ref()).await.map_err(|e| ServerFnError::new(e.message))
}

#[server]
pub async fn get_overview(query: OverviewQuery) -> Result<Overview, ServerFnError> {
    ask(|e| e.overview(query)).await
}

#[server]
pub async fn get_trend(query: TrendQuery) -> Result<Trend, ServerFnError> {
    ask(|e| e.trend(query)).await
}

#[server]
pub async fn get_breakdown(query: BreakdownQuery) -> Result<Breakdown, ServerFnError> {
    ask(|e| e.breakdown(query)).await
}

#[server]
pub async fn get_cohorts(query: CohortQuery) -> Result<Cohorts, ServerFnError> {
    ask(|e| e.cohorts(query)).await
}

#[server]
pub async fn get_members(query: MembersQuery) -> Result<MemberPage, ServerFnError> {
    ask(|e| e.members(query)).await
}

#[server]
pub async fn get_member(member_id: String) -> Result<Member360, ServerFnError> {
    ask(|e| e.member(member_id)).await
}

#[server]
pub async fn get_saved_segments() -> Result<Vec<Segment>, ServerFnError> {
    ask(|e| e.saved_segments()).await
}

#[server]
pub async fn get_segment_names() -> Result<Vec<SegmentName>, ServerFnError> {
    ask(|e| e.segment_names()).await
}

#[server]
pub async fn get_model_status() -> Result<ModelStatus, ServerFnError> {
    ask(|e| e.model_status()).await
}

#[server]
pub async fn get_holdout(query: HoldoutQuery) -> Result<Holdout, ServerFnError> {
    ask(|e| e.holdout(query)).await
}

#[server]
pub async fn get_alerts(query: AlertQuery) -> Result<Vec<AlertEvent>, ServerFnError> {
    ask(|e| e.alerts(query)).await
}

#[server]
pub async fn act_on_alert(id: i64, action: String, minutes: Option<u32>) -> Result<AlertEvent, ServerFnError> {
    ask(|e| e.act_on_alert(id, action, minutes)).await
}

#[server]
pub async fn get_alert_rules() -> Result<Vec<AlertRule>, ServerFnError> {
    ask(|e| e.alert_rules()).await
}

#[server]
pub async fn save_alert_rule(rule: AlertRule) -> Result<AlertRule, ServerFnError> {
    ask(|e| e.save_alert_rule(rule)).await
}
