//! What a connector's first ClientHello offers, for a backend's own tests of handshake choices
//! that no scenario judges (a key share the common servers accept without a HelloRetryRequest).
//!
//! ```
//! use ftps_conformance::client_hello::{control_key_shares, SECP256R1};
//! use ftps_core::SecureConnection;
//!
//! /// Panics unless `connector` offers one key share, for P-256.
//! fn assert_offers_p256(connector: &impl SecureConnection) {
//!     assert_eq!(control_key_shares(connector).unwrap(), Some(vec![SECP256R1]));
//! }
//! ```

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use ftps_core::{SecureConnection, ServerName};

/// The code point of the P-256 group (`secp256r1`, RFC 8446 §4.2.7).
pub const SECP256R1: u16 = 0x0017;
/// The code point of the X25519 group (RFC 8446 §4.2.7).
pub const X25519: u16 = 0x001d;

/// The `handshake` record content type (RFC 8446 §5.1).
const HANDSHAKE: u8 = 22;
/// The `client_hello` handshake message type (RFC 8446 §4).
const CLIENT_HELLO: u8 = 1;
/// The `key_share` extension (RFC 8446 §4.2.8).
const KEY_SHARE: u16 = 51;
/// How long the listener waits for the first record.
const WAIT: Duration = Duration::from_secs(10);

/// Runs `client` with a TCP stream to a loopback listener that reads the first TLS record and
/// hangs up, and returns that record's body: the client's first handshake message (its
/// ClientHello, when it fits in one record, as every ClientHello without large extensions does).
///
/// `client` sees its handshake fail (the peer closed); the listener's wait is bounded.
pub fn capture(client: impl FnOnce(TcpStream)) -> io::Result<Vec<u8>> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let tcp = TcpStream::connect(listener.local_addr()?)?;
    // The connection is established (queued on the listener): this accept does not wait.
    let (mut server_side, _) = listener.accept()?;
    server_side.set_read_timeout(Some(WAIT))?;
    let reader = std::thread::spawn(move || -> io::Result<Vec<u8>> {
        let mut header = [0u8; 5];
        server_side.read_exact(&mut header)?;
        if header[0] != HANDSHAKE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the first record is of type {}, not handshake", header[0]),
            ));
        }
        let mut body = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
        server_side.read_exact(&mut body)?;
        Ok(body)
        // `server_side` is dropped here: the client's handshake ends with an EOF.
    });
    client(tcp);
    reader
        .join()
        .map_err(|_| io::Error::other("the listener thread panicked"))?
}

/// The groups of the key shares `connector` offers in the ClientHello of a control connection
/// to `localhost` ([`capture`], then [`key_share_groups`]).
pub fn control_key_shares(connector: &impl SecureConnection) -> io::Result<Option<Vec<u16>>> {
    let hello = capture(|tcp| {
        // Fails: the listener hangs up after the ClientHello.
        let _ = connector.secure_control(tcp, &ServerName::from_host("localhost"));
    })?;
    Ok(key_share_groups(&hello))
}

/// The groups of the key shares a ClientHello message offers, in order; `None` when `message`
/// is not a well-formed ClientHello with a `key_share` extension.
pub fn key_share_groups(message: &[u8]) -> Option<Vec<u16>> {
    let mut at = Reader(message);
    if at.take(1)?[0] != CLIENT_HELLO {
        return None;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello with the given extensions (type, data), the rest minimal.
    fn client_hello(extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut ext = Vec::new();
        for (kind, data) in extensions {
            ext.extend_from_slice(&kind.to_be_bytes());
            ext.extend_from_slice(&(data.len() as u16).to_be_bytes());
            ext.extend_from_slice(data);
        }
        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0]); // session id
        body.extend_from_slice(&[0, 2, 0x13, 0x01]); // one cipher suite
        body.extend_from_slice(&[1, 0]); // null compression
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut message = vec![CLIENT_HELLO];
        message.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        message.extend_from_slice(&body);
        message
    }

    /// A key_share extension's data offering `groups`, each with a key of `group` bytes' length.
    fn key_share(groups: &[u16]) -> Vec<u8> {
        let mut shares = Vec::new();
        for group in groups {
            shares.extend_from_slice(&group.to_be_bytes());
            shares.extend_from_slice(&[0, 3, 1, 2, 3]);
        }
        let mut data = (shares.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&shares);
        data
    }

    #[test]
    fn key_shares_are_listed_in_order_after_other_extensions() {
        let hello = client_hello(&[
            (0, vec![1, 2]),
            (KEY_SHARE, key_share(&[X25519, SECP256R1])),
        ]);
        assert_eq!(key_share_groups(&hello), Some(vec![X25519, SECP256R1]));
    }

    #[test]
    fn no_key_share_or_a_truncated_message_gives_none() {
        let hello = client_hello(&[(0, vec![1, 2])]);
        assert_eq!(key_share_groups(&hello), None);
        let hello = client_hello(&[(KEY_SHARE, key_share(&[SECP256R1]))]);
        assert_eq!(key_share_groups(&hello[..hello.len() - 1]), None);
        assert_eq!(key_share_groups(&[2, 0, 0, 0]), None);
    }

    #[test]
    fn capture_returns_the_first_record_body() {
        let body = capture(|mut tcp| {
            use std::io::Write;
            tcp.write_all(&[HANDSHAKE, 3, 1, 0, 3, 9, 8, 7, 6]).unwrap();
        })
        .unwrap();
        assert_eq!(body, [9, 8, 7]);
    }

    #[test]
    fn capture_refuses_a_first_record_that_is_not_a_handshake() {
        let error = capture(|mut tcp| {
            use std::io::Write;
            tcp.write_all(&[23, 3, 3, 0, 1, 0]).unwrap();
        })
        .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
