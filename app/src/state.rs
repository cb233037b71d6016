//! What the server hands the pages: the engine behind the server functions.
//!
//! The engine lives in the `server` crate (DuckDB); the pages only know this trait, so
//! the UI, the JSON API and the CLI all go through the same service layer.

use std::{future::Future, pin::Pin, sync::Arc};

use crate::model::{
    AlertEvent, AlertQuery, AlertRule, Breakdown, BreakdownQuery, CohortQuery, Cohorts, Holdout, HoldoutQuery, Member360, MemberPage, MembersQuery,
    ModelStatus, Overview, OverviewQuery, Segment, SegmentName, Trend, TrendQuery,
};

pub type EngineFuture<T> = Pin<Box<dyn Future<Output = Result<T, EngineError>> + Send>>;

/// An engine failure as the pages see it: a message safe to show, and whether the
/// caller's input was at fault.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    pub message: String,
    pub bad_input: bool,
}

pub trait Engine: Send + Sync + 'static {
    fn overview(&self, query: OverviewQuery) -> EngineFuture<Overview>;
    fn trend(&self, query: TrendQuery) -> EngineFuture<Trend>;
    fn breakdown(&self, query: BreakdownQuery) -> EngineFuture<Breakdown>;
    fn cohorts(&self, query: CohortQuery) -> EngineFuture<Cohorts>;
    fn members(&self, query: MembersQuery) -> EngineFuture<MemberPage>;
    /// A member's 360 record; an unknown member is an error saying so.
    fn member(&self, member_id: String) -> EngineFuture<Member360>;
    fn saved_segments(&self) -> EngineFuture<Vec<Segment>>;
    /// The named RFM segments' keys and names, in priority order.
    fn segment_names(&self) -> EngineFuture<Vec<SegmentName>>;
    fn model_status(&self) -> EngineFuture<ModelStatus>;
    fn alerts(&self, query: AlertQuery) -> EngineFuture<Vec<AlertEvent>>;
    fn alert_rules(&self) -> EngineFuture<Vec<AlertRule>>;
    /// Creates the rule (id 0) or replaces it.
    fn save_alert_rule(&self, rule: AlertRule) -> EngineFuture<AlertRule>;
    /// `acknowledge`, `snooze` (for `minutes`) or `resolve`.
    fn act_on_alert(&self, id: i64, action: String, minutes: Option<u32>) -> EngineFuture<AlertEvent>;
    fn holdout(&self, query: HoldoutQuery) -> EngineFuture<Holdout>;
}

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<dyn Engine>,
}
