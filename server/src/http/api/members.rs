//! The members behind a number: one page of them, all of them as CSV, and one member's 360 record.

use super::*;

/// The members' routes.
pub(super) fn router() -> Router<ApiState> {
    Router::new()
        .route("/api/v1/members", get(member_list))
        .route("/api/v1/members.csv", get(member_csv))
        .route("/api/v1/members/{member_id}", get(member))
        .route("/api/v1/members/{member_id}/consent", post(member_consent))
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

/// The members of a query (as `/api/v1/members`, every page) as CSV: UTF-8 with a
/// byte-order mark, names and phones masked; at most 100,000 rows.
#[utoipa::path(get, path = "/api/v1/members.csv", params(MembersQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = ApiError)))]
pub(super) async fn member_csv(
    State(api): State<ApiState>,
    caller: Caller,
    Query(query): Query<MembersQuery>,
) -> Result<impl axum::response::IntoResponse> {
    let export = api.services.members_csv(&caller, query).await?;
    let mut response = axum::response::IntoResponse::into_response((
        [
            (axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                if export.left_out.is_some() {
                    "attachment; filename=\"members-outreach.csv\""
                } else {
                    "attachment; filename=\"members.csv\""
                },
            ),
        ],
        export.csv,
    ));
    if let Some(n) = export.left_out {
        response.headers_mut().insert("x-memberpulse-left-out", n.into());
    }
    Ok(response)
}

/// Records a change of the member's marketing consent (given or withdrawn, when, through
/// which channel) as a new row of their consent history; repeating the member's consent
/// now changes nothing (`recorded: false`). Operators, admins, and ingest tokens.
#[utoipa::path(post, path = "/api/v1/members/{member_id}/consent", params(("member_id" = String, Path)),
    request_body = ConsentRequest,
    responses((status = 200, description = "`{\"recorded\": bool}`", body = Object),
              (status = 404, body = ApiError), (status = 400, body = ApiError)))]
pub(super) async fn member_consent(
    State(api): State<ApiState>,
    caller: Caller,
    Path(member_id): Path<String>,
    Body(req): Body<ConsentRequest>,
) -> Result<Json<Value>> {
    let recorded = api.services.change_consent(&caller, member_id, req).await?;
    Ok(Json(json!({ "recorded": recorded })))
}
