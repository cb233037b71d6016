//! The service layer: what the pages, the JSON API and the CLI ask of the engine.

use std::sync::Arc;

use app::{
    model::{
        Breakdown, BreakdownQuery, Dimension, Member360, MemberPage, MembersQuery, Metric,
        Overview, OverviewQuery,
    },
    state::{Engine, EngineError, EngineFuture},
};

use crate::{
    Error, Result,
    analytics::Analytics,
    import::{self, LoadReport, LoadRequest},
    members,
    metrics::{self, MetricConfig},
    operational::{self, Pool},
    rfm,
    segment::{self, Scope},
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

    /// A metric broken down by a dimension, under filters.
    pub async fn breakdown(&self, query: BreakdownQuery) -> Result<Breakdown> {
        let cfg = self.metrics;
        let rules = rfm::rules(&self.ops).await?;
        self.analytics
            .read(move |conn| {
                let metric = match query.metric.as_deref() {
                    Some(key) => Metric::parse(key).ok_or_else(|| {
                        Error::bad_param(
                            "metric",
                            format!("unknown metric {key:?}; see /api/v1/metrics"),
                        )
                    })?,
                    None => return Err(Error::bad_param("metric", "missing")),
                };
                let dimension = match query.dimension.as_deref() {
                    Some(key) => Dimension::parse(key).ok_or_else(|| {
                        Error::bad_param("dimension", format!("unknown dimension {key:?}"))
                    })?,
                    None => return Err(Error::bad_param("dimension", "missing")),
                };
                let filters = segment::parse_filters(query.filters.as_deref().unwrap_or(""))?;
                let req = metrics::resolve(
                    conn,
                    &OverviewQuery {
                        as_of: query.as_of,
                        window: query.window,
                        compare: query.compare,
                    },
                )?;
                metrics::breakdown(
                    conn,
                    metric,
                    req,
                    &Scope::new(filters, Some(dimension)).with_rules(rules),
                    cfg,
                )
            })
            .await
    }

    pub async fn members(&self, query: MembersQuery) -> Result<MemberPage> {
        let cfg = self.metrics;
        let rules = rfm::rules(&self.ops).await?;
        self.analytics
            .read(move |conn| members::list(conn, &query, cfg, rules))
            .await
    }

    pub async fn member(&self, member_id: String) -> Result<Option<Member360>> {
        let cfg = self.metrics;
        self.analytics
            .read(move |conn| members::profile(conn, &member_id, cfg))
            .await
    }

    /// Loads one file through the single writer and records the load; `progress` hears
    /// the stages (the CLI shows them on a spinner).
    pub async fn load(
        &self,
        request: LoadRequest,
        progress: Option<Box<dyn Fn(&str) + Send>>,
    ) -> Result<LoadReport> {
        let report = self
            .analytics
            .write(move |conn| {
                import::load(
                    conn,
                    &request,
                    progress.as_deref().map(|p| p as &dyn Fn(&str)),
                )
            })
            .await?;
        operational::record_load(&self.ops, &report).await?;
        Ok(report)
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
