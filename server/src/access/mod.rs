//! Who is asking and what they may do (SPEC §1). Every request passes [`resolve`]: a
//! session cookie or a bearer token becomes a [`Caller`] in the request, unsafe requests
//! riding on a cookie must come from this site's own pages (CSRF), a page asked for
//! without a session goes to the sign-in page, and every answer gets the security
//! headers. API routes take the [`Caller`] as an extractor (401 without one) and the
//! service layer checks the role of the caller it is given (403).

pub mod audit;
pub mod disclosure;
pub mod users;

use std::{
    collections::{HashMap, VecDeque},
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use app::model::{ApiToken, AuditEntry, AuditQuery, Role, TokenRequest, User, UserChange, Viewer};
use axum::{
    Extension, Form, Json, Router,
    extract::{ConnectInfo, FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    routing::{get, post, put},
};

use crate::{
    Error, Result,
    http::extract::{Json as Body, Path, Query},
    store::operational::Pool,
};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "mp_session";

/// How a caller proved who they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// A signed-in person's session cookie.
    Session,
    /// An API token of this scope (`ingest` or `read`).
    Token(String),
    /// The secret in the data directory's `server.json` (the CLI on this machine), or
    /// the server's own background work.
    Local,
}

/// Who is asking.
#[derive(Clone, Debug)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub via: Via,
}

impl Caller {
    /// The server itself (alert evaluation, the CLI on the data directory): an admin.
    pub fn system() -> Caller {
        Caller { name: "system".into(), role: Role::Admin, via: Via::Local }
    }

    /// The `memberpulse` command on this machine (it can read the data directory): an
    /// admin, audited as `cli:<login>`.
    pub fn cli() -> Caller {
        let login = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".into());
        Caller { name: format!("cli:{login}"), role: Role::Admin, via: Via::Local }
    }

    /// Whether this is the server's own background work (not audited as a person's).
    pub fn is_system(&self) -> bool {
        self.via == Via::Local && self.name == "system"
    }

    /// A signed-in person, as the pages' server functions pass them on.
    pub fn signed_in(viewer: &Viewer) -> Caller {
        Caller { name: viewer.name.clone(), role: viewer.role, via: Via::Session }
    }

    /// Ok if the caller's role is `role` or above; a 403 naming the role otherwise.
    pub fn require(&self, role: Role) -> Result<()> {
        if self.role >= role {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "the {} role may not do this; it needs {}",
                self.role.key(),
                match role {
                    Role::Admin => "admin",
                    Role::Operator => "operator or admin",
                    Role::Executive => "a signed-in user",
                }
            )))
        }
    }

    /// Whether names and phones are shown unmasked (admins only).
    pub fn sees_personal_data(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller may land data through the ingest API.
    pub fn require_ingest(&self) -> Result<()> {
        match &self.via {
            Via::Local => Ok(()),
            Via::Token(scope) if scope == "ingest" => Ok(()),
            _ => Err(Error::Forbidden("ingest needs an API token with the ingest scope".into())),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller> {
        parts.extensions.get::<Caller>().cloned().ok_or(Error::Unauthorized)
    }
}

/// What [`resolve`] needs: the store, the local secrets, the sign-in rate limiter.
#[derive(Clone)]
pub struct Access {
    pub ops: Pool,
    /// The secret in `server.json`: the CLI on this machine acts as an admin with it.
    pub local: Arc<str>,
    /// A configured ingest secret (`--ingest-token`), besides the tokens in the store.
    pub ingest: Option<Arc<str>>,
    /// Whether cookies are marked `Secure` and HSTS sent (served over TLS).
    pub tls: bool,
    /// The reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`);
    /// from anyone else the header is ignored.
    pub trusted: Arc<[Net]>,
    attempts: Arc<Mutex<HashMap<IpAddr, VecDeque<Instant>>>>,
}

/// A network: an address and how many of its leading bits count (`10.0.0.0/8`,
/// `192.0.2.7`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    bits: u8,
}

impl Net {
    /// `ADDRESS` or `ADDRESS/BITS`.
    pub fn parse(text: &str) -> Result<Net> {
        let bad = || Error::bad_param("trusted-proxy", format!("expected an address or address/bits, got {text:?}"));
        let (addr, bits) = match text.trim().split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            Some(b) => b.parse::<u8>().ok().filter(|b| *b <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Net { addr, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let prefix = |a: u128, b: u128, width: u32| {
            let shift = width - u32::from(self.bits);
            shift >= width || (a >> shift) == (b >> shift)
        };
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(i)) => prefix(u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
            (IpAddr::V6(n), IpAddr::V6(i)) => prefix(u128::from(n), u128::from(i), 128),
            _ => false,
        }
    }
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then the
/// rightmost address in `X-Forwarded-For` that is not a trusted proxy (each proxy appends
/// the address it was called from; what is left of that is the client's word only).
fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[Net]) -> Option<IpAddr> {
    let peer = peer?.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    // An entry may carry a port (`192.0.2.1:5678`, `[2001:db8::1]:443`) or brackets.
    let address = |text: &str| {
        text.parse::<IpAddr>()
            .or_else(|_| text.parse::<SocketAddr>().map(|a| a.ip()))
            .or_else(|_| text.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>())
    };
    let mut client = peer;
    for text in forwarded.iter().rev() {
        match address(text) {
            Ok(ip) if is_trusted(ip) => client = ip.to_canonical(),
            Ok(ip) => return Some(ip.to_canonical()),
            Err(_) => break,
        }
    }
    Some(client)
}

/// Sign-in attempts one address may make per minute.
pub const SIGN_IN_PER_MINUTE: usize = 10;

impl Access {
    pub fn new(ops: Pool, local: &str, ingest: Option<&str>, tls: bool, trusted: &[Net]) -> Access {
        Access {
            ops,
            local: Arc::from(local),
            ingest: ingest.map(Arc::from),
            tls,
            trusted: Arc::from(trusted),
            attempts: Arc::default(),
        }
    }

    /// The caller a request's bearer token or session cookie proves, if any.
    async fn caller(&self, headers: &HeaderMap) -> Result<Option<Caller>> {
        if let Some(presented) = bearer(headers) {
            if same(presented, &self.local) {
                return Ok(Some(Caller { name: "local".into(), role: Role::Admin, via: Via::Local }));
            }
            if self.ingest.as_deref().is_some_and(|t| same(presented, t)) {
                return Ok(Some(Caller {
                    name: "ingest-token".into(),
                    role: Role::Executive,
                    via: Via::Token("ingest".into()),
                }));
            }
            return match users::token_of(&self.ops, presented).await? {
                Some((id, name, scope, role)) => {
                    Ok(Some(Caller { name: format!("token:{id}:{name}"), role, via: Via::Token(scope) }))
                }
                None => Err(Error::Unauthorized),
            };
        }
        if let Some(secret) = cookie(headers, SESSION_COOKIE) {
            return Ok(users::session_user(&self.ops, secret).await?.map(|(name, role)| Caller {
                name,
                role,
                via: Via::Session,
            }));
        }
        Ok(None)
    }

    /// Counts an attempt from `ip`; false when it is over the per-minute limit.
    fn admit_attempt(&self, ip: Option<IpAddr>) -> bool {
        let ip = ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let mut all = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if all.len() > 10_000 {
            // Forget addresses quiet for a minute, so the table stays small.
            all.retain(|_, seen| seen.back().is_some_and(|t| now.duration_since(*t) <= Duration::from_secs(60)));
        }
        let seen = all.entry(ip).or_default();
        while seen.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(60)) {
            seen.pop_front();
        }
        if seen.len() >= SIGN_IN_PER_MINUTE {
            return false;
        }
        seen.push_back(now);
        true
    }

    fn session_cookie(&self, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.tls { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ))
        .unwrap_or(HeaderValue::from_static(""))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Constant-time comparison of two secrets.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a request comes from this site's own pages: the browser says so
/// (`Sec-Fetch-Site: same-origin`), or its `Origin` is this host.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin";
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => {
            origin.split_once("://").is_some_and(|(_, rest)| rest.trim_end_matches('/') == host)
        }
        _ => false,
    }
}

/// Paths anyone may fetch: the sign-in page and its form, the compiled site, health.
fn public(path: &str) -> bool {
    path == "/signin"
        || path.starts_with("/auth/")
        || path.starts_with("/pkg/")
        || path.starts_with("/vendor/")
        || path == "/favicon.ico"
        || path == "/api/v1/health"
        || path == "/api/v1/openapi.json"
}

fn unsafe_method(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware every request passes (see the module's documentation).
pub async fn resolve(State(access): State<Access>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let caller = match access.caller(req.headers()).await {
        Ok(c) => c,
        Err(e) => return with_headers(e.into_response(), &access, &path),
    };
    let refused = |e: Error| with_headers(e.into_response(), &access, &path);
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = client_ip(peer, req.headers(), &access.trusted);
    req.extensions_mut().insert(ClientIp(ip));
    match &caller {
        Some(c) => {
            if let Via::Token(scope) = &c.via {
                let ingest = req.method() == Method::POST && path.starts_with("/api/v1/ingest/");
                let allowed = match scope.as_str() {
                    "ingest" => ingest,
                    _ => !unsafe_method(req.method()) && path.starts_with("/api/v1/"),
                };
                if !allowed {
                    return refused(Error::Forbidden(format!("a token with the {scope} scope may not do this")));
                }
            }
            if c.via == Via::Session && unsafe_method(req.method()) && !same_origin(req.headers()) {
                return refused(Error::Forbidden("cross-site request refused (CSRF)".into()));
            }
            req.extensions_mut().insert(Viewer { name: c.name.clone(), role: c.role });
            req.extensions_mut().insert(c.clone());
        }
        None if !public(&path) && !path.starts_with("/api/") && req.method() == Method::GET => {
            let here = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let target = format!("/signin?next={}", encode(here));
            return with_headers(Redirect::to(&target).into_response(), &access, &path);
        }
        None => {}
    }
    let response = next.run(req).await;
    with_headers(response, &access, &path)
}

/// The address a request came from (for the sign-in rate limit and lockout).
#[derive(Clone, Copy)]
struct ClientIp(Option<IpAddr>);

/// Percent-encodes a path for a query parameter.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The security headers of every answer. Pages set their own Content-Security-Policy
/// with the nonce of their scripts (see `app::shell`); anything else gets one that
/// admits nothing.
fn with_headers(mut response: Response, access: &Access, path: &str) -> Response {
    let h = response.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
        );
    }
    if access.tls {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    if path.starts_with("/api/") || path.starts_with("/auth/") {
        h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    }
    response
}

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
struct SignIn {
    name: String,
    password: String,
    next: Option<String>,
}

/// Where to go after signing in: a path on this site, never elsewhere. It starts with one
/// `/` and has no backslash or control character (browsers drop tabs and newlines, so
/// `/<TAB>/evil.example` would become `//evil.example`); anything else goes to `/`.
fn local_path(next: Option<&str>) -> &str {
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
async fn sign_in(
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

async fn sign_out(State(access): State<Access>, headers: HeaderMap) -> Result<Response> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/members?x=1")), "/members?x=1");
        assert_eq!(local_path(Some("//evil.example")), "/");
        assert_eq!(local_path(Some("https://evil.example")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(Some("/\t/evil.example")), "/");
        assert_eq!(local_path(Some("/\n/evil.example")), "/");
        assert_eq!(local_path(Some("/a\u{7f}")), "/");
        assert_eq!(local_path(Some("")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn same_origin_needs_the_browser_or_the_origin_to_say_so() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:3000"));
        assert!(!same_origin(&h), "no Origin, no Sec-Fetch-Site");
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:3000"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&h));
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted = [Net::parse("10.0.0.0/8").unwrap(), Net::parse("::1").unwrap()];
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6, 203.0.113.9, 10.1.1.1"));
        // From a trusted proxy: the rightmost untrusted address.
        assert_eq!(client_ip(Some(ip("10.0.0.2")), &h, &trusted), Some(ip("203.0.113.9")));
        assert_eq!(client_ip(Some(ip("::1")), &h, &trusted), Some(ip("203.0.113.9")));
        // From anyone else: the header is the caller's word, ignored.
        assert_eq!(client_ip(Some(ip("198.51.100.1")), &h, &trusted), Some(ip("198.51.100.1")));
        assert_eq!(client_ip(Some(ip("10.0.0.2")), &HeaderMap::new(), &trusted), Some(ip("10.0.0.2")));
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9:5678"));
        assert_eq!(client_ip(Some(ip("10.0.0.2")), &h, &trusted), Some(ip("203.0.113.9")));
        h.insert("x-forwarded-for", HeaderValue::from_static("[2001:db8::7]:443, [2001:db8::8]"));
        assert_eq!(client_ip(Some(ip("10.0.0.2")), &h, &trusted), Some(ip("2001:db8::8")));
        h.insert("x-forwarded-for", HeaderValue::from_static("junk, 10.1.1.1"));
        assert_eq!(client_ip(Some(ip("10.0.0.2")), &h, &trusted), Some(ip("10.1.1.1")));
        assert!(Net::parse("10.0.0.0/33").is_err() && Net::parse("nope").is_err());
        assert!(Net::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(!Net::parse("192.168.0.0/16").unwrap().contains(ip("192.169.0.1")));
        assert!(Net::parse("127.0.0.1").unwrap().contains(ip("::ffff:127.0.0.1")));
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; mp_session=abc; b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn roles_are_ordered() {
        let exec = Caller { name: "e".into(), role: Role::Executive, via: Via::Session };
        assert!(exec.require(Role::Executive).is_ok());
        assert!(matches!(exec.require(Role::Operator), Err(Error::Forbidden(_))));
        assert!(Caller::system().require(Role::Admin).is_ok());
        assert!(exec.require_ingest().is_err());
    }
}
