//! Signing in and out (`/auth/*`) and the session's viewer; the router of this area.

use super::*;

/// `/auth/*` (the sign-in form and sign-out), `/api/v1/session`, and the admin routes:
/// users, tokens, the audit log.
pub fn router(access: Access) -> Router {
    Router::new()
        .route("/auth/signin", post(sign_in))
        .route("/auth/signout", post(sign_out))
        .route("/api/v1/session", get(session))
        .route("/api/v1/users", get(user_list).post(user_create))
        .route("/api/v1/users/{name}", put(user_update))
        .route("/api/v1/tokens", get(token_list).post(token_create))
        .route("/api/v1/tokens/{id}", axum::routing::delete(token_revoke))
        .route("/api/v1/audit", get(audit_list))
        .route("/api/v1/audit.csv", get(audit_csv))
        .with_state(access)
}

#[derive(serde::Deserialize)]
pub(super) struct SignIn {
    pub(super) name: String,
    pub(super) password: String,
    pub(super) next: Option<String>,
}

/// Where to go after signing in: a path on this site, never elsewhere. It starts with one
/// `/` and has no backslash or control character (browsers drop tabs and newlines, so
/// `/<TAB>/evil.example` would become `//evil.example`); anything else goes to `/`.
pub(super) fn local_path(next: Option<&str>) -> &str {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p[1..].starts_with('/')
                && !p.contains('\\')
                && !p.chars().any(char::is_control) =>
        {
            p
        }
        _ => "/",
    }
}

/// The sign-in form's target: a session cookie and back to `next`, or back to the
/// form with the reason (`wrong`, `locked`, `busy`).
pub(super) async fn sign_in(
    State(access): State<Access>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Result<Response> {
    if !same_origin(&headers) {
        return Err(Error::Forbidden("cross-site request refused (CSRF)".into()));
    }
    let next = local_path(form.next.as_deref()).to_string();
    let back = |reason: &str| {
        let to = format!("/signin?error={reason}&next={}", encode(&next));
        Ok(Redirect::to(&to).into_response())
    };
    if !access.admit_attempt(ip) {
        return back("busy");
    }
    let address = ip.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
    match users::sign_in(&access.ops, form.name.trim(), &form.password, &address).await? {
        Ok((secret, user)) => {
            let who = Caller { name: user.name.clone(), role: user.role, via: Via::Session };
            audit::record(&access.ops, &who, "session.sign_in", None, None).await?;
            let mut r = Redirect::to(&next).into_response();
            r.headers_mut().insert(header::SET_COOKIE, access.session_cookie(&secret, users::SESSION_HOURS * 3600));
            // The user's language, as they last chose it (on any browser).
            if let Some(lang) = users::language(&access.ops, &user.name).await?
                && let Ok(v) = HeaderValue::from_str(&format!("lang={lang}; Path=/; Max-Age=31536000; SameSite=Lax"))
            {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            Ok(r)
        }
        Err(users::Refusal::Locked(_)) => back("locked"),
        Err(users::Refusal::Wrong) => back("wrong"),
    }
}

pub(super) async fn sign_out(State(access): State<Access>, headers: HeaderMap) -> Result<Response> {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        users::sign_out(&access.ops, secret).await?;
    }
    let mut r = Redirect::to("/signin").into_response();
    r.headers_mut().insert(header::SET_COOKIE, access.session_cookie("", 0));
    Ok(r)
}

/// Who the request is from.
#[utoipa::path(get, path = "/api/v1/session", responses((status = 200, body = Viewer), (status = 401, body = crate::error::ApiError)))]
pub async fn session(caller: Caller) -> Json<Viewer> {
    Json(Viewer { name: caller.name, role: caller.role })
}
