//! The hostile server's control-connection steps (SCENARIOS BAD-xx).

use std::net::Shutdown;
use std::time::{Duration, Instant};

use super::super::net::{self, Got};
use super::super::tls::hostile::{padded_chain, RawTls12};
use super::{lock, Conn, Event};

impl Conn {
    /// The first byte the client sent after the 234, if nothing was read yet: peeked (not
    /// consumed) and recorded for A1. Returns the bytes already read plus that byte's presence.
    fn hello_start(&mut self) -> Result<Vec<u8>, String> {
        let initial = std::mem::take(&mut self.inbuf);
        if initial.is_empty() {
            let tcp = self.link.tcp()?;
            match net::peek(tcp, self.link.bound(self.timeout()))? {
                (_, Some(b)) => {
                    let mut rec = lock(&self.record);
                    if self.sent_234 && rec.first_after_234.is_none() {
                        rec.first_after_234 = Some(b);
                    }
                }
                (Got::Timeout, None) => {
                    return Err(format!("no TLS ClientHello within {:?}", self.timeout()))
                }
                (_, None) => return Err("client closed before the tls handshake".into()),
            }
        }
        self.sent_234 = false;
        Ok(initial)
    }

    /// After a `234`: reads the client's ClientHello and stalls the handshake (BAD-03): sends
    /// nothing (`trickle` is `None`), or the server's first flight one byte at a time,
    /// `trickle` apart. Returns how long after the ClientHello the client gave up and closed;
    /// an error if it did not within `limit`.
    pub fn stall_tls(
        &mut self,
        trickle: Option<Duration>,
        limit: Duration,
    ) -> Result<Duration, String> {
        let initial = self.hello_start()?;
        let config = self.configs.control.clone();
        self.link.stall_handshake(config, &initial, trickle, limit)
    }

    /// After a `234`: reads what the client sent (its ClientHello) without answering it, so the
    /// script can answer with something that is not TLS (BAD-15, BAD-21).
    pub fn take_client_hello(&mut self) -> Result<Vec<u8>, String> {
        let mut hello = self.hello_start()?;
        let (more, _) = net::read_available(self.link.tcp()?);
        hello.extend_from_slice(&more);
        Ok(hello)
    }

    /// Sends `bytes` one byte at a time, `delay` apart (BAD-02): in the clear, or inside TLS
    /// with each byte its own record or (`one_record`) as one record trickled byte by byte.
    /// Stops when the client closes; returns how long after the first byte it gave up, or
    /// `None` if every byte was sent.
    pub fn trickle(
        &mut self,
        bytes: &[u8],
        delay: Duration,
        one_record: bool,
    ) -> Result<Option<Duration>, String> {
        self.link.trickle(bytes, delay, one_record)
    }

    /// From now on the control handshake presents a huge certificate chain: the usual
    /// certificate, then `copies` copies of the test CA's certificate (BAD-21).
    pub fn pad_certificate_chain(&mut self, copies: usize) -> Result<(), String> {
        self.configs.control =
            padded_chain(&self.configs.control, self.pki, self.options.cert, copies)?;
        Ok(())
    }

    /// Closes the server's side of the control connection with a FIN, keeping the read side
    /// open, and waits up to `d` for the client to close its side (BAD-11). What the client
    /// sends meanwhile is read and dropped (and recorded, as usual). An error if it did not
    /// close in time.
    pub fn fin_and_wait(&mut self, d: Duration) -> Result<(), String> {
        self.link.shutdown(Shutdown::Write);
        let deadline = Instant::now() + d;
        let closed = loop {
            self.inbuf.clear();
            match self.fill(deadline) {
                Ok(Event::Data(_)) => {}
                Ok(Event::Fin | Event::Reset) => break true,
                Ok(Event::Timeout) => break false,
                // The client may end the session with a fatal alert (after garbage from the
                // server, say): wait for its close without TLS.
                Err(e) => {
                    log::debug!("while waiting for the client's close: {e}");
                    break self.link.client_closed_by(deadline)?;
                }
            }
        };
        if closed {
            Ok(())
        } else {
            Err(format!(
                "the client did not close the control connection within {d:?}"
            ))
        }
    }
}

impl Conn {
    /// Lets the next control handshake hand its keys over to the script
    /// ([`Conn::take_raw_tls12`]); call before [`Conn::start_tls`].
    pub(crate) fn enable_secret_extraction(&mut self) {
        let mut config = rustls::ServerConfig::clone(&self.configs.control);
        config.enable_secret_extraction = true;
        self.configs.control = std::sync::Arc::new(config);
    }

    /// Takes the protected TLS 1.2 control session out of rustls: the script writes and reads
    /// its records itself from now on (BAD-18). Needs [`Conn::enable_secret_extraction`].
    pub(crate) fn take_raw_tls12(&mut self) -> Result<RawTls12, String> {
        if !self.inbuf.is_empty() {
            return Err(format!("unread commands: {:?}", self.inbuf));
        }
        self.link.take_raw_tls12()
    }
}
