//! IP networks in CIDR notation, parsed once when the policy is loaded.

use std::fmt;
use std::net::IpAddr;

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `2001:db8::/32`); a bare address is a /32 or /128.
///
/// Host bits must be zero (`10.0.0.1/8` is refused): an operator who wrote it probably
/// meant something else, and silently masking would hide the mistake.
///
/// An IPv4-mapped IPv6 network (`::ffff:203.0.113.0/120`) is the IPv4 network it maps
/// (`203.0.113.0/24`), so it matches the same clients however the address reached the
/// service (one shorter than /96 has host bits set and is refused).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Cidr {
    network: u128,
    mask: u128,
    v6: bool,
    prefix: u8,
}

impl Cidr {
    /// Parses `address/prefix` or a bare address.
    ///
    /// # Errors
    ///
    /// A lowercase phrase naming the problem: an unparsable address, a prefix longer than
    /// the address, or host bits set.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let ip: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
        let (bits, value, v6) = match ip {
            IpAddr::V4(v4) => (32u8, u128::from(u32::from(v4)), false),
            IpAddr::V6(v6) => (128u8, u128::from(v6), true),
        };
        let prefix = match prefix {
            None => bits,
            Some(p) => {
                let p: u8 = p
                    .trim()
                    .parse()
                    .map_err(|_| format!("prefix {p:?} is not a number"))?;
                if p > bits {
                    return Err(format!(
                        "prefix /{p} is longer than the address ({bits} bits)"
                    ));
                }
                p
            }
        };
        let mask = prefix_mask(bits, prefix);
        if value & !mask != 0 {
            return Err(format!("{s:?} has host bits set (did you mean a /{bits}?)"));
        }
        if let IpAddr::V6(v6) = ip
            && let Some(v4) = v6.to_ipv4_mapped()
        {
            let Some(prefix) = prefix.checked_sub(96) else {
                return Err(format!(
                    "{s:?} is an IPv4-mapped network shorter than /96, which mixes mapped and other IPv6 addresses"
                ));
            };
            return Ok(Self {
                network: u128::from(u32::from(v4)),
                mask: prefix_mask(32, prefix),
                v6: false,
                prefix,
            });
        }
        Ok(Self {
            network: value,
            mask,
            v6,
            prefix,
        })
    }

    /// Whether `ip` is inside this network. IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3`)
    /// match IPv4 networks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (value, v6) = match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), false),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => (u128::from(u32::from(v4)), false),
                None => (u128::from(v6), true),
            },
        };
        v6 == self.v6 && value & self.mask == self.network
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.v6 {
            write!(
                f,
                "{}/{}",
                std::net::Ipv6Addr::from(self.network),
                self.prefix
            )
        } else {
            let v4 = u32::try_from(self.network).unwrap_or_default();
            write!(f, "{}/{}", std::net::Ipv4Addr::from(v4), self.prefix)
        }
    }
}

/// The mask of the top `prefix` bits of a `bits`-wide address, held in a u128.
fn prefix_mask(bits: u8, prefix: u8) -> u128 {
    let width_mask = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    if prefix == 0 {
        return 0;
    }
    let host = bits.saturating_sub(prefix);
    let host_mask = if host >= 128 {
        u128::MAX
    } else {
        (1u128 << host) - 1
    };
    width_mask & !host_mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let net = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.255.1.2".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(!net.contains("::a00:1".parse().unwrap()));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("2001:db9::".parse().unwrap()));
        assert_eq!(v6.to_string(), "2001:db8::/32");
        let all = Cidr::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(
            Cidr::parse("::/0")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        let host = Cidr::parse("192.0.2.7").unwrap();
        assert_eq!(host.to_string(), "192.0.2.7/32");
        assert!(host.contains("192.0.2.7".parse().unwrap()));
        assert!(!host.contains("192.0.2.8".parse().unwrap()));
    }

    #[test]
    fn refuses_mistakes() {
        assert!(Cidr::parse("10.0.0.1/8").unwrap_err().contains("host bits"));
        assert!(Cidr::parse("10.0.0.0/33").unwrap_err().contains("longer"));
        assert!(Cidr::parse("10.0.0/8").unwrap_err().contains("not an IP"));
        assert!(
            Cidr::parse("10.0.0.0/x")
                .unwrap_err()
                .contains("not a number")
        );
        assert!(Cidr::parse("").is_err());
        // Shorter than /96, the ffff marker is in the host bits.
        assert!(Cidr::parse("::ffff:0.0.0.0/95").is_err());
    }

    /// Regression: `::ffff:203.0.113.0/120` was an IPv6 network that no client matched,
    /// since `contains` compares IPv4-mapped addresses as IPv4; a deny rule with it
    /// failed open.
    #[test]
    fn ipv4_mapped_networks_are_their_ipv4_network() {
        let mapped = Cidr::parse("::ffff:203.0.113.0/120").unwrap();
        assert_eq!(mapped, Cidr::parse("203.0.113.0/24").unwrap());
        assert_eq!(mapped.to_string(), "203.0.113.0/24");
        assert!(mapped.contains("203.0.113.9".parse().unwrap()));
        assert!(mapped.contains("::ffff:203.0.113.9".parse().unwrap()));
        assert!(!mapped.contains("203.0.114.1".parse().unwrap()));
        let all_mapped = Cidr::parse("::ffff:0.0.0.0/96").unwrap();
        assert!(all_mapped.contains("8.8.8.8".parse().unwrap()));
        assert!(!all_mapped.contains("2001:db8::1".parse().unwrap()));
        assert!(Cidr::parse("::ffff:203.0.113.1/120").is_err());
    }
}
