//! Addresses no public web page lives on: IANA's special-purpose address registries (IPv4 and
//! IPv6) and multicast, plus every IPv6 form that carries an IPv4 address inside it (mapped,
//! compatible, NAT64, 6to4), which is judged by the address it carries. A tool refuses them unless
//! Settings allow this computer and the local network.
//!
//! The few registry entries IANA marks "globally reachable" (AS112, AMT, ORCHIDv2, a handful of
//! anycast services) are kept open: they are public services, not this computer or a LAN.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether a tool may not connect to `ip` (unless Settings allow private addresses).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_special_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_special_v4(v4),
            None => is_special_v6(v6),
        },
    }
}

/// IPv4 ranges, as (network, prefix length), a tool never opens.
const SPECIAL_V4: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),          // "this network"
    ([10, 0, 0, 0], 8),         // private
    ([100, 64, 0, 0], 10),      // shared address space (carrier-grade NAT)
    ([127, 0, 0, 0], 8),        // loopback
    ([169, 254, 0, 0], 16),     // link-local (cloud metadata services live here)
    ([172, 16, 0, 0], 12),      // private
    ([192, 0, 0, 0], 24),       // IETF protocol assignments
    ([192, 0, 2, 0], 24),       // documentation (TEST-NET-1)
    ([192, 88, 99, 0], 24),     // 6to4 relay anycast (deprecated)
    ([192, 168, 0, 0], 16),     // private
    ([198, 18, 0, 0], 15),      // benchmarking
    ([198, 51, 100, 0], 24),    // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),     // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),        // multicast
    ([240, 0, 0, 0], 4),        // reserved for future use
    ([255, 255, 255, 255], 32), // limited broadcast
];

fn is_special_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    SPECIAL_V4.iter().any(|(net, len)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(*len)).unwrap_or(0);
        bits & mask == u32::from_be_bytes(*net) & mask
    })
}

/// IPv6 ranges a tool never opens, as (network, prefix length). The forms that carry an IPv4
/// address are handled by [`embedded_v4`] before these are looked at.
const SPECIAL_V6: &[(u128, u8)] = &[
    (0, 128),                          // unspecified ::
    (1, 128),                          // loopback ::1
    (0x0064_ff9b_0001 << 80, 48),      // local-use IPv4/IPv6 translation
    (0x0100 << 112, 64),               // discard-only
    (0x0100_0000_0000_0001 << 64, 64), // dummy IPv6 prefix
    (0x2001 << 112, 23),               // IETF protocol assignments (Teredo, …)
    (0x2001_0db8 << 96, 32),           // documentation
    (0x3fff << 112, 20),               // documentation
    (0x5f00 << 112, 16),               // segment routing (SRv6) SIDs
    (0xfc00 << 112, 7),                // unique local
    (0xfe80 << 112, 10),               // link-local
    (0xfec0 << 112, 10),               // site-local (deprecated, still routed inside sites)
    (0xff00 << 112, 8),                // multicast
];

/// Entries inside [`SPECIAL_V6`]'s ranges that IANA marks globally reachable.
const GLOBAL_V6: &[(u128, u8)] = &[
    ((0x2001_0001 << 96) | 1, 128), // port control protocol anycast
    ((0x2001_0001 << 96) | 2, 128), // traversal using relays around NAT anycast
    ((0x2001_0001 << 96) | 3, 128), // DNS-SD service registration protocol anycast
    (0x2001_0003 << 96, 32),        // AMT
    (0x2001_0004_0112 << 80, 48),   // AS112-v6
    (0x2001_0020 << 96, 28),        // ORCHIDv2
    (0x2001_0030 << 96, 28),        // drone remote ID protocol entity tags
];

fn in_range(bits: u128, (net, len): (u128, u8)) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    bits & mask == net & mask
}

fn is_special_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    SPECIAL_V6.iter().any(|r| in_range(bits, *r)) && !GLOBAL_V6.iter().any(|r| in_range(bits, *r))
}

/// The IPv4 address an IPv6 address carries, where the network delivers it to that IPv4 host:
/// IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d` (deprecated), NAT64's well-known
/// prefix `64:ff9b::a.b.c.d`, and 6to4 `2002:aabb:ccdd::/48`. `::` and `::1` are not IPv4.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if bits >> 32 == 0 && bits > 1 {
        return Some(low32);
    }
    if in_range(bits, (0x0064_ff9b << 96, 96)) {
        return Some(low32);
    }
    if in_range(bits, (0x2002 << 112, 16)) {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every range of IANA's IPv4 and IPv6 special-purpose address registries (and multicast),
    /// with an address inside it and whether a tool may open it.
    #[test]
    fn every_special_purpose_range_is_judged() {
        let table: &[(&str, &str, bool)] = &[
            // IPv4 special-purpose registry.
            ("0.0.0.0/8", "0.1.2.3", false),
            ("10.0.0.0/8", "10.255.0.1", false),
            ("100.64.0.0/10", "100.127.255.254", false),
            ("127.0.0.0/8", "127.8.9.10", false),
            ("169.254.0.0/16", "169.254.169.254", false),
            ("172.16.0.0/12", "172.31.255.1", false),
            ("192.0.0.0/24", "192.0.0.170", false),
            ("192.0.0.0/29", "192.0.0.1", false),
            ("192.0.0.8/32", "192.0.0.8", false),
            ("192.0.0.9/32", "192.0.0.9", false),
            ("192.0.0.10/32", "192.0.0.10", false),
            ("192.0.0.170/32", "192.0.0.171", false),
            ("192.0.2.0/24", "192.0.2.7", false),
            ("192.31.196.0/24", "192.31.196.1", true),
            ("192.52.193.0/24", "192.52.193.1", true),
            ("192.88.99.0/24", "192.88.99.1", false),
            ("192.168.0.0/16", "192.168.1.1", false),
            ("192.175.48.0/24", "192.175.48.6", true),
            ("198.18.0.0/15", "198.19.255.255", false),
            ("198.51.100.0/24", "198.51.100.1", false),
            ("203.0.113.0/24", "203.0.113.9", false),
            ("240.0.0.0/4", "250.1.2.3", false),
            ("255.255.255.255/32", "255.255.255.255", false),
            // IPv4 multicast.
            ("224.0.0.0/4", "239.255.255.250", false),
            // Public IPv4 next to the edges.
            ("public", "1.1.1.1", true),
            ("public", "9.255.255.255", true),
            ("public", "11.0.0.0", true),
            ("public", "100.63.255.255", true),
            ("public", "100.128.0.0", true),
            ("public", "172.15.255.255", true),
            ("public", "172.32.0.0", true),
            ("public", "192.0.1.0", true),
            ("public", "198.17.255.255", true),
            ("public", "198.20.0.0", true),
            ("public", "223.255.255.255", true),
            // IPv6 special-purpose registry.
            ("::1/128", "::1", false),
            ("::/128", "::", false),
            ("::ffff:0:0/96 private", "::ffff:10.0.0.1", false),
            ("::ffff:0:0/96 public", "::ffff:1.1.1.1", true),
            ("64:ff9b::/96 private", "64:ff9b::10.0.0.1", false),
            ("64:ff9b::/96 loopback", "64:ff9b::127.0.0.1", false),
            ("64:ff9b::/96 public", "64:ff9b::1.1.1.1", true),
            ("64:ff9b:1::/48", "64:ff9b:1::1.1.1.1", false),
            ("100::/64", "100::1", false),
            ("100:0:0:1::/64", "100:0:0:1::1", false),
            ("2001::/23", "2001:0:4136:e378::1", false),
            ("2001::/32 Teredo", "2001::1", false),
            ("2001:1::1/128", "2001:1::1", true),
            ("2001:1::2/128", "2001:1::2", true),
            ("2001:1::3/128", "2001:1::3", true),
            ("2001:2::/48", "2001:2::1", false),
            ("2001:3::/32", "2001:3::1", true),
            ("2001:4:112::/48", "2001:4:112::1", true),
            ("2001:20::/28", "2001:20::1", true),
            ("2001:30::/28", "2001:30::1", true),
            ("2001:db8::/32", "2001:db8::1", false),
            ("2002::/16 private", "2002:c0a8:0101::1", false),
            ("2002::/16 loopback", "2002:7f00:0001::1", false),
            ("2002::/16 public", "2002:0101:0101::1", true),
            ("2620:4f:8000::/48", "2620:4f:8000::1", true),
            ("3fff::/20", "3fff::1", false),
            ("5f00::/16", "5f00::1", false),
            ("fc00::/7", "fd12:3456::1", false),
            ("fe80::/10", "fe80::1", false),
            ("fec0::/10", "fec0::1", false),
            ("ff00::/8", "ff02::1", false),
            // IPv4-compatible (deprecated): judged by the IPv4 address.
            ("::a.b.c.d private", "::192.168.0.1", false),
            ("::a.b.c.d loopback", "::127.0.0.1", false),
            ("::a.b.c.d public", "::1.1.1.1", true),
            // Public IPv6.
            ("public", "2606:4700::1111", true),
            ("public", "2a00:1450:4001::1", true),
        ];
        for (range, ip, open) in table {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(!is_private(parsed), *open, "{range}: {ip}");
        }
    }
}
