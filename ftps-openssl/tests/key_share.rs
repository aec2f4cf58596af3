//! The convenience constructors offer a TLS 1.3 key share for P-256 first
//! ([`ftps_openssl::KEY_EXCHANGE_GROUPS`]): servers that accept P-256 alone, such as vsftpd,
//! then need no HelloRetryRequest, on the control connection or on any data connection.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use ftps_core::{SecureConnection, ServerName};
use ftps_openssl::OpenSslConnector;

/// TLS's code points for the groups this test names (RFC 8446 §4.2.7).
const SECP256R1: u16 = 0x0017;
/// The `key_share` extension (RFC 8446 §4.2.8).
const KEY_SHARE: u16 = 51;

#[test]
fn the_client_hello_offers_a_p256_key_share_first() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The "server" reads the first record (the ClientHello) and hangs up.
    let server = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut header = [0u8; 5];
        tcp.read_exact(&mut header).unwrap();
        assert_eq!(header[0], 22, "not a handshake record");
        let mut body = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
        tcp.read_exact(&mut body).unwrap();
        body
    });
    let ca = ftps_conformance::server::shared_pki().ca_der();
    let connector = OpenSslConnector::trusting(ca).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    let result = connector.secure_control(tcp, &ServerName::from_host("localhost"));
    assert!(
        result.is_err(),
        "the handshake cannot succeed against a hang-up"
    );
    let hello = server.join().unwrap();
    assert_eq!(key_share_groups(&hello), Some(vec![SECP256R1]));
}

/// The groups of the key shares a ClientHello handshake message offers, in order.
fn key_share_groups(message: &[u8]) -> Option<Vec<u16>> {
    let mut at = Reader(message);
    if at.take(1)?[0] != 1 {
        return None; // not a ClientHello
    }
    at.take(3)?; // length
    at.take(2 + 32)?; // legacy_version, random
    at.vector(1)?; // legacy_session_id
    at.vector(2)?; // cipher_suites
    at.vector(1)?; // legacy_compression_methods
    let mut extensions = Reader(at.vector(2)?);
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let mut data = Reader(extensions.vector(2)?);
        if kind == KEY_SHARE {
            let mut shares = Reader(data.vector(2)?);
            let mut groups = Vec::new();
            while !shares.0.is_empty() {
                groups.push(shares.u16()?);
                shares.vector(2)?; // key_exchange
            }
            return Some(groups);
        }
    }
    None
}

/// A cursor over a TLS message.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }

    /// A vector with a length prefix of `width` bytes.
    fn vector(&mut self, width: usize) -> Option<&'a [u8]> {
        let len = self
            .take(width)?
            .iter()
            .fold(0usize, |n, b| n << 8 | usize::from(*b));
        self.take(len)
    }
}
