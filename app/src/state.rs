//! What the server hands the pages: the engine behind the server functions.
//!
//! The engine lives in the `server` crate (DuckDB); the pages only know this trait, so
//! the UI, the JSON API and the CLI all go through the same service layer.

use std::{future::Future, pin::Pin, sync::Arc};

use crate::model::{Holdout, HoldoutQuery, ModelStatus, Overview, OverviewQuery};

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
    fn model_status(&self) -> EngineFuture<ModelStatus>;
    fn holdout(&self, query: HoldoutQuery) -> EngineFuture<Holdout>;
}

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<dyn Engine>,
}
