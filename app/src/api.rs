//! Server functions: the pages' door to the engine.

use leptos::prelude::*;

use crate::model::{Overview, OverviewQuery};

#[server]
pub async fn get_overview(query: OverviewQuery) -> Result<Overview, ServerFnError> {
    use crate::state::AppState;
    let state = expect_context::<AppState>();
    state
        .engine
        .overview(query)
        .await
        .map_err(|e| ServerFnError::new(e.message))
}
