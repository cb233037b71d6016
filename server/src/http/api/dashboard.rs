//! The dashboard's reads: overview, breakdowns, trends, the metric list, cohorts and tiers.

use super::*;

/// The dashboard's routes.
pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/overview", get(overview))
        .route("/api/v1/breakdown", get(breakdown))
        .route("/api/v1/trend", get(trend))
        .route("/api/v1/metrics", get(metric_list))
        .route("/api/v1/cohorts", get(cohorts))
        .route("/api/v1/tiers/migration", get(tier_migration))
}

/// Every metric for a window ending at `as_of` and its comparison window.
#[utoipa::path(get, path = "/api/v1/overview", params(OverviewQuery),
    responses((status = 200, body = Overview), (status = 400, description = "a bad parameter, named", body = ApiError)))]
pub(super) async fn overview(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<OverviewQuery>,
) -> Result<Json<Overview>> {
    Ok(Json(api.services.overview(&caller, query).await?))
}

/// A metric for every value of a dimension among the filtered members
/// (`filters=region:华东|华南;tier:gold`: AND across dimensions, OR within one).
#[utoipa::path(get, path = "/api/v1/breakdown", params(BreakdownQuery),
    responses((status = 200, body = Breakdown), (status = 400, description = "a bad parameter, named", body = ApiError)))]
pub(super) async fn breakdown(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<BreakdownQuery>,
) -> Result<Json<Breakdown>> {
    Ok(Json(api.services.breakdown(&caller, query).await?))
}

/// The metric catalogue and the dimensions.
#[utoipa::path(get, path = "/api/v1/metrics", responses((status = 200, description = "metrics and dimensions with their names")))]
pub(super) async fn metric_list(_signed_in: Caller) -> Json<Value> {
    let metrics: Vec<Value> = Metric::ALL
        .iter()
        .map(|m| json!({ "key": m.key(), "zh": m.name().zh, "en": m.name().en, "unit": m.unit(), "higher_is_better": m.higher_is_better() }))
        .collect();
    let dimensions: Vec<Value> =
        Dimension::ALL.iter().map(|d| json!({ "key": d.key(), "zh": d.name().zh, "en": d.name().en })).collect();
    Json(json!({ "metrics": metrics, "dimensions": dimensions }))
}

/// Join-month cohorts as of T: the retention matrix (share of each cohort purchasing
/// in each month since joining) and LTV at 1, 3, 6, 12 and 24 months.
#[utoipa::path(get, path = "/api/v1/cohorts", params(CohortQuery),
    responses((status = 200, body = Cohorts), (status = 400, description = "a bad parameter, named", body = ApiError)))]
pub(super) async fn cohorts(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<CohortQuery>,
) -> Result<Json<Cohorts>> {
    Ok(Json(api.services.cohorts(&caller, query).await?))
}

/// Members by their tier at the end of `from` and at the end of `to` (joined by `from`).
#[utoipa::path(get, path = "/api/v1/tiers/migration", params(TierMigrationQuery),
    responses((status = 200, body = TierMigration), (status = 400, description = "a bad parameter, named", body = ApiError)))]
pub(super) async fn tier_migration(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<TierMigrationQuery>,
) -> Result<Json<TierMigration>> {
    Ok(Json(api.services.tier_migration(&caller, query).await?))
}

/// Metrics (default: the four headline KPIs) over `points` consecutive windows of
/// `window` days, the last ending at `as_of`, under the filters or segment.
#[utoipa::path(get, path = "/api/v1/trend", params(TrendQuery),
    responses((status = 200, body = Trend), (status = 400, description = "a bad parameter, named", body = ApiError)))]
pub(super) async fn trend(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<TrendQuery>,
) -> Result<Json<Trend>> {
    Ok(Json(api.services.trend(&caller, query).await?))
}
