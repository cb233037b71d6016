//! The dashboard's reads: overview, breakdowns, trends, cohorts, tiers, members, the model.

use super::*;

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

/// The members matching the filters (as of `as_of`), one page, with the total.
#[utoipa::path(get, path = "/api/v1/members", params(MembersQuery),
    responses((status = 200, body = MemberPage), (status = 400, description = "a bad parameter, named", body = ApiError)))]
pub(super) async fn member_list(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<MembersQuery>,
) -> Result<Json<MemberPage>> {
    Ok(Json(api.services.members(&caller, query).await?))
}

/// The member 360 record: profile, summary, stage, orders and points.
#[utoipa::path(get, path = "/api/v1/members/{member_id}", params(("member_id" = String, Path)),
    responses((status = 200, body = Member360), (status = 404, body = ApiError)))]
pub(super) async fn member(
    State(api): State<ApiState>,
    caller: Caller,
    Path(member_id): Path<String>,
) -> Result<Json<Member360>> {
    match api.services.member(&caller, member_id.clone()).await? {
        Some(m) => Ok(Json(m)),
        None => Err(Error::NotFound(format!("no member {member_id:?}"))),
    }
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

/// The predictive model: T of the stored member scores, the last BG/NBD and Gamma-Gamma
/// fits (parameters, standard errors, log-likelihood), whether a refit is running and
/// why the last one failed. A refit follows every data load.
#[utoipa::path(get, path = "/api/v1/model", responses((status = 200, body = ModelStatus)))]
pub(super) async fn model_status(State(api): State<ApiState>, caller: Caller) -> Result<Json<ModelStatus>> {
    Ok(Json(api.services.model_status(&caller).await?))
}

/// Fits both models as of `as_of` (default: the latest order day), replaces the member
/// scores and answers when done. Too little data, or a fit that does not converge, is a
/// 422 with the reason; the previous scores stay.
#[utoipa::path(post, path = "/api/v1/model/fit", request_body = FitRequest,
    responses((status = 200, body = ModelStatus), (status = 400, body = ApiError), (status = 422, body = ApiError)))]
pub(super) async fn model_fit(
    State(api): State<ApiState>,
    caller: Caller,
    Body(request): Body<FitRequest>,
) -> Result<Json<ModelStatus>> {
    api.services.fit(&caller, request.as_of).await?;
    Ok(Json(api.services.model_status(&caller).await?))
}

/// The purchase model's holdout check: BG/NBD fitted up to `as_of − days`, its expected
/// purchase days in the holdout beside the actual ones, by repeat-purchase bucket. A 400
/// names `days`; too little data to fit is a 400 with the reason.
#[utoipa::path(get, path = "/api/v1/model/holdout", params(HoldoutQuery),
    responses((status = 200, body = Holdout), (status = 400, body = ApiError)))]
pub(super) async fn holdout(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<HoldoutQuery>,
) -> Result<Json<Holdout>> {
    Ok(Json(api.services.holdout(&caller, query).await?))
}

/// The members of a query (as `/api/v1/members`, every page) as CSV: UTF-8 with a
/// byte-order mark, names and phones masked; at most 100,000 rows.
#[utoipa::path(get, path = "/api/v1/members.csv", params(MembersQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ApiError)))]
pub(super) async fn member_csv(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<MembersQuery>,
) -> Result<impl axum::response::IntoResponse> {
    let csv = api.services.members_csv(&caller, query).await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"members.csv\""),
        ],
        csv,
    ))
}
