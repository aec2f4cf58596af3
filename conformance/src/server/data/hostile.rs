//! The hostile server's data-connection steps (SCENARIOS BAD-xx).

use std::time::Duration;

use super::super::control::HANDSHAKE_RECORD;
use super::super::net;
use super::DataConn;

impl DataConn {
    /// Waits for the client's ClientHello (recorded for A2) and stalls the data handshake
    /// (BAD-03): sends nothing (`trickle` is `None`), or the server's first flight one byte at
    /// a time, `trickle` apart. Returns how long after the ClientHello the client gave up and
    /// closed; an error if it did not within `limit`.
    pub fn stall_tls(
        &mut self,
        trickle: Option<Duration>,
        limit: Duration,
    ) -> Result<Duration, String> {
        match self.peek_first_byte(self.link.timeout)? {
            Some(HANDSHAKE_RECORD) => {}
            other => return Err(format!("expected a TLS ClientHello, got {other:?}")),
        }
        let config = self.config.clone();
        self.link.stall_handshake(config, &[], trickle, limit)
    }

    /// Waits for the client's first bytes (its ClientHello under PROT P; recorded for A2) and
    /// reads them without answering, so the script can answer with something that is not TLS
    /// (BAD-12, BAD-15).
    pub fn take_client_hello(&mut self) -> Result<Vec<u8>, String> {
        if self.peek_first_byte(self.link.timeout)?.is_none() {
            return Err("nothing from the client on the data connection".into());
        }
        let (bytes, _) = net::read_available(self.link.tcp()?);
        Ok(bytes)
    }
}
