//! The middleware every request passes: the caller from a cookie or a bearer token, the
//! same-origin check of unsafe requests, the sign-in redirect of pages, the security headers.

use super::*;

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a request comes from this site's own pages: the browser says so
/// (`Sec-Fetch-Site: same-origin`), or its `Origin` is this host.
pub(super) fn same_origin(headers: &HeaderMap) -> bool {
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
pub(super) fn public(path: &str) -> bool {
    path == "/signin"
        || path.starts_with("/auth/")
        || path.starts_with("/pkg/")
        || path.starts_with("/vendor/")
        || path == "/favicon.ico"
        || path == "/api/v1/health"
        || path == "/api/v1/openapi.json"
}

pub(super) fn unsafe_method(m: &Method) -> bool {
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
                // Ingest tokens land data, member consent changes included (a till or a
                // mini-program relays them).
                let ingest = req.method() == Method::POST
                    && (path.starts_with("/api/v1/ingest/")
                        || (path.starts_with("/api/v1/members/") && path.ends_with("/consent")));
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
pub(super) struct ClientIp(pub(super) Option<IpAddr>);

/// Percent-encodes a path for a query parameter.
pub(super) fn encode(text: &str) -> String {
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
pub(super) fn with_headers(mut response: Response, access: &Access, path: &str) -> Response {
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
