//! Pure edge types: CIDR blocks, the client address behind trusted proxies, quotas, limiter keys and the
//! `RateLimit` header fields. No I/O; unit-tested in place.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

/// An IP network such as `10.0.0.0/8` or `fd00::/8`; a bare address is a /32 (IPv4) or /128 (IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `addr` is inside this network (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, addr: IpAddr) -> bool {
        match (self.network, addr.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        let network = network.to_canonical();
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` is believed (the ingress, the load balancer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<Cidr>);

impl TrustedProxies {
    /// Whether `addr` belongs to a trusted proxy.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(addr))
    }

    /// The client's address: the peer itself, unless the peer is a trusted proxy; then the right-most
    /// `X-Forwarded-For` entry that is not a trusted proxy (every proxy appends the address it received the request
    /// from, so entries left of the first untrusted one are whatever the client chose to send and are ignored).
    ///
    /// `forwarded_for` holds the values of every `X-Forwarded-For` field, in order. An entry that does not parse
    /// stops the walk: the nearest trusted hop stands in for the client (a garbage entry can only come from the
    /// untrusted side). With every entry trusted, the left-most one is the client (internal traffic).
    pub fn client_address<'a>(&self, peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let entries: Vec<&str> = forwarded_for.into_iter().flat_map(|v| v.split(',')).collect();
        let mut nearest = peer;
        for entry in entries.iter().rev() {
            let Some(addr) = parse_forwarded_entry(entry) else {
                return nearest;
            };
            if !self.contains(addr) {
                return addr;
            }
            nearest = addr;
        }
        nearest
    }
}

impl FromStr for TrustedProxies {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',').map(str::trim).filter(|e| !e.is_empty()).map(Cidr::from_str).collect::<Result<_, _>>().map(Self)
    }
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `2001:db8::1`, `[2001:db8::1]`, or either with a port.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(addr) = entry.parse::<IpAddr>() {
        return Some(addr.to_canonical());
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr.ip().to_canonical());
    }
    entry.strip_prefix('[').and_then(|e| e.strip_suffix(']')).and_then(|e| e.parse::<IpAddr>().ok())
}

/// The per-pod limiter's key for a client address: IPv4 addresses as they are, IPv6 addresses by their /64 (one
/// subscriber usually holds a whole /64, so per-address keys would let one client rotate through 2^64 buckets).
pub fn address_key(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// How strict the rate limits are (`BOXOFFICE_RATE_LIMITS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitMode {
    /// The configured quotas (production).
    On,
    /// Every quota multiplied by [`RELAXED_FACTOR`] (load tests from a few addresses), the login throttle's too.
    Relaxed,
    /// No rate limiting at all, login throttling included (no account is ever locked either).
    Off,
}

/// How much `relaxed` multiplies every quota.
pub const RELAXED_FACTOR: u32 = 100;

impl FromStr for RateLimitMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "on" => Ok(Self::On),
            "relaxed" => Ok(Self::Relaxed),
            "off" => Ok(Self::Off),
            other => Err(format!("expected on, relaxed or off, got {other:?}")),
        }
    }
}

/// A GCRA quota: up to `burst` requests at once, then one more every `interval`. Advertised (IETF draft, see
/// [`policy_header`]) as `q = burst` requests per window `w = burst × interval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests allowed back to back (the bucket size); at least 1.
    pub burst: u32,
    /// Time to earn one request back (the emission interval); more than zero.
    pub interval: Duration,
}

impl Quota {
    /// `count` requests per `window`, all of which may come at once.
    ///
    /// # Errors
    /// `count` is zero or `window` is zero.
    pub fn per_window(count: u32, window: Duration) -> Result<Self, String> {
        if count == 0 || window.is_zero() {
            return Err("the count and the window must be greater than zero".into());
        }
        Ok(Self { burst: count, interval: window / count })
    }

    /// `rate` requests per second with bursts of `burst`.
    ///
    /// # Errors
    /// `rate` or `burst` is zero.
    pub fn per_second(rate: u32, burst: u32) -> Result<Self, String> {
        if rate == 0 || burst == 0 {
            return Err("the rate and the burst must be greater than zero".into());
        }
        Ok(Self { burst, interval: Duration::from_secs(1) / rate })
    }

    /// The quota as `mode` applies it; `None` when limits are off.
    pub fn under(self, mode: RateLimitMode) -> Option<Self> {
        match mode {
            RateLimitMode::On => Some(self),
            RateLimitMode::Relaxed => Some(Self {
                burst: self.burst.saturating_mul(RELAXED_FACTOR),
                interval: (self.interval / RELAXED_FACTOR).max(Duration::from_nanos(1)),
            }),
            RateLimitMode::Off => None,
        }
    }

    /// The advertised window `w`: seconds to earn the whole burst back, at least 1.
    pub fn window_secs(self) -> u64 {
        ceil_secs(self.interval.saturating_mul(self.burst)).max(1)
    }
}

/// Whole seconds, rounded up (`Retry-After` and `t` must never promise too early).
pub fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The limiter scopes: each one is a quota policy with its own name in the headers and its own label in metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Per pod, per client address, every public route.
    PerIp,
    /// All pods (Redis), per user: holds, finalizations and cancellations.
    UserWrites,
    /// All pods (Redis), per account and client address: `POST /auth/token`.
    Login,
    /// All pods (Redis), per account whatever the address: failed `POST /auth/token`s (a higher, slower ceiling;
    /// addresses the account logged in from before are exempt: `edge::login`).
    LoginAccount,
    /// All pods (Redis), per client address: `POST /users`.
    Signup,
}

impl Scope {
    /// The policy name in `RateLimit-Policy` / `RateLimit`, the metric label and the Redis key segment.
    pub fn name(self) -> &'static str {
        match self {
            Self::PerIp => "per-ip",
            Self::UserWrites => "user-writes",
            Self::Login => "login",
            Self::LoginAccount => "login-account",
            Self::Signup => "signup",
        }
    }
}

/// The outcome of one limiter check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// The policy that decided.
    pub scope: Scope,
    /// Its quota.
    pub quota: Quota,
    /// Whether the request may proceed.
    pub allowed: bool,
    /// Requests left right now (0 when refused).
    pub remaining: u32,
    /// Refused: time until one request is allowed again. Allowed: time until the whole burst is back.
    pub reset: Duration,
}

impl Decision {
    /// An allowed decision with `remaining` requests left; the bucket refills in `(burst - remaining) × interval`.
    pub fn allowed(scope: Scope, quota: Quota, remaining: u32) -> Self {
        let used = quota.burst.saturating_sub(remaining);
        Self { scope, quota, allowed: true, remaining, reset: quota.interval.saturating_mul(used) }
    }

    /// A refusal; the client may come back after `retry_after`.
    pub fn refused(scope: Scope, quota: Quota, retry_after: Duration) -> Self {
        Self { scope, quota, allowed: false, remaining: 0, reset: retry_after }
    }

    /// `Retry-After` in whole seconds, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        ceil_secs(self.reset).max(1)
    }

    /// The `RateLimit-Policy` list member of this policy.
    pub fn policy_header(&self) -> String {
        policy_header(self.scope, self.quota)
    }

    /// The `RateLimit` list member: `"name";r=<remaining>;t=<seconds>`. On a refusal `t` equals `Retry-After`
    /// (the draft: Retry-After should not point earlier than the end of the effective window).
    pub fn limit_header(&self) -> String {
        let t = if self.allowed { ceil_secs(self.reset) } else { self.retry_after_secs() };
        format!("\"{}\";r={};t={t}", self.scope.name(), self.remaining)
    }
}

/// `"name";q=<burst>;w=<window seconds>`: one member of the `RateLimit-Policy` list (structured-field form of
/// draft-ietf-httpapi-ratelimit-headers-11, §3: a String item with `q` and `w` Integer parameters).
pub fn policy_header(scope: Scope, quota: Quota) -> String {
    format!("\"{}\";q={};w={}", scope.name(), quota.burst, quota.window_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("valid address")
    }

    #[test]
    fn cidr_blocks_parse_and_match() {
        let net: Cidr = "10.1.0.0/16".parse().expect("valid");
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped IPv6 counts as IPv4");
        let single: Cidr = "192.0.2.7".parse().expect("valid");
        assert!(single.contains(ip("192.0.2.7")) && !single.contains(ip("192.0.2.8")));
        let v6: Cidr = "fd00::/8".parse().expect("valid");
        assert!(v6.contains(ip("fd12:3456::1")) && !v6.contains(ip("fe80::1")) && !v6.contains(ip("10.0.0.1")));
        let all: Cidr = "0.0.0.0/0".parse().expect("valid");
        assert!(all.contains(ip("203.0.113.1")));
        for bad in ["", "10.0.0.0/33", "fd00::/129", "10.0.0/8", "example.com", "10.0.0.0/x"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?} accepted");
        }
        let list: TrustedProxies = " 10.0.0.0/8 , fd00::/8,".parse().expect("valid list");
        assert_eq!(list.0.len(), 2);
        assert_eq!("".parse::<TrustedProxies>(), Ok(TrustedProxies::default()));
    }

    #[test]
    fn the_client_address_is_the_right_most_untrusted_forwarded_entry() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().expect("valid");
        let proxy = ip("10.0.0.2");
        // (peer, X-Forwarded-For fields, expected client)
        let cases: &[(IpAddr, &[&str], &str)] = &[
            // Not from a proxy: the header is whatever the client made up.
            (ip("203.0.113.9"), &["198.51.100.1"], "203.0.113.9"),
            // From the proxy: the entry it appended.
            (proxy, &["198.51.100.1"], "198.51.100.1"),
            // A spoofed left part is ignored; the right-most untrusted entry wins.
            (proxy, &["1.1.1.1, 198.51.100.1"], "198.51.100.1"),
            // Two trusted hops, then the client.
            (proxy, &["1.1.1.1, 198.51.100.1, 10.0.0.7"], "198.51.100.1"),
            // Several fields are one list.
            (proxy, &["1.1.1.1", "198.51.100.1, 10.0.0.7"], "198.51.100.1"),
            // Ports and brackets.
            (proxy, &["198.51.100.1:5555"], "198.51.100.1"),
            (proxy, &["[2001:db8::1]:443"], "2001:db8::1"),
            (proxy, &["[2001:db8::1]"], "2001:db8::1"),
            // Garbage stops the walk at the nearest trusted hop.
            (proxy, &["not-an-ip, 10.0.0.7"], "10.0.0.7"),
            (proxy, &["unknown"], "10.0.0.2"),
            // No header at all: the proxy itself.
            (proxy, &[], "10.0.0.2"),
            // Everything trusted: the left-most.
            (proxy, &["10.9.9.9, 10.0.0.7"], "10.9.9.9"),
        ];
        for (peer, fields, expected) in cases {
            assert_eq!(trusted.client_address(*peer, fields.iter().copied()), ip(expected), "{peer} {fields:?}");
        }
        let nobody = TrustedProxies::default();
        assert_eq!(nobody.client_address(proxy, ["198.51.100.1"]), proxy, "no trusted proxy: never believed");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(address_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(address_key(ip("2001:db8:1:2:ffff::9")), address_key(ip("2001:db8:1:2::1")));
        assert_ne!(address_key(ip("2001:db8:1:3::1")), address_key(ip("2001:db8:1:2::1")));
        assert_eq!(address_key(ip("198.51.100.7")), ip("198.51.100.7"));
        assert_eq!(address_key(ip("::ffff:198.51.100.7")), ip("198.51.100.7"));
    }

    #[test]
    fn quotas_scale_with_the_mode_and_advertise_their_window() {
        let q = Quota::per_second(50, 100).expect("valid");
        assert_eq!(q.interval, Duration::from_millis(20));
        assert_eq!(q.window_secs(), 2);
        let relaxed = q.under(RateLimitMode::Relaxed).expect("on");
        assert_eq!((relaxed.burst, relaxed.interval), (10_000, Duration::from_micros(200)));
        assert_eq!(q.under(RateLimitMode::Off), None);
        let login = Quota::per_window(10, Duration::from_secs(300)).expect("valid");
        assert_eq!((login.burst, login.interval, login.window_secs()), (10, Duration::from_secs(30), 300));
        assert!(Quota::per_window(0, Duration::from_secs(1)).is_err());
        assert!(Quota::per_second(1, 0).is_err());
        assert_eq!("relaxed".parse(), Ok(RateLimitMode::Relaxed));
        assert!("sometimes".parse::<RateLimitMode>().is_err());
    }

    #[test]
    fn headers_follow_the_ietf_draft_structured_field_form() {
        let q = Quota::per_window(10, Duration::from_secs(300)).expect("valid");
        let ok = Decision::allowed(Scope::Login, q, 7);
        assert_eq!(ok.policy_header(), r#""login";q=10;w=300"#);
        assert_eq!(ok.limit_header(), r#""login";r=7;t=90"#);
        let refused =
            Decision::refused(Scope::PerIp, Quota::per_second(50, 100).expect("valid"), Duration::from_millis(1));
        assert_eq!(refused.limit_header(), r#""per-ip";r=0;t=1"#);
        assert_eq!(refused.retry_after_secs(), 1);
        let refused = Decision::refused(Scope::Login, q, Duration::from_millis(29_001));
        assert_eq!(refused.retry_after_secs(), 30);
        assert_eq!(ceil_secs(Duration::from_secs(3)), 3);
    }
}
