//! Identity (SPEC §11): matching rules, the candidates they propose, merges and undoing
//! them. Admins.

use app::model::{Candidate, IdentityRule, MergeRecord, MergeReport, MergeRequest};

use super::*;

pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/identity/rules", get(identity_rules).post(identity_rule_create))
        .route("/api/v1/identity/rules/{id}", axum::routing::put(identity_rule_update).delete(identity_rule_delete))
        .route("/api/v1/identity/candidates", get(identity_candidates))
        .route("/api/v1/identity/merges", get(identity_merges).post(identity_merge))
        .route("/api/v1/identity/merges/automatic", post(identity_merge_automatic))
        .route("/api/v1/identity/merges/{id}/undo", post(identity_unmerge))
}

/// `GET /api/v1/identity/candidates` and `/merges`: which rule, how many.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct IdentityQuery {
    /// One rule's id (all rules when absent).
    rule: Option<i64>,
    /// At most this many (1 to 1000; 100 by default).
    limit: Option<u32>,
}

/// The matching rules: members sharing every one of `match_on` are proposed as one person.
#[utoipa::path(get, path = "/api/v1/identity/rules", responses((status = 200, body = Vec<IdentityRule>)))]
pub(super) async fn identity_rules(State(api): State<ApiState>, caller: Caller) -> Result<Json<Vec<IdentityRule>>> {
    Ok(Json(api.services.identity_rules(&caller).await?))
}

#[utoipa::path(post, path = "/api/v1/identity/rules", request_body = IdentityRule,
    responses((status = 201, body = IdentityRule), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
pub(super) async fn identity_rule_create(
    State(api): State<ApiState>,
    caller: Caller,
    Body(rule): Body<IdentityRule>,
) -> Result<(StatusCode, Json<IdentityRule>)> {
    Ok((StatusCode::CREATED, Json(api.services.create_identity_rule(&caller, rule).await?)))
}

#[utoipa::path(put, path = "/api/v1/identity/rules/{id}", params(("id" = i64, Path)), request_body = IdentityRule,
    responses((status = 200, body = IdentityRule), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub(super) async fn identity_rule_update(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
    Body(rule): Body<IdentityRule>,
) -> Result<Json<IdentityRule>> {
    Ok(Json(api.services.update_identity_rule(&caller, id, rule).await?))
}

#[utoipa::path(delete, path = "/api/v1/identity/rules/{id}", params(("id" = i64, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ApiError)))]
pub(super) async fn identity_rule_delete(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    api.services.delete_identity_rule(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pairs of members a rule says are one person, with the evidence and each member's
/// channels and purchases; the proposed survivor is the earlier to join. Audited.
#[utoipa::path(get, path = "/api/v1/identity/candidates", params(IdentityQuery),
    responses((status = 200, body = Vec<Candidate>), (status = 400, body = ApiError), (status = 404, body = ApiError)))]
pub(super) async fn identity_candidates(
    State(api): State<ApiState>,
    caller: Caller,
    Query(q): Query<IdentityQuery>,
) -> Result<Json<Vec<Candidate>>> {
    Ok(Json(api.services.identity_candidates(&caller, q.rule, q.limit).await?))
}

/// The merges, newest first, undone ones included.
#[utoipa::path(get, path = "/api/v1/identity/merges", params(IdentityQuery),
    responses((status = 200, body = Vec<MergeRecord>), (status = 400, body = ApiError)))]
pub(super) async fn identity_merges(
    State(api): State<ApiState>,
    caller: Caller,
    Query(q): Query<IdentityQuery>,
) -> Result<Json<Vec<MergeRecord>>> {
    Ok(Json(api.services.merges(&caller, q.limit).await?))
}

/// Merges members into a survivor: their orders, points and tier history follow, their
/// rows land on the survivor from now on; the figures are those of persons. Audited.
#[utoipa::path(post, path = "/api/v1/identity/merges", request_body = MergeRequest,
    responses((status = 200, body = MergeReport), (status = 400, body = ApiError), (status = 404, body = ApiError),
              (status = 409, body = ApiError)))]
pub(super) async fn identity_merge(
    State(api): State<ApiState>,
    caller: Caller,
    Body(req): Body<MergeRequest>,
) -> Result<Json<MergeReport>> {
    Ok(Json(api.services.merge_members(&caller, req).await?))
}

/// Merges every pair the automatic rules propose. Audited.
#[utoipa::path(post, path = "/api/v1/identity/merges/automatic", responses((status = 200, body = MergeReport)))]
pub(super) async fn identity_merge_automatic(State(api): State<ApiState>, caller: Caller) -> Result<Json<MergeReport>> {
    Ok(Json(api.services.merge_automatic(&caller).await?))
}

/// Undoes a merge exactly: the rows it moved (and those that landed under the merged id
/// since) go back to the merged member. Audited.
#[utoipa::path(post, path = "/api/v1/identity/merges/{id}/undo", params(("id" = i64, Path)),
    responses((status = 200, body = MergeReport), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub(super) async fn identity_unmerge(
    State(api): State<ApiState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<MergeReport>> {
    Ok(Json(api.services.undo_merge(&caller, id).await?))
}
