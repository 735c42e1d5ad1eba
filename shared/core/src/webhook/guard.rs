//! The destination guard: a webhook must not become a way into the private
//! network (SSRF).
//!
//! - At save time ([`check_url`]): http(s) only, no credentials in the URL,
//!   the origin (`scheme://host[:port]`) literal (placeholders only in the
//!   path and query), and a literal host that is not `localhost`,
//!   `*.localhost`, `*.internal`, nor an IP address that is loopback,
//!   private (RFC 1918, fc00::/7), link-local (169.254.0.0/16 — the cloud
//!   metadata address —, fe80::/10), unspecified, multicast, shared
//!   (100.64.0.0/10) or reserved.
//! - At call time ([`check_resolved`]): every address the host resolves to
//!   must pass the same test; the adapter connects to the address it checked
//!   (no DNS-rebinding window) and does not follow redirects.
//!
//! The operator's allow-list ([`AllowList`], `CRM_WEBHOOK_ALLOW=
//! 127.0.0.1:8081,hooks.local:443`) lets named `host:port` destinations
//! through both checks (a local test receiver). It is installed once per
//! process ([`install_allow_list`]) by the local server and the Lambdas.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::RwLock;

use url::{Host, Url};

/// `host:port` destinations the operator allows although the guard would
/// refuse them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    entries: Vec<(String, u16)>,
}

impl AllowList {
    /// Parse `host:port,host:port` (spaces ignored). Entries without a valid
    /// port are ignored (and named in the error list).
    pub fn parse(spec: &str) -> (AllowList, Vec<String>) {
        let mut list = AllowList::default();
        let mut bad = Vec::new();
        for e in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match e
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            {
                Some((h, p)) => list.entries.push((normalize_host(h), p)),
                None => bad.push(e.to_string()),
            }
        }
        (list, bad)
    }

    /// Is `host:port` allowed?
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = normalize_host(host);
        self.entries.iter().any(|(h, p)| *h == host && *p == port)
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn normalize_host(h: &str) -> String {
    h.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

static ALLOW: RwLock<AllowList> = RwLock::new(AllowList {
    entries: Vec::new(),
});

/// Add `list` to the process's allow-list (the local server and the Lambdas
/// install `CRM_WEBHOOK_ALLOW` at start; tests add their receivers).
pub fn install_allow_list(list: AllowList) {
    if let Ok(mut a) = ALLOW.write() {
        for e in list.entries {
            if !a.entries.contains(&e) {
                a.entries.push(e);
            }
        }
    }
}

/// Is `host:port` on the process's allow-list?
pub fn allowed(host: &str, port: u16) -> bool {
    ALLOW.read().is_ok_and(|a| a.allows(host, port))
}

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The parts of a URL the guard and the adapters use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub url: Url,
    /// Host as written (no brackets for IPv6).
    pub host: String,
    pub port: u16,
}

/// Parse a URL and check what can be checked without resolving it.
pub fn check_url(url: &str) -> Result<Destination, Refused> {
    let parsed = Url::parse(url).map_err(|e| Refused(format!("not a valid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Refused(format!(
            "scheme '{}' is not allowed (http or https only)",
            parsed.scheme()
        )));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refused(
            "credentials in the URL are not allowed (use a header)".into(),
        ));
    }
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| Refused("the URL has no port".into()))?;
    let (host, ip) = match parsed.host() {
        None => return Err(Refused("the URL has no host".into())),
        Some(Host::Domain(d)) => (normalize_host(d), None),
        Some(Host::Ipv4(a)) => (a.to_string(), Some(IpAddr::V4(a))),
        Some(Host::Ipv6(a)) => (a.to_string(), Some(IpAddr::V6(a))),
    };
    let dest = Destination {
        url: parsed,
        host: host.clone(),
        port,
    };
    if allowed(&host, port) {
        return Ok(dest);
    }
    if let Some(ip) = ip {
        if let Some(why) = forbidden_ip(ip) {
            return Err(Refused(format!("{ip} is a {why} address")));
        }
        return Ok(dest);
    }
    if host == "localhost" || host.ends_with(".localhost") {
        return Err(Refused(format!("'{host}' is the local machine")));
    }
    if host == "internal" || host.ends_with(".internal") {
        return Err(Refused(format!("'{host}' is an internal name")));
    }
    if !host.contains('.') {
        return Err(Refused(format!(
            "'{host}' is not a public host name (no domain)"
        )));
    }
    Ok(dest)
}

/// Check the addresses `dest`'s host resolved to: every one must be public
/// (unless the destination is allow-listed). Returns the address to connect to.
pub fn check_resolved(dest: &Destination, addrs: &[IpAddr]) -> Result<IpAddr, Refused> {
    let Some(first) = addrs.first() else {
        return Err(Refused(format!("'{}' does not resolve", dest.host)));
    };
    if allowed(&dest.host, dest.port) {
        return Ok(*first);
    }
    for ip in addrs {
        if let Some(why) = forbidden_ip(*ip) {
            return Err(Refused(format!(
                "'{}' resolves to {ip}, a {why} address",
                dest.host
            )));
        }
    }
    Ok(*first)
}

/// What kind of non-public address `ip` is, if it is one.
pub fn forbidden_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(a) => forbidden_v4(a),
        IpAddr::V6(a) => forbidden_v6(a),
    }
}

fn forbidden_v4(a: Ipv4Addr) -> Option<&'static str> {
    let [o0, o1, ..] = a.octets();
    Some(if a.is_loopback() {
        "loopback"
    } else if a.is_unspecified() || o0 == 0 {
        "unspecified"
    } else if a.is_private() {
        "private"
    } else if a.is_link_local() {
        "link-local"
    } else if a.is_multicast() {
        "multicast"
    } else if o0 == 100 && (o1 & 0xc0) == 64 {
        "shared (carrier-grade NAT)"
    } else if o0 >= 240 || (o0 == 192 && o1 == 0 && a.octets()[2] == 0) {
        "reserved"
    } else {
        return None;
    })
}

fn forbidden_v6(a: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = a.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s0 = a.segments()[0];
    Some(if a.is_loopback() {
        "loopback"
    } else if a.is_unspecified() {
        "unspecified"
    } else if (s0 & 0xfe00) == 0xfc00 {
        "private (unique local)"
    } else if (s0 & 0xffc0) == 0xfe80 {
        "link-local"
    } else if a.is_multicast() {
        "multicast"
    } else if a.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64: the embedded IPv4 address decides.
        let [.., a6, a7] = a.segments();
        let v4 = Ipv4Addr::new((a6 >> 8) as u8, a6 as u8, (a7 >> 8) as u8, a7 as u8);
        return forbidden_v4(v4);
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> bool {
        check_url(url).is_err()
    }

    #[test]
    fn public_http_and_https_urls_pass() {
        assert!(!refused("https://hooks.example.com/a?b=c"));
        assert!(!refused("http://93.184.216.34:8080/x"));
        assert!(!refused("https://[2606:4700::1111]/"));
    }

    #[test]
    fn other_schemes_credentials_and_local_names_are_refused() {
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://example.com/",
            "https://user:pw@example.com/",
            "https://user@example.com/",
            "http://localhost:8080/",
            "http://LOCALHOST./",
            "http://api.localhost/",
            "http://metadata.google.internal/",
            "http://intranet/",
            "not a url",
        ] {
            assert!(refused(url), "{url}");
        }
    }

    #[test]
    fn private_loopback_link_local_and_metadata_addresses_are_refused() {
        for url in [
            "http://127.0.0.1/",
            "http://127.1.2.3:9000/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://10.0.0.5/",
            "http://172.16.0.1/",
            "http://172.31.255.255/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
            "http://100.64.0.1/",
            "http://255.255.255.255/",
            "http://[::1]/",
            "http://[::]/",
            "http://[fc00::1]/",
            "http://[fd12:3456::1]/",
            "http://[fe80::1]/",
            "http://[ff02::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://[64:ff9b::a9fe:a9fe]/",
        ] {
            assert!(refused(url), "{url}");
        }
        assert!(!refused("http://172.32.0.1/"));
    }

    #[test]
    fn resolved_addresses_are_all_checked() {
        let d = check_url("https://rebind.example.com/").unwrap();
        let public: IpAddr = "93.184.216.34".parse().unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(check_resolved(&d, &[public]), Ok(public));
        let e = check_resolved(&d, &[public, local]).unwrap_err();
        assert!(e.0.contains("127.0.0.1") && e.0.contains("loopback"), "{e}");
        assert!(check_resolved(&d, &[]).is_err());
    }

    #[test]
    fn the_allow_list_lets_named_host_ports_through() {
        let (list, bad) = AllowList::parse(" 127.0.0.1:45901 , Hooks.Test:8443,nonsense");
        assert_eq!(bad, ["nonsense"]);
        assert!(list.allows("127.0.0.1", 45901));
        assert!(list.allows("hooks.test.", 8443));
        assert!(!list.allows("127.0.0.1", 45902));
        install_allow_list(list);
        assert!(!refused("http://127.0.0.1:45901/hook"));
        assert!(refused("http://127.0.0.1:45902/hook"));
        let d = check_url("http://hooks.test:8443/").unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(check_resolved(&d, &[local]), Ok(local));
    }
}
