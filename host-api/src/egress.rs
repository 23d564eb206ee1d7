//! The outbound HTTP policy: an allow-list of `scheme://host[:port]` rules, then an address
//! check after DNS resolution.
//!
//! Two gates, both deny-by-default:
//! 1. *Names*: the request's scheme, host and port must match a rule. `*.example.com`
//!    matches any subdomain of `example.com` but not `example.com` itself; a rule without a
//!    port means the scheme's default port (80/443).
//! 2. *Addresses*: every address the host resolves to must be public. Loopback, private,
//!    link-local, unique-local, CGNAT, unspecified, multicast and reserved ranges (IPv4 and
//!    IPv6, including IPv4-mapped/NAT64/6to4 forms) are denied unless they fall inside one
//!    of `allowed_networks`. This holds even for a rule naming an IP literal: reaching
//!    `http://127.0.0.1:8080` needs both the rule and `127.0.0.0/8` in the networks.
//!
//! The sender ([`crate::http`]) connects to the address that passed gate 2, never to the
//! name again, so there is no DNS-rebinding window between check and connect.

use crate::error::HostError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// A URL scheme the policy knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EgressScheme {
    /// `http`, default port 80.
    Http,
    /// `https`, default port 443.
    Https,
}

impl EgressScheme {
    /// Parses `http`/`https`, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("http") {
            Some(EgressScheme::Http)
        } else if s.eq_ignore_ascii_case("https") {
            Some(EgressScheme::Https)
        } else {
            None
        }
    }

    /// The scheme's default port.
    pub fn default_port(self) -> u16 {
        match self {
            EgressScheme::Http => 80,
            EgressScheme::Https => 443,
        }
    }

    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            EgressScheme::Http => "http",
            EgressScheme::Https => "https",
        }
    }
}

impl fmt::Display for EgressScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The host part of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HostPattern {
    /// One DNS name, lower-case, without a trailing dot.
    Exact(String),
    /// `*.<suffix>`: any name ending in `.<suffix>` (not `<suffix>` itself).
    Subdomains(String),
    /// An IP literal.
    Ip(IpAddr),
}

impl HostPattern {
    fn matches(&self, host: &RequestHost) -> bool {
        match (self, host) {
            (HostPattern::Exact(name), RequestHost::Name(h)) => name == h,
            (HostPattern::Subdomains(suffix), RequestHost::Name(h)) => h
                .strip_suffix(suffix.as_str())
                .and_then(|prefix| prefix.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty()),
            (HostPattern::Ip(ip), RequestHost::Ip(h)) => ip.to_canonical() == h.to_canonical(),
            _ => false,
        }
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(name) => f.write_str(name),
            HostPattern::Subdomains(suffix) => write!(f, "*.{suffix}"),
            HostPattern::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            HostPattern::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// One allow-list entry: `scheme://host[:port]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EgressRule {
    /// The scheme that must match exactly.
    pub scheme: EgressScheme,
    /// The host pattern.
    pub host: HostPattern,
    /// The port (the scheme's default when the rule names none).
    pub port: u16,
}

impl fmt::Display for EgressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl FromStr for EgressRule {
    type Err = HostError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| HostError::InvalidEgressRule {
            rule: input.to_string(),
            reason: reason.to_string(),
        };
        let text = input.trim();
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| err("expected scheme://host[:port], e.g. https://api.example.com"))?;
        let scheme =
            EgressScheme::parse(scheme).ok_or_else(|| err("the scheme must be http or https"))?;
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if !(path.is_empty() || path == "/") {
            return Err(err("rules match scheme, host and port; remove the path"));
        }
        if authority.contains('@') {
            return Err(err("user info is not allowed in a rule"));
        }
        let (host, port) = split_host_port(authority).map_err(|r| err(&r))?;
        let port = match port {
            Some(p) => p,
            None => scheme.default_port(),
        };
        let host = if let Some(suffix) = host.strip_prefix("*.") {
            let suffix = normalize_name(suffix)
                .ok_or_else(|| err("the part after `*.` must be a DNS name"))?;
            HostPattern::Subdomains(suffix)
        } else if host.contains('*') {
            return Err(err("a wildcard is only allowed as a leading `*.` label"));
        } else if let Some(ip) = parse_ip_host(host) {
            HostPattern::Ip(ip)
        } else {
            HostPattern::Exact(normalize_name(host).ok_or_else(|| err("invalid host name"))?)
        };
        Ok(EgressRule { scheme, host, port })
    }
}

/// Splits `host[:port]` / `[v6][:port]`.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let parse_port = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("invalid port {p:?}")),
            Ok(n) => Ok(n),
        }
    };
    if authority.is_empty() {
        return Err("missing host".into());
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed `[` in IPv6 host".to_string())?;
        let port = match after {
            "" => None,
            p => {
                Some(parse_port(p.strip_prefix(':').ok_or_else(|| {
                    format!("unexpected {p:?} after IPv6 host")
                })?)?)
            }
        };
        return Ok((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => {
            Err("an IPv6 host must be in brackets, e.g. http://[::1]:8080".into())
        }
        Some((host, port)) => Ok((host, Some(parse_port(port)?))),
        None => Ok((authority, None)),
    }
}

fn parse_ip_host(host: &str) -> Option<IpAddr> {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.parse().ok()
}

/// Lower-cases a DNS name and strips a trailing dot; `None` if it has characters or
/// labels a DNS name cannot have.
fn normalize_name(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let valid_label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    name.split('.').all(valid_label).then_some(name)
}

/// A request host, normalized.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RequestHost {
    Name(String),
    Ip(IpAddr),
}

/// A CIDR network, e.g. `127.0.0.0/8` or `fd00::/8`. A bare address is a single host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNetwork {
    addr: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Whether `ip` is inside this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

impl FromStr for IpNetwork {
    type Err = HostError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| HostError::InvalidNetwork {
            input: input.to_string(),
            reason,
        };
        let text = input.trim();
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = parse_ip_host(addr)
            .ok_or_else(|| err(format!("{addr:?} is not an IP address")))?
            .to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| err(format!("prefix length must be 0..={max}")))?,
        };
        Ok(IpNetwork { addr, prefix })
    }
}

impl fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Why the policy refused a request. The text names what was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressDenial {
    /// The scheme is not http or https.
    #[error("egress to {scheme}://{host} denied: only http and https are allowed")]
    UnsupportedScheme {
        /// The scheme as requested.
        scheme: String,
        /// The host as requested.
        host: String,
    },
    /// No rule matches the scheme, host and port.
    #[error("egress to {scheme}://{host}:{port} denied: not on the allow-list")]
    NotAllowed {
        /// The scheme as requested.
        scheme: String,
        /// The host as requested (normalized).
        host: String,
        /// The port (explicit, or the scheme's default).
        port: u16,
    },
    /// The host resolved to an address in a blocked range.
    #[error("egress to {host} denied: address {addr} is in a blocked range ({range})")]
    BlockedAddress {
        /// The host as requested.
        host: String,
        /// The offending address.
        addr: IpAddr,
        /// The range it falls in (`loopback`, `private`, ...).
        range: &'static str,
    },
}

impl EgressDenial {
    /// The host that was denied.
    pub fn host(&self) -> &str {
        match self {
            EgressDenial::UnsupportedScheme { host, .. }
            | EgressDenial::NotAllowed { host, .. }
            | EgressDenial::BlockedAddress { host, .. } => host,
        }
    }
}

/// A request that passed the name gate: what to resolve and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressTarget {
    /// The scheme.
    pub scheme: EgressScheme,
    /// The host, normalized (no brackets, lower-case, no trailing dot).
    pub host: String,
    /// The IP, when the host is an IP literal (no DNS lookup then).
    pub ip: Option<IpAddr>,
    /// The port.
    pub port: u16,
}

/// The egress policy of a run. The default denies everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    rules: Vec<EgressRule>,
    allowed_networks: Vec<IpNetwork>,
}

impl EgressPolicy {
    /// A policy that allows nothing.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// A policy from allow-list rules such as `https://api.pagerduty.com`.
    pub fn new<I, S>(rules: I) -> Result<Self, HostError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let rules = rules
            .into_iter()
            .map(|r| r.as_ref().parse())
            .collect::<Result<_, _>>()?;
        Ok(EgressPolicy {
            rules,
            allowed_networks: Vec::new(),
        })
    }

    /// Also allows addresses in these CIDR networks (e.g. `10.1.0.0/16`) even though they
    /// are private/loopback/...
    pub fn with_allowed_networks<I, S>(mut self, networks: I) -> Result<Self, HostError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for n in networks {
            self.allowed_networks.push(n.as_ref().parse()?);
        }
        Ok(self)
    }

    /// Adds a parsed rule.
    pub fn add_rule(&mut self, rule: EgressRule) {
        self.rules.push(rule);
    }

    /// Adds a parsed network.
    pub fn add_network(&mut self, network: IpNetwork) {
        self.allowed_networks.push(network);
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[EgressRule] {
        &self.rules
    }

    /// The networks exempt from the address gate.
    pub fn allowed_networks(&self) -> &[IpNetwork] {
        &self.allowed_networks
    }

    /// Whether no request can pass.
    pub fn is_deny_all(&self) -> bool {
        self.rules.is_empty()
    }

    /// Gate 1: does a rule allow `scheme://host:port` (port `None` = scheme default)?
    pub fn check_target(
        &self,
        scheme: &str,
        host: &str,
        port: Option<u16>,
    ) -> Result<EgressTarget, EgressDenial> {
        let shown_host = host.trim().to_ascii_lowercase();
        let Some(scheme) = EgressScheme::parse(scheme) else {
            return Err(EgressDenial::UnsupportedScheme {
                scheme: scheme.to_string(),
                host: shown_host,
            });
        };
        let port = port.unwrap_or(scheme.default_port());
        let denied = |host: String| EgressDenial::NotAllowed {
            scheme: scheme.as_str().to_string(),
            host,
            port,
        };
        let request_host = if let Some(ip) = parse_ip_host(host.trim()) {
            RequestHost::Ip(ip)
        } else {
            match normalize_name(host.trim()) {
                Some(name) => RequestHost::Name(name),
                None => return Err(denied(shown_host)),
            }
        };
        let allowed = self
            .rules
            .iter()
            .any(|r| r.scheme == scheme && r.port == port && r.host.matches(&request_host));
        let (host, ip) = match request_host {
            RequestHost::Name(name) => (name, None),
            RequestHost::Ip(ip) => (ip.to_string(), Some(ip)),
        };
        if !allowed {
            return Err(denied(host));
        }
        Ok(EgressTarget {
            scheme,
            host,
            ip,
            port,
        })
    }

    /// Gate 2: may a connection to `host` go to `ip`?
    pub fn check_addr(&self, host: &str, ip: IpAddr) -> Result<(), EgressDenial> {
        let Some(range) = blocked_range(ip) else {
            return Ok(());
        };
        if self.allowed_networks.iter().any(|n| n.contains(ip)) {
            return Ok(());
        }
        Err(EgressDenial::BlockedAddress {
            host: host.to_string(),
            addr: ip,
            range,
        })
    }
}

/// The special-purpose range `ip` falls in, or `None` for a public address.
pub fn blocked_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    prefix_eq(&net, &ip.octets(), prefix)
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u8, &str)] = &[
        ([0, 0, 0, 0], 8, "unspecified"),
        ([10, 0, 0, 0], 8, "private"),
        ([100, 64, 0, 0], 10, "carrier-grade NAT"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 0, 0, 0], 24, "reserved"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "reserved"),
        ([192, 168, 0, 0], 16, "private"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, name)| *name)
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u8) -> bool {
    let net = Ipv6Addr::from(net).octets();
    prefix_eq(&net, &ip.octets(), prefix)
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    // Forms that carry an IPv4 address: judge the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return blocked_v4(v4);
    }
    let o = ip.octets();
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return blocked_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return blocked_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    const RANGES: &[([u16; 8], u8, &str)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 96, "IPv4-compatible (deprecated)"),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "private NAT64"),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo"),
        ([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "benchmarking"),
        ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique-local"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
        .map(|(_, _, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rules: &[&str]) -> EgressPolicy {
        EgressPolicy::new(rules).unwrap()
    }

    #[test]
    fn rule_parsing() {
        let r: EgressRule = "https://api.pagerduty.com".parse().unwrap();
        assert_eq!(r.scheme, EgressScheme::Https);
        assert_eq!(r.host, HostPattern::Exact("api.pagerduty.com".into()));
        assert_eq!(r.port, 443);
        assert_eq!(r.to_string(), "https://api.pagerduty.com:443");

        let r: EgressRule = "https://*.Example.com:8443/".parse().unwrap();
        assert_eq!(r.host, HostPattern::Subdomains("example.com".into()));
        assert_eq!(r.port, 8443);

        let r: EgressRule = "HTTP://127.0.0.1:8080".parse().unwrap();
        assert_eq!(r.scheme, EgressScheme::Http);
        assert_eq!(r.host, HostPattern::Ip("127.0.0.1".parse().unwrap()));

        let r: EgressRule = "http://[::1]:8080".parse().unwrap();
        assert_eq!(r.host, HostPattern::Ip("::1".parse().unwrap()));
        assert_eq!(r.to_string(), "http://[::1]:8080");

        let r: EgressRule = "http://example.com.".parse().unwrap();
        assert_eq!(r.host, HostPattern::Exact("example.com".into()));
        assert_eq!(r.port, 80);
    }

    #[test]
    fn bad_rules_say_why() {
        for (rule, needle) in [
            ("api.example.com", "scheme://host"),
            ("ftp://example.com", "http or https"),
            ("https://", "missing host"),
            ("https://example.com/v1", "remove the path"),
            ("https://user@example.com", "user info"),
            ("https://example.com:0", "invalid port"),
            ("https://example.com:99999", "invalid port"),
            ("https://example.com:abc", "invalid port"),
            ("https://a.*.example.com", "leading `*.`"),
            ("https://*", "leading `*.`"),
            ("https://*.", "DNS name"),
            ("https://exa mple.com", "invalid host"),
            ("http://::1:8080", "brackets"),
            ("http://[::1", "unclosed"),
            ("http://[::1]x", "unexpected"),
        ] {
            let e = rule.parse::<EgressRule>().unwrap_err().to_string();
            assert!(e.contains(needle), "{rule:?}: {e}");
            assert!(e.contains(rule), "{rule:?}: {e}");
        }
    }

    #[test]
    fn name_gate_table() {
        let p = policy(&[
            "https://api.pagerduty.com",
            "https://*.example.com:8443",
            "http://127.0.0.1:8080",
            "http://[::1]:9090",
            "http://plain.test",
        ]);
        let cases: &[(&str, &str, Option<u16>, bool)] = &[
            // exact host, default port
            ("https", "api.pagerduty.com", None, true),
            ("https", "api.pagerduty.com", Some(443), true),
            ("https", "API.PagerDuty.com", None, true),
            ("https", "api.pagerduty.com.", None, true),
            ("https", "api.pagerduty.com", Some(8443), false),
            ("http", "api.pagerduty.com", None, false),
            ("http", "api.pagerduty.com", Some(443), false),
            ("https", "pagerduty.com", None, false),
            ("https", "evil.api.pagerduty.com", None, false),
            ("https", "api.pagerduty.com.evil.com", None, false),
            ("https", "xapi.pagerduty.com", None, false),
            // wildcard: subdomains only, exact port
            ("https", "a.example.com", Some(8443), true),
            ("https", "a.b.example.com", Some(8443), true),
            ("https", "example.com", Some(8443), false),
            ("https", "a.example.com", None, false),
            ("https", "badexample.com", Some(8443), false),
            ("https", ".example.com", Some(8443), false),
            ("http", "a.example.com", Some(8443), false),
            // IP literals
            ("http", "127.0.0.1", Some(8080), true),
            ("http", "127.0.0.1", None, false),
            ("http", "127.0.0.2", Some(8080), false),
            ("https", "127.0.0.1", Some(8080), false),
            ("http", "[::1]", Some(9090), true),
            ("http", "::1", Some(9090), true),
            ("http", "[::2]", Some(9090), false),
            // port defaulting on http
            ("http", "plain.test", None, true),
            ("http", "plain.test", Some(80), true),
            ("http", "plain.test", Some(81), false),
            // schemes
            ("ftp", "plain.test", None, false),
            ("HTTPS", "api.pagerduty.com", None, true),
            // garbage hosts
            ("https", "", None, false),
            ("https", "api.pagerduty.com/x", None, false),
            ("https", "a b", None, false),
        ];
        for (scheme, host, port, ok) in cases {
            let got = p.check_target(scheme, host, *port);
            assert_eq!(got.is_ok(), *ok, "{scheme}://{host}:{port:?} -> {got:?}");
        }
    }

    #[test]
    fn denials_name_what_was_denied() {
        let p = policy(&["https://api.pagerduty.com"]);
        let e = p.check_target("https", "Evil.com", None).unwrap_err();
        assert_eq!(e.host(), "evil.com");
        assert_eq!(
            e.to_string(),
            "egress to https://evil.com:443 denied: not on the allow-list"
        );
        let e = p.check_target("gopher", "x.com", None).unwrap_err();
        assert!(e.to_string().contains("gopher://x.com"), "{e}");
        let e = p
            .check_addr("api.pagerduty.com", "10.0.0.1".parse().unwrap())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "egress to api.pagerduty.com denied: address 10.0.0.1 is in a blocked range (private)"
        );
    }

    #[test]
    fn target_carries_ip_and_port() {
        let p = policy(&["http://[::1]:9090", "https://api.pagerduty.com"]);
        let t = p.check_target("http", "[::1]", Some(9090)).unwrap();
        assert_eq!(t.ip, Some("::1".parse().unwrap()));
        assert_eq!(t.host, "::1");
        let t = p.check_target("https", "API.pagerduty.com", None).unwrap();
        assert_eq!(
            (t.host.as_str(), t.ip, t.port),
            ("api.pagerduty.com", None, 443)
        );
    }

    #[test]
    fn default_denies_everything() {
        let p = EgressPolicy::default();
        assert!(p.is_deny_all());
        assert!(p.check_target("https", "example.com", None).is_err());
    }

    #[test]
    fn address_table() {
        let blocked = [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.1.2.3", "private"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("100.127.255.255", "carrier-grade NAT"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.1", "loopback"),
            ("169.254.169.254", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.8", "reserved"),
            ("192.0.2.1", "documentation"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::127.0.0.1", "IPv4-compatible (deprecated)"),
            ("64:ff9b::a00:1", "private"),
            ("64:ff9b:1::1", "private NAT64"),
            ("2002:7f00:1::", "loopback"),
            ("2002:c0a8:101::1", "private"),
            ("2001:db8::1", "documentation"),
            ("2001:0:4136:e378::1", "Teredo"),
            ("fc00::1", "unique-local"),
            ("fd12:3456::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local (deprecated)"),
            ("ff02::1", "multicast"),
            ("100::1", "discard-only"),
        ];
        for (ip, range) in blocked {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(blocked_range(ip), Some(range), "{ip}");
        }
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.169.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ];
        for ip in public {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(blocked_range(ip), None, "{ip}");
        }
    }

    #[test]
    fn allowed_networks_exempt_blocked_addresses() {
        let p = policy(&["http://127.0.0.1:8080"])
            .with_allowed_networks(["127.0.0.0/8", "fd00::/8", "192.168.1.10"])
            .unwrap();
        let ok = [
            "127.0.0.1",
            "127.9.9.9",
            "::ffff:127.0.0.1",
            "fd00::1",
            "192.168.1.10",
            "8.8.8.8",
        ];
        for ip in ok {
            assert!(p.check_addr("h", ip.parse().unwrap()).is_ok(), "{ip}");
        }
        let denied = [
            "10.0.0.1",
            "192.168.1.11",
            "::1",
            "fc00::1",
            "169.254.169.254",
        ];
        for ip in denied {
            assert!(p.check_addr("h", ip.parse().unwrap()).is_err(), "{ip}");
        }
    }

    #[test]
    fn network_parsing() {
        let n: IpNetwork = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains("10.255.0.1".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        assert!(!n.contains("::1".parse().unwrap()));
        assert_eq!(n.to_string(), "10.0.0.0/8");
        let n: IpNetwork = "172.16.0.0/12".parse().unwrap();
        assert!(n.contains("172.31.0.1".parse().unwrap()));
        assert!(!n.contains("172.32.0.1".parse().unwrap()));
        let n: IpNetwork = "[fd00::]/8".parse().unwrap();
        assert!(n.contains("fdff::1".parse().unwrap()));
        let n: IpNetwork = "0.0.0.0/0".parse().unwrap();
        assert!(n.contains("1.2.3.4".parse().unwrap()));
        let n: IpNetwork = "::ffff:127.0.0.1".parse().unwrap();
        assert!(n.contains("127.0.0.1".parse().unwrap()));
        for bad in ["10.0.0.0/33", "::/129", "nope/8", "10.0.0.0/x", ""] {
            let e = bad.parse::<IpNetwork>().unwrap_err();
            assert!(matches!(e, HostError::InvalidNetwork { .. }), "{bad}");
        }
    }

    #[test]
    fn bad_network_in_policy_is_an_error() {
        let e = policy(&[])
            .with_allowed_networks(["10.0.0.0/99"])
            .unwrap_err();
        assert!(e.to_string().contains("10.0.0.0/99"), "{e}");
        let e = EgressPolicy::new(["nope"]).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }
}
