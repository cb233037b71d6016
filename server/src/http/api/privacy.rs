//! The members' rights (PIPL): the access document, erasure and the retention preview, for
//! admins. Requests
//! name the member in the body (by id or phone), so no phone number reaches a URL or a
//! log line.

use super::*;

pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/privacy/access", post(privacy_access))
        .route("/api/v1/privacy/erase", post(privacy_erase))
        .route("/api/v1/privacy/retention", get(privacy_retention))
}

/// Everything held on one member (PIPL art. 45): profile, consent history, orders with
/// items, points, tier changes, scores, RFM and saved segments, alert events and audit
/// rows naming them; JSON, or a readable page with `"format": "html"`. Admins; audited.
#[utoipa::path(post, path = "/api/v1/privacy/access", request_body = PrivacyRequest,
    responses((status = 200, description = "the document: JSON, or an HTML page with `format: html`",
               content((Object = "application/json"), (String = "text/html"))),
              (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub(super) async fn privacy_access(
    State(api): State<ApiState>,
    caller: Caller,
    Body(req): Body<PrivacyRequest>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let html = match req.format.as_deref() {
        None | Some("json") => false,
        Some("html") => true,
        Some(other) => return Err(Error::bad_param("format", format!("expected json or html, got {other:?}"))),
    };
    let document = api.services.access_document(&caller, &req).await?;
    Ok(match html {
        true => axum::response::Html(crate::privacy::access::html(&document)).into_response(),
        false => Json(document).into_response(),
    })
}

/// Erases a member (PIPL art. 47): name and phone removed everywhere, the id replaced by a
/// pseudonym in every table so that every figure stays as it was, the analytics file
/// copied anew. Needs a `reason`. Admins; audited under the pseudonym.
#[utoipa::path(post, path = "/api/v1/privacy/erase", request_body = PrivacyRequest,
    responses((status = 200, body = ErasureReport), (status = 400, body = ApiError), (status = 404, body = ApiError),
              (status = 409, body = ApiError)))]
pub(super) async fn privacy_erase(
    State(api): State<ApiState>,
    caller: Caller,
    Body(req): Body<PrivacyRequest>,
) -> Result<Json<ErasureReport>> {
    Ok(Json(api.services.erase_member(&caller, &req).await?))
}

/// How many members a retention period (`days`, or the server's
/// `--personal-data-retention-days`) would strip of name and phone now, and the first of
/// them; nothing is changed. Admins.
#[utoipa::path(get, path = "/api/v1/privacy/retention", params(RetentionQuery),
    responses((status = 200, body = RetentionPreview), (status = 400, body = ApiError)))]
pub(super) async fn privacy_retention(
    State(api): State<ApiState>,
    caller: Caller,
    Query(q): Query<RetentionQuery>,
) -> Result<Json<RetentionPreview>> {
    Ok(Json(api.services.retention_preview(&caller, q.days).await?))
}
