//! Activation (SPEC §12): campaigns and their readouts, triggers, the messaging channels
//! they hand members to, and the contact policy.

use app::model::{Campaign, ContactPolicy, MessagingChannel, Readout, Trigger};

use super::*;

pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/campaigns", get(campaign_list).post(campaign_create))
        .route("/api/v1/campaigns/{id}", get(campaign_get).delete(campaign_delete))
        .route("/api/v1/campaigns/{id}/arms", axum::routing::put(campaign_arms_import))
        .route("/api/v1/campaigns/{id}/readout", get(campaign_readout))
        .route("/api/v1/triggers", get(trigger_list).post(trigger_create))
        .route("/api/v1/triggers/{id}", axum::routing::put(trigger_update).delete(trigger_delete))
        .route("/api/v1/messaging-channels", get(messaging_channel_list).post(messaging_channel_create))
        .route(
            "/api/v1/messaging-channels/{id}",
            axum::routing::put(messaging_channel_update).delete(messaging_channel_delete),
        )
        .route("/api/v1/contact-policy", get(contact_policy).put(contact_policy_set))
}

#[utoipa::path(get, path = "/api/v1/campaigns", responses((status = 200, body = Vec<Campaign>)))]
pub(super) async fn campaign_list(State(api): State<ApiState>, caller: Caller) -> Result<Json<Vec<Campaign>>> {
    Ok(Json(api.services.campaigns(&caller).await?))
}

/// Defines a campaign on a saved segment and draws its arms (seeded, stratified by RFM
/// segment). Operators.
#[utoipa::path(post, path = "/api/v1/campaigns", request_body = Campaign,
    responses((status = 201, body = Campaign), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
pub(super) async fn campaign_create(
    State(api): State<ApiState>,
    caller: Caller,
    Body(c): Body<Campaign>,
) -> Result<(StatusCode, Json<Campaign>)> {
    Ok((StatusCode::CREATED, Json(api.services.create_campaign(&caller, c).await?)))
}

#[utoipa::path(get, path = "/api/v1/campaigns/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = Campaign), (status = 404, body = ApiError)))]
pub(super) async fn campaign_get(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Campaign>> {
    Ok(Json(api.services.campaign(&caller, id).await?))
}

#[utoipa::path(delete, path = "/api/v1/campaigns/{id}", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ApiError)))]
pub(super) async fn campaign_delete(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    api.services.delete_campaign(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the arms with a CSV of `member_id,arm` (arm `treatment` or `control`). Operators.
#[utoipa::path(put, path = "/api/v1/campaigns/{id}/arms", params(("id" = i64, Path)),
    request_body(content = String, description = "CSV: member_id,arm", content_type = "text/csv"),
    responses((status = 200, body = Campaign), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub(super) async fn campaign_arms_import(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Json<Campaign>> {
    let csv = String::from_utf8(body.to_vec()).map_err(|_| Error::Load("arms file: not UTF-8 text".into()))?;
    Ok(Json(api.services.import_campaign_arms(&caller, id, csv).await?))
}

/// Per arm: members, conversions, rate, revenue per member; the uplift with its 95% CI, a
/// two-proportion z-test and Welch's t-test, the sample ratio check and a verdict.
#[utoipa::path(get, path = "/api/v1/campaigns/{id}/readout", params(("id" = i64, Path)),
    responses((status = 200, body = Readout), (status = 404, body = ApiError)))]
pub(super) async fn campaign_readout(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<Readout>> {
    Ok(Json(api.services.campaign_readout(&caller, id).await?))
}

#[utoipa::path(get, path = "/api/v1/triggers", responses((status = 200, body = Vec<Trigger>)))]
pub(super) async fn trigger_list(State(api): State<ApiState>, caller: Caller) -> Result<Json<Vec<Trigger>>> {
    Ok(Json(api.services.triggers(&caller).await?))
}

#[utoipa::path(post, path = "/api/v1/triggers", request_body = Trigger,
    responses((status = 201, body = Trigger), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
pub(super) async fn trigger_create(
    State(api): State<ApiState>,
    caller: Caller,
    Body(t): Body<Trigger>,
) -> Result<(StatusCode, Json<Trigger>)> {
    Ok((StatusCode::CREATED, Json(api.services.create_trigger(&caller, t).await?)))
}

#[utoipa::path(put, path = "/api/v1/triggers/{id}", params(("id" = i64, Path)), request_body = Trigger,
    responses((status = 200, body = Trigger), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub(super) async fn trigger_update(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(t): Body<Trigger>,
) -> Result<Json<Trigger>> {
    Ok(Json(api.services.update_trigger(&caller, id, t).await?))
}

#[utoipa::path(delete, path = "/api/v1/triggers/{id}", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ApiError)))]
pub(super) async fn trigger_delete(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    api.services.delete_trigger(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/messaging-channels", responses((status = 200, body = Vec<MessagingChannel>)))]
pub(super) async fn messaging_channel_list(
    State(api): State<ApiState>,
    caller: Caller,
) -> Result<Json<Vec<MessagingChannel>>> {
    Ok(Json(api.services.messaging_channels(&caller).await?))
}

#[utoipa::path(post, path = "/api/v1/messaging-channels", request_body = MessagingChannel,
    responses((status = 201, body = MessagingChannel), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
pub(super) async fn messaging_channel_create(
    State(api): State<ApiState>,
    caller: Caller,
    Body(c): Body<MessagingChannel>,
) -> Result<(StatusCode, Json<MessagingChannel>)> {
    Ok((StatusCode::CREATED, Json(api.services.create_messaging_channel(&caller, c).await?)))
}

#[utoipa::path(put, path = "/api/v1/messaging-channels/{id}", params(("id" = i64, Path)), request_body = MessagingChannel,
    responses((status = 200, body = MessagingChannel), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub(super) async fn messaging_channel_update(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(c): Body<MessagingChannel>,
) -> Result<Json<MessagingChannel>> {
    Ok(Json(api.services.update_messaging_channel(&caller, id, c).await?))
}

#[utoipa::path(delete, path = "/api/v1/messaging-channels/{id}", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub(super) async fn messaging_channel_delete(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    api.services.delete_messaging_channel(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/contact-policy", responses((status = 200, body = ContactPolicy)))]
pub(super) async fn contact_policy(State(api): State<ApiState>, caller: Caller) -> Result<Json<ContactPolicy>> {
    Ok(Json(api.services.contact_policy(&caller).await?))
}

#[utoipa::path(put, path = "/api/v1/contact-policy", request_body = ContactPolicy,
    responses((status = 200, body = ContactPolicy), (status = 400, body = ApiError)))]
pub(super) async fn contact_policy_set(
    State(api): State<ApiState>,
    caller: Caller,
    Body(p): Body<ContactPolicy>,
) -> Result<Json<ContactPolicy>> {
    Ok(Json(api.services.set_contact_policy(&caller, p).await?))
}
