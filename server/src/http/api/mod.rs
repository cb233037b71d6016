//! The JSON API under `/api/v1`. The pages use the same [`Services`].

use app::model::{
    AlertEvent, AlertQuery, AlertRule, Breakdown, BreakdownQuery, CohortQuery, Cohorts, ConsentRequest, Dimension,
    ErasureReport, FitRequest, Holdout, HoldoutQuery, Member360, MemberPage, MembersQuery, Metric, ModelStatus,
    Overview, OverviewQuery, PrivacyRequest, RetentionPreview, RetentionQuery, Segment, SnoozeRequest, TierMigration,
    TierMigrationQuery, Trend, TrendQuery,
};
use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    routing::{get, post},
};
use serde_json::{Value, json};

use crate::{
    Error, Result,
    access::Caller,
    error::ApiError,
    http::extract::{Json as Body, Path, Query},
    load::import::{Kind, LoadReport, LoadRequest, Mapping},
    metrics::rfm::RfmRule,
    service::Services,
    store::operational::LoadRecord,
};

mod activation;
mod alerts;
mod dashboard;
mod data;
mod identity;
mod members;
mod model;
mod openapi;
mod privacy;
mod segments;

use activation::*;
use alerts::*;
use dashboard::*;
use data::*;
use identity::*;
use members::*;
use model::*;
pub use openapi::openapi_document;
use openapi::*;
use privacy::*;
use segments::*;

#[derive(Clone)]
struct ApiState {
    services: Services,
}

/// The routes, one router per resource; every one but health and the OpenAPI document
/// takes a [`Caller`] (401 without one) and the services check its role (403).
pub fn router(services: Services, upload_max_bytes: usize) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(dashboard::router())
        .merge(members::router())
        .merge(model::router())
        .merge(segments::router())
        .merge(data::router(upload_max_bytes))
        .merge(alerts::router())
        .merge(privacy::router())
        .merge(identity::router())
        .merge(activation::router())
        .with_state(ApiState { services })
}

#[utoipa::path(get, path = "/api/v1/health", security(()), responses((status = 200, description = "the server is up", body = Object)))]
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[cfg(test)]
mod tests {
    use app::model::{Dimension, Metric};

    /// The pages and the API name metrics and dimensions by `key()`; JSON must agree.
    #[test]
    fn serialised_names_are_the_keys() {
        for m in Metric::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.key(), "{m:?}");
            assert_eq!(Metric::parse(m.key()), Some(m));
        }
        for d in Dimension::ALL {
            assert_eq!(serde_json::to_value(d).unwrap(), d.key(), "{d:?}");
        }
    }

    #[test]
    fn openapi_document_covers_routes_and_types() {
        let doc = serde_json::to_value(super::openapi_document()).unwrap();
        for path in [
            "/api/v1/overview",
            "/api/v1/breakdown",
            "/api/v1/members",
            "/api/v1/members/{member_id}",
            "/api/v1/loads",
            "/api/v1/segments",
            "/api/v1/segments/{key}",
            "/api/v1/rfm-rules",
            "/api/v1/cohorts",
            "/api/v1/tiers/migration",
            "/api/v1/model/holdout",
            "/api/v1/model",
            "/api/v1/trend",
            "/api/v1/alerts",
            "/api/v1/alerts/rules",
            "/api/v1/alerts/{id}",
            "/api/v1/users",
            "/api/v1/tokens",
            "/api/v1/audit",
            "/api/v1/session",
        ] {
            assert!(doc["paths"][path]["get"].is_object(), "{path}");
        }
        let schemas = &doc["components"]["schemas"];
        for schema in [
            "Overview",
            "Kpi",
            "Measure",
            "Metric",
            "Breakdown",
            "Dimension",
            "MemberPage",
            "Member360",
            "Segment",
            "RfmRule",
            "Cohorts",
            "ApiError",
        ] {
            assert!(schemas[schema].is_object(), "{schema}: {}", schemas);
        }
        let params: Vec<&str> = doc["paths"]["/api/v1/breakdown"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, ["metric", "dimension", "as_of", "window", "compare", "filters", "segment"]);
    }
}
