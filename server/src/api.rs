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
        .with_state(ApiState {
            services,
            local_token,
        })
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /api/v1/overview?as_of=YYYY-MM-DD&window=30d&compare=previous|year`
async fn overview(
    State(api): State<ApiState>,
    Query(query): Query<OverviewQuery>,
) -> Result<Json<Overview>> {
    Ok(Json(api.services.overview(query).await?))
}

/// `GET /api/v1/breakdown?metric=…&dimension=…&filters=region:华东|华南;tier:gold&as_of&window&compare`
async fn breakdown(
    State(api): State<ApiState>,
    Query(query): Query<BreakdownQuery>,
) -> Result<Json<Breakdown>> {
    Ok(Json(api.services.breakdown(query).await?))
}

/// `GET /api/v1/metrics`: the catalogue and the dimensions.
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

/// `GET /api/v1/members?filters=…&as_of=…&sort=-revenue&page=1&page_size=50`
async fn member_list(
    State(api): State<ApiState>,
    Query(query): Query<MembersQuery>,
) -> Result<Json<MemberPage>> {
    Ok(Json(api.services.members(query).await?))
}

/// `GET /api/v1/members/{member_id}`: the member 360 record.
async fn member(
    State(api): State<ApiState>,
    Path(member_id): Path<String>,
) -> Result<Json<Member360>> {
    match api.services.member(member_id.clone()).await? {
        Some(m) => Ok(Json(m)),
        None => Err(Error::NotFound(format!("no member {member_id:?}"))),
    }
}

/// `GET /api/v1/loads`: the latest loads, newest first.
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
    Ok(Json(api.services.load(request).await?))
}
