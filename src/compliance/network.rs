//! Which addresses are on an open, public network, for PCI DSS 4.2.1's
//! scope. An address is internal when it is private (RFC 1918), shared
//! (RFC 6598, carrier-grade NAT and some CNIs), loopback, link-local,
//! unspecified, or IPv6 unique-local (RFC 4193); everything else is public.
//! A path that crosses the internet between private addresses (a VPN, a
//! peering link) cannot be told from the wire: the catalog's caveat says so.

use std::net::IpAddr;

/// Whether `ip` (as written in a flow) is a public address. Text that is
/// not an address is not called public.
pub fn is_public(ip: &str) -> bool {
    match ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let [a, b, ..] = v4.octets();
            let shared = a == 100 && (64..128).contains(&b);
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || shared)
        }
        Ok(IpAddr::V6(v6)) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(&v4.to_string());
            }
            let first = v6.segments()[0];
            let unique_local = first & 0xfe00 == 0xfc00;
            let link_local = first & 0xffc0 == 0xfe80;
            !(v6.is_loopback() || v6.is_unspecified() || unique_local || link_local)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn private_shared_and_local_ranges_are_internal() {
        for ip in [
            "10.200.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "not an address",
        ] {
            assert!(!is_public(ip), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "203.0.113.7",
            "2001:4860::8888",
            "::ffff:1.1.1.1",
        ] {
            assert!(is_public(ip), "{ip}");
        }
    }
}
