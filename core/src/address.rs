//! Addresses and networks as res_pjsip writes them (`identify`'s `match`:
//! "192.0.2.10/255.255.255.255", "10.0.0.0/255.0.0.0", "2001:db8::/64"),
//! and which of them a forged UDP source could impersonate from the
//! internet.

use std::net::IpAddr;

/// An address with a netmask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// "a.b.c.d", "a.b.c.d/n", "a.b.c.d/m.m.m.m", IPv6 likewise; an
    /// optional ":port" after an IPv4 address or "[v6]:port" is ignored.
    pub fn parse(text: &str) -> Option<Network> {
        let text = text.trim();
        let (addr, mask) = match text.split_once('/') {
            Some((a, m)) => (a, Some(m)),
            None => (text, None),
        };
        let addr = strip_port(addr).parse::<IpAddr>().ok()?;
        let full: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match mask {
            None => full,
            Some(m) => match m.parse::<u8>() {
                Ok(n) if n <= full => n,
                Ok(_) => return None,
                Err(_) => mask_prefix(m.parse::<IpAddr>().ok()?)?,
            },
        };
        (addr.is_ipv4() == (full == 32)).then_some(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(self.prefix)) };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(self.prefix)) };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }

    /// Whether every address of the network is one a packet from the
    /// internet cannot carry as its source once it reaches a private
    /// network's edge: loopback, RFC 1918, carrier-grade NAT, link-local,
    /// IPv6 unique-local.
    pub fn is_private(&self) -> bool {
        const PRIVATE: [&str; 9] = [
            "127.0.0.0/8",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "100.64.0.0/10",
            "169.254.0.0/16",
            "::1/128",
            "fc00::/7",
            "fe80::/10",
        ];
        PRIVATE.iter().filter_map(|p| Network::parse(p)).any(|outer| outer.prefix <= self.prefix && outer.contains(self.addr))
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let full = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// The prefix length of a contiguous netmask.
fn mask_prefix(mask: IpAddr) -> Option<u8> {
    let (bits, len) = match mask {
        IpAddr::V4(m) => (u128::from(u32::from(m)) << 96, 32u32),
        IpAddr::V6(m) => (u128::from(m), 128),
    };
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0 && ones <= len).then_some(ones as u8)
}

/// "a.b.c.d:5060" -> "a.b.c.d"; "[2001:db8::1]:5060" -> "2001:db8::1".
pub fn strip_port(text: &str) -> &str {
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => text,
    }
}

/// "a.b.c.d:port" or "[v6]:port" as address and port (port 0 when absent).
pub fn host_port(text: &str) -> Option<(IpAddr, u16)> {
    let text = text.trim();
    let host = strip_port(text).parse::<IpAddr>().ok()?;
    let port = if let Some(rest) = text.strip_prefix('[') {
        rest.split_once("]:").map_or(Some(0), |(_, p)| p.parse().ok())?
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => p.parse().ok()?,
            _ => 0,
        }
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn reads_identify_matches_as_res_pjsip_writes_them() {
        let n = Network::parse("192.0.2.10/255.255.255.255").unwrap();
        assert!(n.contains(ip("192.0.2.10")) && !n.contains(ip("192.0.2.11")));
        let n = Network::parse("10.1.0.0/255.255.0.0").unwrap();
        assert!(n.contains(ip("10.1.200.3")) && !n.contains(ip("10.2.0.1")));
        assert!(Network::parse("2001:db8::/64").unwrap().contains(ip("2001:db8::99")));
        assert!(Network::parse("127.0.0.2:5060").unwrap().contains(ip("127.0.0.2")));
        assert_eq!(Network::parse("10.0.0.0/255.0.255.0"), None, "not a contiguous mask");
        assert_eq!(Network::parse("pbx.example.com"), None);
        assert_eq!(Network::parse("10.0.0.0/8").unwrap().to_string(), "10.0.0.0/8");
    }

    #[test]
    fn tells_private_networks_from_the_internet() {
        for p in ["127.0.10.2", "10.0.0.0/8", "172.20.1.1", "192.168.1.0/24", "100.64.1.1", "::1", "fd00::1", "fe80::1"] {
            assert!(Network::parse(p).unwrap().is_private(), "{p}");
        }
        for p in ["192.0.2.10", "203.0.113.0/24", "8.8.8.8", "10.0.0.0/7", "2001:db8::1", "0.0.0.0/0"] {
            assert!(!Network::parse(p).unwrap().is_private(), "{p}");
        }
    }

    #[test]
    fn reads_addresses_with_ports() {
        assert_eq!(host_port("127.0.0.1:5061"), Some((ip("127.0.0.1"), 5061)));
        assert_eq!(host_port("[::1]:5061"), Some((ip("::1"), 5061)));
        assert_eq!(host_port("0.0.0.0"), Some((ip("0.0.0.0"), 0)));
        assert_eq!(host_port("x:1"), None);
    }
}
