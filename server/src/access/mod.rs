//! Who is asking and what they may do (SPEC §1). Every request passes [`resolve`]: a
//! session cookie or a bearer token becomes a [`Caller`] in the request, unsafe requests
//! riding on a cookie must come from this site's own pages (CSRF), a page asked for
//! without a session goes to the sign-in page, and every answer gets the security
//! headers. API routes take the [`Caller`] as an extractor (401 without one) and the
//! service layer checks the role of the caller it is given (403).

mod admin;
pub mod audit;
pub mod disclosure;
mod middleware;
mod sign_in;
pub mod users;

pub use admin::*;
pub use middleware::*;
pub use sign_in::*;

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
