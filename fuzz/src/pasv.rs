//! `pasv`: the 227 and 229 parsers, and the PORT, EPRT and EPSV forms round-tripping.
//!
//! Input: 4 + 16 + 2 bytes make an IPv4 address, an IPv6 address and a port; the rest is the
//! text of a passive reply. Oracle: what `format_port` and `format_eprt` write parses back to
//! the same address and port (PORT through the 227 parser, which reads the same six numbers;
//! EPRT by its RFC 2428 fields; a 229 text through `parse_epsv`), port 0 is refused; any text
//! gives an address or a typed error, never a port 0.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

use arbitrary::Unstructured;
use ftps_core::passive::{format_eprt, format_port, parse_epsv, parse_pasv, PassiveError};

/// Runs one input; panics if the oracle fails.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let (Ok(v4), Ok(v6), Ok(port)) = (
        u.arbitrary::<[u8; 4]>(),
        u.arbitrary::<[u8; 16]>(),
        u.arbitrary::<u16>(),
    ) else {
        return;
    };
    round_trips(Ipv4Addr::from(v4), Ipv6Addr::from(v6), port);
    let text = String::from_utf8_lossy(u.take_rest());
    if let Ok((_, port)) = parse_pasv(&text) {
        assert_ne!(port, 0);
    }
    if let Ok(port) = parse_epsv(&text) {
        assert_ne!(port, 0);
    }
}

fn round_trips(v4: Ipv4Addr, v6: Ipv6Addr, port: u16) {
    let port_arg = format_port(SocketAddrV4::new(v4, port));
    let parsed = parse_pasv(&format!("Entering Passive Mode ({port_arg})."));
    if port == 0 {
        assert_eq!(parsed, Err(PassiveError::PortZero));
    } else {
        assert_eq!(parsed, Ok((v4.octets(), port)));
    }
    for ip in [IpAddr::V4(v4), IpAddr::V6(v6)] {
        let addr = SocketAddr::new(ip, port);
        assert_eq!(parse_eprt(&format_eprt(addr)), Some(addr));
    }
    let parsed = parse_epsv(&format!("Entering Extended Passive Mode (|||{port}|)"));
    if port != 0 {
        assert_eq!(parsed, Ok(port));
    }
}

/// Reads an EPRT argument `|family|address|port|` (RFC 2428 §2).
fn parse_eprt(arg: &str) -> Option<SocketAddr> {
    let fields: Vec<&str> = arg.split('|').collect();
    let ["", family, address, port, ""] = fields.as_slice() else {
        return None;
    };
    let ip: IpAddr = address.parse().ok()?;
    let expected = if ip.is_ipv4() { "1" } else { "2" };
    (*family == expected).then_some(())?;
    Some(SocketAddr::new(ip, port.parse().ok()?))
}
