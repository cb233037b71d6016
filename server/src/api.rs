//! The JSON API under `/api/v1`. The pages use the same [`Services`].

use std::sync::Arc;

use app::model::{
    Breakdown, BreakdownQuery, Dimension, Member360, MemberPage, MembersQuery, Metric, Overview,
    OverviewQuery,
};
use axum::{
    Json, Router,
    extract::{Path, Query, State},
    http::HeaderMap,
    routing::get,
};
use serde_json::{Value, json};

use crate::{
    Error, Result,
    error::ApiError,
    import::{LoadReport, LoadRequest},
    operational::{self, LoadRecord},
    services::Services,
};

#[derive(Clone)]
struct ApiState {
    services: Services,
    /// Proves a caller can read the data directory: the CLI hands loads over with it.
    local_token: Arc<str>,
}

pub fn router(services: Services, local_token: Arc<str>) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/overview", get(overview))
        .route("/api/v1/breakdown", get(breakdown))
        .route("/api/v1/metrics", get(metric_list))
        .route("/api/v1/members", get(member_list))
        .route("/api/v1/members/{member_id}", get(member))
        .route("/api/v1/loads", get(loads).post(load))
        .route("/api/v1/openapi.json", get(openapi))
        .with_state(ApiState {
            services,
            local_token,
        })
}

#[utoipa::path(get, path = "/api/v1/health", responses((status = 200, description = "the server is up")))]
async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Every metric for a window ending at `as_of` and its comparison window.
#[utoipa::path(get, path = "/api/v1/overview", params(OverviewQuery),
    responses((status = 200, body = Overview), (status = 400, description = "a bad parameter, named", body = ApiError)))]
async fn overview(
    State(api): State<ApiState>,
    Query(query): Query<OverviewQuery>,
) -> Result<Json<Overview>> {
    Ok(Json(api.services.overview(query).await?))
}

/// A metric for every value of a dimension among the filtered members
/// (`filters=region:华东|华南;tier:gold`: AND across dimensions, OR within one).
#[utoipa::path(get, path = "/api/v1/breakdown", params(BreakdownQuery),
    responses((status = 200, body = Breakdown), (status = 400, description = "a bad parameter, named", body = ApiError)))]
async fn breakdown(
    State(api): State<ApiState>,
    Query(query): Query<BreakdownQuery>,
) -> Result<Json<Breakdown>> {
    Ok(Json(api.services.breakdown(query).await?))
}

/// The metric catalogue and the dimensions.
#[utoipa::path(get, path = "/api/v1/metrics", responses((status = 200, description = "metrics and dimensions with their names")))]
async fn metric_list() -> Json<Value> {
    let metrics: Vec<Value> = Metric::ALL
        .iter()
        .map(|m| json!({ "key": m.key(), "zh": m.label_zh(), "en": m.label_en(), "unit": m.unit(), "higher_is_better": m.higher_is_better() }))
        .collect();
    let dimensions: Vec<Value> = Dimension::ALL
        .iter()
        .map(|d| json!({ "key": d.key(), "zh": d.label_zh(), "en": d.label_en() }))
        .collect();
    Json(json!({ "metrics": metrics, "dimensions": dimensions }))
}

/// The members matching the filters (as of `as_of`), one page, with the total.
#[utoipa::path(get, path = "/api/v1/members", params(MembersQuery),
    responses((status = 200, body = MemberPage), (status = 400, description = "a bad parameter, named", body = ApiError)))]
async fn member_list(
    State(api): State<ApiState>,
    Query(query): Query<MembersQuery>,
) -> Result<Json<MemberPage>> {
    Ok(Json(api.services.members(query).await?))
}

/// The member 360 record: profile, summary, stage, orders and points.
#[utoipa::path(get, path = "/api/v1/members/{member_id}", params(("member_id" = String, Path)),
    responses((status = 200, body = Member360), (status = 404, body = ApiError)))]
async fn member(
    State(api): State<ApiState>,
    Path(member_id): Path<String>,
) -> Result<Json<Member360>> {
    match api.services.member(member_id.clone()).await? {
        Some(m) => Ok(Json(m)),
        None => Err(Error::NotFound(format!("no member {member_id:?}"))),
    }
}

/// The latest data loads, newest first.
#[utoipa::path(get, path = "/api/v1/loads", responses((status = 200, body = Vec<LoadRecord>)))]
async fn loads(State(api): State<ApiState>) -> Result<Json<Vec<LoadRecord>>> {
    Ok(Json(
        operational::recent_loads(&api.services.ops, 50).await?,
    ))
}

/// `POST /api/v1/loads`: a file on this machine handed over by `memberpulse import`.
async fn load(
    State(api): State<ApiState>,
    headers: HeaderMap,
    Json(request): Json<LoadRequest>,
) -> Result<Json<LoadReport>> {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented != Some(&*api.local_token) {
        return Err(Error::Unauthorized);
    }
    Ok(Json(api.services.load(request, None).await?))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "MemberPulse API",
        description = "Member-health metrics, breakdowns and members of a retail loyalty programme."
    ),
    paths(health, overview, breakdown, metric_list, member_list, member, loads)
)]
struct ApiDoc;

/// The OpenAPI document of this API, generated from the code.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    <ApiDoc as utoipa::OpenApi>::openapi()
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_document())
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
        assert_eq!(
            params,
            [
                "metric",
                "dimension",
                "as_of",
                "window",
                "compare",
                "filters"
            ]
        );
    }
}
