//! Server functions: the pages' door to the engine.

use leptos::prelude::*;

use crate::model::{Holdout, HoldoutQuery, ModelStatus, Overview, OverviewQuery};

/// The engine's answer, or its message (safe to show) as the error.
#[cfg(feature = "ssr")]
fn answer<T>(result: Result<T, crate::state::EngineError>) -> Result<T, ServerFnError> {
    result.map_err(|e| ServerFnError::new(e.message))
}

#[server]
pub async fn get_overview(query: OverviewQuery) -> Result<Overview, ServerFnError> {
    use crate::state::AppState;
    answer(expect_context::<AppState>().engine.overview(query).await)
}

#[server]
pub async fn get_model_status() -> Result<ModelStatus, ServerFnError> {
    use crate::state::AppState;
    answer(expect_context::<AppState>().engine.model_status().await)
}

#[server]
pub async fn get_holdout(query: HoldoutQuery) -> Result<Holdout, ServerFnError> {
    use crate::state::AppState;
    answer(expect_context::<AppState>().engine.holdout(query).await)
}
