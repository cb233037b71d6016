//! The predictive model: its status, a fit on demand and the holdout check.

use super::*;

/// The model's routes.
pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/model", get(model_status))
        .route("/api/v1/model/fit", post(model_fit))
        .route("/api/v1/model/holdout", get(holdout))
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
