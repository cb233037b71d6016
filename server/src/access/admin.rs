//! The admin area: users, tokens and the audit log — the API handlers and the checks they call.

use super::*;

/// The users (admins).
#[utoipa::path(get, path = "/api/v1/users", responses((status = 200, body = Vec<User>), (status = 403, body = crate::error::ApiError)))]
pub async fn user_list(State(access): State<Access>, caller: Caller) -> Result<Json<Vec<User>>> {
    Ok(Json(list_users(&access.ops, &caller).await?))
}

pub async fn list_users(ops: &Pool, caller: &Caller) -> Result<Vec<User>> {
    caller.require(Role::Admin)?;
    users::list(ops).await
}

/// Creates a user: `{"name", "role", "password"}` (at least 12 characters); admins.
#[utoipa::path(post, path = "/api/v1/users", request_body = UserChange,
    responses((status = 201, body = User), (status = 400, body = crate::error::ApiError), (status = 403, body = crate::error::ApiError), (status = 409, body = crate::error::ApiError)))]
pub async fn user_create(
    State(access): State<Access>,
    caller: Caller,
    Body(change): Body<UserChange>,
) -> Result<(StatusCode, Json<User>)> {
    Ok((StatusCode::CREATED, Json(create_user(&access.ops, &caller, change).await?)))
}

pub async fn create_user(ops: &Pool, caller: &Caller, change: UserChange) -> Result<User> {
    caller.require(Role::Admin)?;
    let role = change.role.ok_or_else(|| Error::bad_param("role", "executive, operator or admin"))?;
    let password = change.password.as_deref().ok_or_else(|| Error::bad_param("password", "required"))?;
    let user = users::add(ops, &change.name, role, password).await?;
    audit::record(ops, caller, "user.create", Some(&user.name), Some(&format!("role={}", role.key()))).await?;
    Ok(user)
}

/// Changes a user's `role`, `password` or `disabled`; admins.
#[utoipa::path(put, path = "/api/v1/users/{name}", params(("name" = String, Path)), request_body = UserChange,
    responses((status = 200, body = User), (status = 403, body = crate::error::ApiError), (status = 404, body = crate::error::ApiError)))]
pub async fn user_update(
    State(access): State<Access>,
    caller: Caller,
    Path(name): Path<String>,
    Body(change): Body<UserChange>,
) -> Result<Json<User>> {
    Ok(Json(update_user(&access.ops, &caller, UserChange { name, ..change }).await?))
}

pub async fn update_user(ops: &Pool, caller: &Caller, change: UserChange) -> Result<User> {
    caller.require(Role::Admin)?;
    let user = users::change(ops, &change).await?;
    let what = [
        change.role.map(|r| format!("role={}", r.key())),
        change.password.as_ref().map(|_| "password".to_string()),
        change.disabled.map(|d| format!("disabled={d}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join("&");
    audit::record(ops, caller, "user.update", Some(&user.name), Some(&what)).await?;
    Ok(user)
}

/// The API tokens, without their secrets; admins.
#[utoipa::path(get, path = "/api/v1/tokens", responses((status = 200, body = Vec<ApiToken>), (status = 403, body = crate::error::ApiError)))]
pub async fn token_list(State(access): State<Access>, caller: Caller) -> Result<Json<Vec<ApiToken>>> {
    Ok(Json(list_tokens(&access.ops, &caller).await?))
}

pub async fn list_tokens(ops: &Pool, caller: &Caller) -> Result<Vec<ApiToken>> {
    caller.require(Role::Admin)?;
    users::tokens(ops, None).await
}

/// Makes a token: `{"name", "scope": "ingest"|"read", "role"}`; the answer holds the
/// secret, shown this once; admins.
#[utoipa::path(post, path = "/api/v1/tokens", request_body = TokenRequest,
    responses((status = 201, body = ApiToken), (status = 400, body = crate::error::ApiError), (status = 403, body = crate::error::ApiError)))]
pub async fn token_create(
    State(access): State<Access>,
    caller: Caller,
    Body(request): Body<TokenRequest>,
) -> Result<(StatusCode, Json<ApiToken>)> {
    Ok((StatusCode::CREATED, Json(create_token(&access.ops, &caller, request).await?)))
}

pub async fn create_token(ops: &Pool, caller: &Caller, request: TokenRequest) -> Result<ApiToken> {
    caller.require(Role::Admin)?;
    let token = users::add_token(ops, &request, &caller.name).await?;
    let what = format!("scope={}&role={}", token.scope, token.role.key());
    audit::record(ops, caller, "token.create", Some(&format!("{}:{}", token.id, token.name)), Some(&what)).await?;
    Ok(token)
}

/// Revokes a token; admins.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = i64, Path)), responses((status = 200, body = ApiToken), (status = 403, body = crate::error::ApiError), (status = 404, body = crate::error::ApiError)))]
pub async fn token_revoke(State(access): State<Access>, caller: Caller, Path(id): Path<i64>) -> Result<Json<ApiToken>> {
    Ok(Json(revoke_token(&access.ops, &caller, id).await?))
}

pub async fn revoke_token(ops: &Pool, caller: &Caller, id: i64) -> Result<ApiToken> {
    caller.require(Role::Admin)?;
    let token = users::revoke_token(ops, id).await?;
    audit::record(ops, caller, "token.revoke", Some(&format!("{}:{}", token.id, token.name)), None).await?;
    Ok(token)
}

/// The audit log, newest first; admins.
#[utoipa::path(get, path = "/api/v1/audit", params(AuditQuery), responses((status = 200, body = Vec<AuditEntry>), (status = 403, body = crate::error::ApiError)))]
pub async fn audit_list(
    State(access): State<Access>,
    caller: Caller,
    Query(q): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>> {
    Ok(Json(audit_entries(&access.ops, &caller, &q).await?))
}

pub async fn audit_entries(ops: &Pool, caller: &Caller, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
    caller.require(Role::Admin)?;
    audit::list(ops, q).await
}

/// The audit log as CSV (default: the latest 100,000 entries); the export is audited too.
#[utoipa::path(get, path = "/api/v1/audit.csv", params(AuditQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = crate::error::ApiError)))]
pub async fn audit_csv(State(access): State<Access>, caller: Caller, Query(q): Query<AuditQuery>) -> Result<Response> {
    let q = AuditQuery { limit: Some(q.limit.unwrap_or(audit::MAX_ROWS)), ..q };
    let entries = audit_entries(&access.ops, &caller, &q).await?;
    audit::record(&access.ops, &caller, "audit.export", None, Some(&audit::describe(&q))).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"audit.csv\""),
        ],
        audit::csv(&entries),
    )
        .into_response())
}
