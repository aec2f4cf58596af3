//! `CCC` (RFC 4217 §6) and `REIN` (RFC 4217 §13, RFC 959 §4.1.1): ending the TLS session of
//! the control connection.

use std::time::Duration;

use crate::command::Command;
use crate::error::{Error, Phase, Result};
use crate::reply::Reply;
use crate::session::{Action, ControlProtection, LoginState, TlsPolicy};
use crate::tls::{Capability, SecureConnection, ServerName};

use super::Client;

/// How long the client waits, after a positive reply to `REIN` on a protected connection, for
/// the server's close_notify before it concludes that the server kept TLS (SCENARIOS D9). The
/// reply idle time limit caps it.
const REIN_GRACE: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests;

impl<C: SecureConnection> Client<C> {
    /// `CCC` (RFC 4217 §6): clears the control connection. After the server's `200`, the client
    /// sends its close_notify, reads up to the server's, and sends later commands in the clear
    /// on the same TCP connection, without losing or re-reading a byte. Data connections stay
    /// at the protection level in force and resume the cleared control connection's TLS
    /// session (RFC 4217 §10.2); `PBSZ`, `PROT` and `AUTH` are refused from then on with
    /// [`Error::InvalidState`], nothing sent.
    ///
    /// Refused locally, nothing sent, with [`Error::InvalidState`] on a control connection that
    /// is not protected, before login, or while the data protection level the policy wants is
    /// not yet in force (it cannot change afterwards); with [`Error::Unsupported`] when the
    /// backend cannot hand back the TCP stream ([`Capability::Unwrap`]). A refusal by the
    /// server (`500`, `502`, `534`, ...) is [`Error::Reply`] and the connection stays
    /// protected and usable.
    pub fn ccc(&mut self) -> Result<Reply> {
        self.ready()?;
        if !self.session.control_protected() {
            return Err(Error::InvalidState(
                "CCC needs a protected control connection (RFC 4217 §6)".into(),
            ));
        }
        if self.session.login() != LoginState::LoggedIn {
            return Err(Error::InvalidState("CCC is sent only after login".into()));
        }
        if self.session.needs_data_protection() {
            return Err(Error::InvalidState(
                "CCC is sent only once the data protection level is final: PBSZ and PROT are \
                 refused after it"
                    .into(),
            ));
        }
        if !self.connector.capabilities().supports(Capability::Unwrap) {
            return Err(Error::Unsupported(format!(
                "CCC: the {} backend cannot hand back the tcp stream after close_notify",
                self.connector.name()
            )));
        }
        let result = self.ccc_exchange();
        self.guard(result)
    }

    fn ccc_exchange(&mut self) -> Result<Reply> {
        let reply = self.simple(&Command::Ccc)?;
        self.control.clear()?;
        log::debug!("control connection cleared after {reply}");
        Ok(reply)
    }

    /// `REIN` (RFC 959 §4.1.1): ends the login and resets the session. Afterwards the client is
    /// logged out, the data protection level is Clear until the next login sets it again,
    /// `TYPE` is sent again before the next transfer, and `HOST` is sent again if configured
    /// ([`ClientBuilder::host_command`](super::ClientBuilder::host_command), RFC 7151 §3.2.1).
    ///
    /// On a protected control connection, a server that follows RFC 4217 §13 sends its reply
    /// inside TLS, then ends the TLS session: the client answers the close_notify, and, unless
    /// the user opted out of TLS, secures the connection again with `AUTH TLS` before returning,
    /// so the next login is protected. A server that sends no close_notify within a short grace
    /// period kept TLS (SCENARIOS D9): the client logs a warning and goes on inside TLS.
    ///
    /// `500` and `502` are [`Error::Unsupported`], another refusal [`Error::Reply`]; either
    /// way nothing changed and the connection is usable. On a protected connection with a
    /// backend that cannot hand back the TCP stream ([`Capability::Unwrap`]), `REIN` is refused
    /// locally with [`Error::Unsupported`], nothing sent.
    pub fn rein(&mut self) -> Result<Reply> {
        self.ready()?;
        if self.session.control_protected()
            && !self.connector.capabilities().supports(Capability::Unwrap)
        {
            return Err(Error::Unsupported(format!(
                "REIN on a protected connection: the {} backend cannot follow a server that ends \
                 tls (RFC 4217 §13)",
                self.connector.name()
            )));
        }
        let result = self.rein_exchange();
        self.guard(result)
    }

    fn rein_exchange(&mut self) -> Result<Reply> {
        let command = Command::Rein;
        self.send_command(&command)?;
        let reply = loop {
            match self.read_action(Phase::Control)? {
                Action::AwaitFinal(reply) => log::debug!("REIN: {reply}, waiting"),
                Action::Done(reply) => break reply,
                Action::Refused(reply) if matches!(reply.code(), 500 | 502) => {
                    return Err(Error::Unsupported(format!(
                        "REIN: the server replied {reply}"
                    )))
                }
                Action::Refused(reply) => {
                    return Err(Error::Reply {
                        reply,
                        command: command.verb().to_owned(),
                    })
                }
                other => return Err(self.unexpected(&command, other)),
            }
        };
        // The session already forgot the login, PBSZ and PROT; the driver forgets the rest.
        self.transfer_type = None;
        self.restart_offset = None;
        let tls_ended = match self.session.control() {
            ControlProtection::Protected => {
                let grace = REIN_GRACE.min(self.config.timeouts.reply_idle);
                let ended = self.control.end_tls_after_rein(grace)?;
                if !ended {
                    log::warn!(
                        "the server answered REIN with {reply} but kept tls: going on inside tls, \
                         logged out (SCENARIOS D9)"
                    );
                }
                ended
            }
            ControlProtection::Cleared => {
                self.control.forget_tls();
                true
            }
            _ => false,
        };
        // REIN also forgot HOST (RFC 7151 §3.2.1): sent again where `start` sends it, after
        // AUTH when the name went as SNI, before it otherwise (decision D15).
        let host = self.config.host_command;
        if tls_ended {
            self.session.control_tls_ended();
            let auth = self.session.policy().tls != TlsPolicy::DangerPlain;
            let host_late = host && auth && matches!(self.server_name, ServerName::Dns(_));
            if host && !host_late {
                self.send_host()?;
            }
            if auth {
                self.auth_tls()?;
            }
            if host_late {
                self.send_host()?;
            }
        } else if host {
            self.send_host()?;
        }
        Ok(reply)
    }

    /// The protection of the control connection: clear, protected, or cleared by
    /// [`Client::ccc`].
    pub fn control_protection(&self) -> ControlProtection {
        self.session.control()
    }
}
