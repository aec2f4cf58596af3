//! What the client sent and did, as the server saw it (the harness' assertions A1, A2, A6 read
//! this).

use std::net::SocketAddr;

/// How the client's side of a connection ended, as far as the server saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataEnd {
    /// A TLS close_notify arrived and nothing was observed after it (yet).
    CloseNotify,
    /// The TCP connection ended with a FIN (EOF).
    Fin,
    /// The TCP connection was reset.
    Reset,
    /// Nothing ended the connection within the bound.
    Timeout,
}

/// How the client closed the control connection, returned by
/// [`Conn::expect_eof`](super::Conn::expect_eof).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseSeen {
    /// A TLS close_notify arrived before the TCP end.
    pub close_notify: bool,
    /// The TCP end: [`DataEnd::Fin`] or [`DataEnd::Reset`], or [`DataEnd::Timeout`] when only
    /// the close_notify arrived within the bound.
    pub end: DataEnd,
}

/// One data connection, as the server saw it.
#[derive(Clone, Debug, Default)]
pub struct DataRecord {
    /// The client's address on this connection.
    pub peer: Option<SocketAddr>,
    /// The first byte the client sent (`0x16` is a TLS handshake record: A2).
    pub first_byte: Option<u8>,
    /// A TLS handshake completed on this connection.
    pub tls: bool,
    /// Whether that handshake resumed a session of this control connection.
    pub resumed: Option<bool>,
    /// The negotiated TLS version ("TLSv1.2" or "TLSv1.3").
    pub version: Option<String>,
    /// The negotiated cipher suite, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher: Option<String>,
    /// The server name the client sent (SNI) in this connection's ClientHello.
    pub sni: Option<String>,
    /// The error that ended the TLS handshake, if it failed.
    pub tls_error: Option<String>,
    /// The client certificate presented on this connection (or restored by resumption).
    pub client_cert: Option<Vec<u8>>,
    /// The last end of the client's side the server observed.
    pub ended: Option<DataEnd>,
    /// The client sent a TLS close_notify on this connection.
    pub client_close_notify: bool,
    /// Payload bytes received from the client (plaintext when TLS is on).
    pub bytes_received: u64,
    /// Payload bytes the server sent.
    pub bytes_sent: u64,
}

/// Everything the server recorded about one control connection and its data connections.
#[derive(Clone, Debug, Default)]
pub struct Record {
    /// Every control byte received outside TLS: before TLS started, and after
    /// [`Conn::end_tls`](super::Conn::end_tls) (CCC, REIN) (A1).
    pub cleartext: Vec<u8>,
    /// `(protected, line)` for every command line received, without CRLF.
    pub commands: Vec<(bool, String)>,
    /// The first byte from the client after the server sent a `234` reply in the clear (A1: it
    /// must be `0x16`).
    pub first_after_234: Option<u8>,
    /// One entry per data connection, in the order they were opened.
    pub data: Vec<DataRecord>,
    /// The negotiated TLS version on the control connection ("TLSv1.2" or "TLSv1.3").
    pub control_version: Option<String>,
    /// The negotiated cipher suite on the control connection, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub control_cipher: Option<String>,
    /// The error that ended the control TLS handshake, if it failed (for example
    /// `received fatal alert: UnknownCA` when the client rejected the certificate).
    pub control_tls_error: Option<String>,
    /// The client certificate presented on the control connection.
    pub control_client_cert: Option<Vec<u8>>,
    /// The server name the client sent (SNI) in the control connection's ClientHello.
    pub control_sni: Option<String>,
    /// How the client closed the control connection, when the server waited for it.
    pub control_close: Option<CloseSeen>,
    /// Bytes of TCP urgent data (`MSG_OOB`) received on the control connection.
    pub urgent_bytes: usize,
}

impl Record {
    /// The command lines received, without the protected flag.
    pub fn command_lines(&self) -> Vec<&str> {
        self.commands.iter().map(|(_, l)| l.as_str()).collect()
    }

    /// True if a cleartext control line starts with `verb` (case-insensitive), e.g. `"USER"`.
    pub fn cleartext_has_verb(&self, verb: &str) -> bool {
        self.cleartext
            .split(|b| *b == b'\n')
            .map(|line| {
                let start = line
                    .iter()
                    .position(|b| !b.is_ascii_whitespace())
                    .unwrap_or(line.len());
                &line[start..]
            })
            .any(|line| {
                line.len() >= verb.len()
                    && line[..verb.len()].eq_ignore_ascii_case(verb.as_bytes())
                    && matches!(line.get(verb.len()), None | Some(b' ' | b'\t' | b'\r'))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::Record;

    #[test]
    fn cleartext_verbs_are_found_at_line_starts_only() {
        let r = Record {
            cleartext: b"SITE ZONE\r\nAUTH TLS\r\nuser alice\r\nXPASS\r\n".to_vec(),
            ..Record::default()
        };
        assert!(r.cleartext_has_verb("AUTH"));
        assert!(r.cleartext_has_verb("USER"));
        assert!(!r.cleartext_has_verb("PASS"));
        assert!(!r.cleartext_has_verb("SIT"));
    }
}
