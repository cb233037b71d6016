//! The service layer: what the pages, the JSON API and the CLI ask of the engine.

use std::{path::PathBuf, sync::Arc};

use app::{
    model::{Overview, OverviewQuery},
    state::{Engine, EngineError, EngineFuture},
};

use crate::{
    Result,
    analytics::Analytics,
    import::{self, LoadReport, LoadRequest},
    metrics::{self, MetricConfig},
    operational::{self, Pool},
};

#[derive(Clone)]
pub struct Services {
    pub analytics: Analytics,
    pub ops: Pool,
    pub metrics: MetricConfig,
}

impl Services {
    pub async fn overview(&self, query: OverviewQuery) -> Result<Overview> {
        let cfg = self.metrics;
        self.analytics
            .read(move |conn| {
                let req = metrics::resolve(conn, &query)?;
                metrics::overview(conn, req, cfg)
            })
            .await
    }

    /// Loads one file through the single writer and records the load.
    pub async fn load(&self, request: LoadRequest) -> Result<LoadReport> {
        let report = self
            .analytics
            .write(move |conn| import::load(conn, &request, None))
            .await?;
        operational::record_load(&self.ops, &report).await?;
        Ok(report)
    }

    pub fn data_file(&self) -> PathBuf {
        self.analytics.path().to_path_buf()
    }
}

impl Engine for Services {
    fn overview(&self, query: OverviewQuery) -> EngineFuture<Overview> {
        let this = self.clone();
        Box::pin(async move {
            this.overview(query).await.map_err(|e| EngineError {
                bad_input: e.is_bad_input(),
                message: {
                    if !e.is_bad_input() {
                        tracing::error!(error = %e, "overview failed");
                    }
                    e.public_message()
                },
            })
        })
    }
}

pub fn app_state(services: &Services) -> app::state::AppState {
    app::state::AppState {
        engine: Arc::new(services.clone()),
    }
}
