//! Targets: `host:port` as a user types it (`10.0.3.7:8443`,
//! `[fd00::7]:443`, `api.pay.svc:443`), and their resolution.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::error::ProbeFailure;

/// Why a target is not `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// Nothing given.
    #[error("empty target")]
    Empty,
    /// No `:port`.
    #[error("{0:?}: expected HOST:PORT")]
    NoPort(String),
    /// The port is not a number in 1..=65535.
    #[error("{0:?}: bad port")]
    BadPort(String),
    /// An IPv6 address without brackets is ambiguous with the port.
    #[error("{0:?}: write IPv6 addresses in brackets, [fd00::7]:443")]
    BareIpv6(String),
    /// A host name with characters DNS names do not have.
    #[error("{0:?}: not a host name or IP address")]
    BadHost(String),
    /// A line of a targets file.
    #[error("line {line}: {error}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        error: Box<TargetError>,
    },
}

/// The host part of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An address: no SNI is sent.
    Ip(IpAddr),
    /// A name: resolved, and sent as SNI.
    Name(String),
}

/// One endpoint to probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// As given.
    pub text: String,
    /// Address or name.
    pub host: Host,
    /// TCP port.
    pub port: u16,
}

impl Target {
    /// Parse `host:port`, `[v6]:port` or `v4:port`.
    pub fn parse(s: &str) -> Result<Target, TargetError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, p) = rest
                .split_once("]:")
                .ok_or_else(|| TargetError::NoPort(s.into()))?;
            let ip: std::net::Ipv6Addr = h.parse().map_err(|_| TargetError::BadHost(s.into()))?;
            (Host::Ip(IpAddr::V6(ip)), p)
        } else {
            let (h, p) = s
                .rsplit_once(':')
                .ok_or_else(|| TargetError::NoPort(s.into()))?;
            if h.contains(':') {
                return Err(TargetError::BareIpv6(s.into()));
            }
            let host = match h.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) if is_host_name(h) => Host::Name(h.trim_end_matches('.').to_string()),
                Err(_) => return Err(TargetError::BadHost(s.into())),
            };
            (host, p)
        };
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(TargetError::BadPort(s.into())),
        };
        Ok(Target {
            text: s.to_string(),
            host,
            port,
        })
    }

    /// A targets file: one per line; blank lines and `#` comments skipped.
    pub fn parse_list(text: &str) -> Result<Vec<Target>, TargetError> {
        text.lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.split('#').next().unwrap_or("").trim()))
            .filter(|(_, l)| !l.is_empty())
            .map(|(line, l)| {
                Target::parse(l).map_err(|e| TargetError::Line {
                    line,
                    error: Box::new(e),
                })
            })
            .collect()
    }

    /// The name to send as SNI: names only, never addresses.
    pub fn sni(&self) -> Option<&str> {
        match &self.host {
            Host::Name(n) => Some(n),
            Host::Ip(_) => None,
        }
    }

    /// The address to connect to: the first the resolver gives for a name.
    pub async fn resolve(&self, deadline: Duration) -> Result<SocketAddr, ProbeFailure> {
        let name = match &self.host {
            Host::Ip(ip) => return Ok(SocketAddr::new(*ip, self.port)),
            Host::Name(n) => n.clone(),
        };
        let fail = |message: String| ProbeFailure::Resolve {
            name: name.clone(),
            message,
        };
        let lookup = tokio::net::lookup_host((name.as_str(), self.port));
        match tokio::time::timeout(deadline, lookup).await {
            Err(_) => Err(fail(format!("no answer in {} ms", deadline.as_millis()))),
            Ok(Err(e)) => Err(fail(e.to_string())),
            Ok(Ok(mut addrs)) => addrs.next().ok_or_else(|| fail("no address".into())),
        }
    }
}

/// Letters, digits, `-`, `_` and dots, in labels of 1 to 63, at most 253 in all.
fn is_host_name(h: &str) -> bool {
    let h = h.strip_suffix('.').unwrap_or(h);
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = Target::parse("10.0.3.7:8443").unwrap();
        assert_eq!(t.host, Host::Ip("10.0.3.7".parse().unwrap()));
        assert_eq!((t.port, t.sni()), (8443, None));
        let t = Target::parse("[fd00::7]:443").unwrap();
        assert_eq!(t.host, Host::Ip("fd00::7".parse().unwrap()));
        let t = Target::parse("api.pay.svc.:443").unwrap();
        assert_eq!((t.sni(), t.port), (Some("api.pay.svc"), 443));
        assert_eq!(
            Target::parse("fd00::7:443"),
            Err(TargetError::BareIpv6("fd00::7:443".into()))
        );
        assert_eq!(
            Target::parse("host"),
            Err(TargetError::NoPort("host".into()))
        );
        for bad in ["host:0", "host:70000", "host:", "host:x"] {
            assert_eq!(Target::parse(bad), Err(TargetError::BadPort(bad.into())));
        }
        for bad in ["a b:1", "-:", "x..y:1", "[zz]:1"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Target::parse("  "), Err(TargetError::Empty));
    }

    #[test]
    fn lists() {
        let l = Target::parse_list("# fleet\n10.0.0.1:443\n\n  web:80  # comment\n").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].text, "web:80");
        let e = Target::parse_list("a:1\nb\n").unwrap_err();
        assert_eq!(e.to_string(), "line 2: \"b\": expected HOST:PORT");
    }

    #[tokio::test]
    async fn resolves_addresses_and_localhost() {
        let t = Target::parse("127.0.0.1:9").unwrap();
        let a = t.resolve(Duration::from_secs(1)).await.unwrap();
        assert_eq!(a.to_string(), "127.0.0.1:9");
        let t = Target::parse("localhost:9").unwrap();
        assert!(
            t.resolve(Duration::from_secs(5))
                .await
                .unwrap()
                .ip()
                .is_loopback()
        );
        let t = Target::parse("no-such-host.invalid:9").unwrap();
        let e = t.resolve(Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(e.kind(), "resolve");
    }
}
