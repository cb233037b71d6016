//! Where alert notices may be sent (SPEC §7 channels), as a caller's URL is hostile: http
//! or https only, and — unless the server runs with `--allow-private-webhooks` — never to a
//! loopback, link-local, private, unique-local or otherwise internal address, checked when
//! a rule is saved and again when each notice is sent (after the name is resolved, by the
//! resolver the connection itself uses, so a name that later resolves elsewhere is caught).
//! Redirects are not followed and no proxy is taken from the environment. Operators see a
//! channel's URL without its path and query, where robots keep their keys.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::Url;

/// Whether webhooks may not reach `ip` by default: anything but a public unicast address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(a) => internal_v4(a),
        IpAddr::V6(a) => internal_v6(a),
    }
}

fn internal_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, o2, _] = a.octets();
    a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_documentation()
        || o0 == 0
        // shared address space (carrier NAT), 100.64.0.0/10
        || (o0 == 100 && (64..128).contains(&o1))
        // IETF protocol assignments 192.0.0.0/24, benchmarking 198.18.0.0/15
        || (o0 == 192 && o1 == 0 && o2 == 0)
        || (o0 == 198 && (18..20).contains(&o1))
        // 6to4 relay anycast 192.88.99.0/24
        || (o0 == 192 && o1 == 88 && o2 == 99)
        // reserved 240.0.0.0/4
        || o0 >= 240
}

fn internal_v6(a: Ipv6Addr) -> bool {
    let s = a.segments();
    let embedded_v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        // unique local fc00::/7, link-local fe80::/10, site-local fec0::/10
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] & 0xffc0) == 0xfec0
        // documentation 2001:db8::/32
        || (s[0] == 0x2001 && s[1] == 0x0db8)
        // NAT64 64:ff9b::/96 and 6to4 2002::/16 carry an IPv4 address: judge that one
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] && internal_v4(embedded_v4(s[6], s[7])))
        || (s[0] == 0x2002 && internal_v4(embedded_v4(s[1], s[2])))
        // IPv4-compatible ::a.b.c.d (deprecated), IPv4-translated ::ffff:0:a.b.c.d
        || (s[0..6] == [0; 6] && internal_v4(embedded_v4(s[6], s[7])))
        || (s[0..4] == [0; 4] && s[4] == 0xffff && s[5] == 0 && internal_v4(embedded_v4(s[6], s[7])))
        // local-use NAT64 64:ff9b:1::/48 (any IPv4 inside it is the operator's own)
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
        // Teredo 2001::/32 (carries an obfuscated IPv4), benchmarking 2001:2::/48,
        // ORCHID 2001:10::/28 and 2001:20::/28, discard-only 100::/64
        || (s[0] == 0x2001 && (s[1] == 0 || s[1] == 2 || (s[1] & 0xfff0) == 0x0010 || (s[1] & 0xfff0) == 0x0020))
        || (s[0] == 0x0100 && s[1..4] == [0; 3])
}

/// Why a channel URL is refused, if it is: not http(s), no host, credentials in it, or an
/// internal address (a literal one, `localhost`, or a name resolving to one) unless
/// `allow_internal`. A name that does not resolve now is taken (it is checked again when
/// a notice is sent).
pub async fn check(url: &str, allow_internal: bool) -> Result<(), String> {
    let parsed = parse(url)?;
    if allow_internal {
        return Ok(());
    }
    check_host(&parsed)?;
    if let Some(url::Host::Domain(name)) = parsed.host() {
        let port = parsed.port_or_known_default().unwrap_or(443);
        if let Ok(Ok(addrs)) = tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((name, port))).await
        {
            for a in addrs {
                if is_internal(a.ip()) {
                    return Err(format!("{name} resolves to {}, an internal address", a.ip()));
                }
            }
        }
    }
    Ok(())
}

fn parse(url: &str) -> Result<Url, String> {
    let parsed = Url::parse(url.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("expected an http(s) URL".into());
    }
    if parsed.host().is_none() {
        return Err("the URL has no host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("put no user name or password in the URL".into());
    }
    Ok(parsed)
}

/// The checks that need no resolution: a literal address, or a name of this machine.
fn check_host(parsed: &Url) -> Result<(), String> {
    let internal = |ip: IpAddr| Err(format!("{ip} is an internal (private, loopback or link-local) address"));
    match parsed.host() {
        Some(url::Host::Ipv4(a)) if is_internal(IpAddr::V4(a)) => internal(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) if is_internal(IpAddr::V6(a)) => internal(IpAddr::V6(a)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost"
                || name.ends_with(".localhost")
                || name.ends_with(".local")
                || name.ends_with(".internal")
            {
                Err(format!("{name} names an internal host"))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// The same checks when a notice is sent: the literal host here, a name in the client's
/// resolver ([`client`]).
pub fn check_before_send(url: &str, allow_internal: bool) -> Result<(), String> {
    let parsed = parse(url)?;
    if allow_internal { Ok(()) } else { check_host(&parsed) }
}

/// The HTTP client notices go out with: no redirects, no proxy from the environment, and
/// (unless `allow_internal`) a resolver that refuses names resolving to internal addresses.
pub fn client(allow_internal: bool) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30));
    if !allow_internal {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build().unwrap_or_else(|_| reqwest::Client::new())
}

/// A resolver that answers only for names whose every address is public.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| is_internal(a.ip())) {
                let e = std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("{host} resolves to {}, a private or internal address (refused)", bad.ip()),
                );
                return Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A channel URL as operators see it: scheme, host and port; the path and query (where
/// robots keep their keys) replaced by `…`.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}/…",
            u.scheme(),
            u.host_str().unwrap_or(""),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "…".to_string(),
    }
}

/// An error and its causes, as one line (reqwest's own message leaves the cause out).
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_told_apart_from_public_ones() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "::127.0.0.1",
            "::ffff:0:7f00:1",
            "64:ff9b:1::7f00:1",
            "2001::1",
            "100::1",
            "2001:2::1",
            "2001:10::1",
            "2001:1f::1",
            "2001:2f::1",
            "192.88.99.1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "203.0.114.1", "2606:4700::1111", "64:ff9b::808:808", "2001:30::1"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn urls_are_checked_before_saving() {
        for url in [
            "http://127.0.0.1/x",
            "http://2130706433/x",
            "http://0x7f.0.0.1/x",
            "http://[::1]/x",
            "http://localhost:8080/x",
            "http://foo.localhost/x",
            "ftp://example.com/x",
            "http://user:pw@example.com/x",
            "not a url",
        ] {
            assert!(check(url, false).await.is_err(), "{url}");
        }
        assert!(check("http://127.0.0.1/x", true).await.is_ok());
        assert!(
            check("https://hooks.example.invalid/services/x", false).await.is_ok(),
            "unresolved names wait for sending"
        );
    }

    #[test]
    fn operators_see_no_path_or_query() {
        assert_eq!(
            redact("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=secret"),
            "https://qyapi.weixin.qq.com/…"
        );
        assert_eq!(redact("http://hooks.example.com:8443/T0/B0/XYZ"), "http://hooks.example.com:8443/…");
    }
}
