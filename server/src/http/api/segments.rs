//! Saved segments and the RFM rule table.

use super::*;

/// The saved segments' and the RFM rules' routes.
pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/segments", get(segment_list).post(segment_create))
        .route("/api/v1/segments/{key}", get(segment_get).put(segment_update).delete(segment_delete))
        .route("/api/v1/rfm-rules", get(rfm_rules).put(rfm_rules_replace))
}

/// The saved segments. Use one with `segment=<key>` on the overview, breakdown and
/// member list.
#[utoipa::path(get, path = "/api/v1/segments", responses((status = 200, body = Vec<Segment>)))]
pub(super) async fn segment_list(State(api): State<ApiState>, caller: Caller) -> Result<Json<Vec<Segment>>> {
    Ok(Json(api.services.segments(&caller).await?))
}

#[utoipa::path(get, path = "/api/v1/segments/{key}", params(("key" = String, Path)),
    responses((status = 200, body = Segment), (status = 404, body = ApiError)))]
pub(super) async fn segment_get(
    State(api): State<ApiState>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<Json<Segment>> {
    Ok(Json(api.services.segment(&caller, &key).await?))
}

/// Saves a new segment; its filters are validated (an unknown dimension is a 400
/// naming `filters`), and a taken key is a 409.
#[utoipa::path(post, path = "/api/v1/segments", request_body = Segment,
    responses((status = 201, body = Segment), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
pub(super) async fn segment_create(
    State(api): State<ApiState>,
    caller: Caller,
    Body(segment): Body<Segment>,
) -> Result<(StatusCode, Json<Segment>)> {
    Ok((StatusCode::CREATED, Json(api.services.create_segment(&caller, segment).await?)))
}

/// Replaces a segment's names and filters (the key in the path wins over the body's).
#[utoipa::path(put, path = "/api/v1/segments/{key}", params(("key" = String, Path)), request_body = Segment,
    responses((status = 200, body = Segment), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub(super) async fn segment_update(
    State(api): State<ApiState>,
    caller: Caller,
    Path(key): Path<String>,
    Body(mut segment): Body<Segment>,
) -> Result<Json<Segment>> {
    segment.key = key;
    Ok(Json(api.services.update_segment(&caller, segment).await?))
}

#[utoipa::path(delete, path = "/api/v1/segments/{key}", params(("key" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ApiError)))]
pub(super) async fn segment_delete(
    State(api): State<ApiState>,
    caller: Caller,
    Path(key): Path<String>,
) -> Result<StatusCode> {
    api.services.delete_segment(&caller, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The RFM rule table: named segments by score ranges, first match by priority.
#[utoipa::path(get, path = "/api/v1/rfm-rules", responses((status = 200, body = Vec<RfmRule>)))]
pub(super) async fn rfm_rules(State(api): State<ApiState>, caller: Caller) -> Result<Json<Vec<RfmRule>>> {
    Ok(Json(api.services.rfm_rules(&caller).await?))
}

/// Replaces the whole RFM rule table (validated: ranges within 1–5, unique keys and
/// priorities); the `rfm_segment` dimension uses it from the next request on.
#[utoipa::path(put, path = "/api/v1/rfm-rules", request_body = Vec<RfmRule>,
    responses((status = 200, body = Vec<RfmRule>), (status = 400, body = ApiError)))]
pub(super) async fn rfm_rules_replace(
    State(api): State<ApiState>,
    caller: Caller,
    Body(rules): Body<Vec<RfmRule>>,
) -> Result<Json<Vec<RfmRule>>> {
    Ok(Json(api.services.replace_rfm_rules(&caller, rules).await?))
}
