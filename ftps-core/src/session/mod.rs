//! The RFC 4217 / RFC 2228 security state machine, without I/O.
//!
//! A [`Session`] knows whether the control connection is clear or protected, whether `PBSZ` was
//! accepted, the data protection level the server accepted, the login state and whether a
//! transfer is in progress. The driver asks it before sending anything and hands it every reply:
//!
//! * getters (`&self`): [`Session::control`], [`Session::data_protection`], ...;
//! * commands: [`Session::command`] checks a command against the state and the [`Policy`] and
//!   encodes it, or refuses it with a [`Refusal`] and encodes nothing;
//! * inputs: [`Session::handle_reply`] applies a reply to the command in flight;
//! * outputs: the [`Action`] that `handle_reply` returns (`#[must_use]`).
//!
//! Raw commands typed by a user go through the same door ([`crate::command::Command::parse_raw`]),
//! so a raw `AUTH`, `PBSZ` or `PROT` has exactly the effect and the refusals of the typed call
//! (SCENARIOS decision D11).

use crate::command::{Command, CommandError, CommandKind, ProtectionLevel};
use crate::reply::Reply;

#[cfg(test)]
mod tests;

/// How much TLS the user asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TlsPolicy {
    /// TLS is required: credentials are never sent in the clear, and a refused `AUTH TLS` ends
    /// the connection. The default.
    #[default]
    Required,
    /// Try `AUTH TLS`; if the server refuses, continue in plain FTP. Credentials may then cross
    /// the network in the clear: an explicit opt-in only.
    DangerFallbackToPlain,
    /// Plain FTP, no TLS at all. Credentials cross the network in the clear: an explicit opt-in
    /// only.
    DangerPlain,
}

/// The security policy of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    /// How much TLS is required on the control connection.
    pub tls: TlsPolicy,
    /// The data protection level wanted once the control connection is protected.
    pub data: ProtectionLevel,
}

impl Policy {
    /// TLS required on the control connection, Private data: the default.
    pub fn require_tls() -> Self {
        Policy {
            tls: TlsPolicy::Required,
            data: ProtectionLevel::Private,
        }
    }

    /// This policy with another TLS policy.
    #[must_use]
    pub fn with_tls(mut self, tls: TlsPolicy) -> Self {
        self.tls = tls;
        self
    }

    /// This policy with another wanted data protection level.
    #[must_use]
    pub fn with_data(mut self, data: ProtectionLevel) -> Self {
        self.data = data;
        self
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::require_tls()
    }
}

/// The protection of the control connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlProtection {
    /// In the clear: no `AUTH` has succeeded yet, or TLS was declined.
    Clear,
    /// `AUTH TLS` was accepted; the driver must secure the connection before anything else.
    Securing,
    /// Inside TLS.
    Protected,
    /// Protected once, then cleared by `CCC` (RFC 4217 §6): commands go in the clear, data
    /// protection stays as it was.
    Cleared,
}

/// The login state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginState {
    /// Nobody is logged in.
    LoggedOut,
    /// `USER` was accepted; `PASS` is wanted (331, or 336 with a challenge).
    NeedPassword,
    /// An account is wanted (332).
    NeedAccount,
    /// Logged in (230, 232, 202).
    LoggedIn,
}

/// Why the session refuses to send a command. Nothing was encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The command would send credentials in the clear while TLS is required.
    #[error("{verb} would be sent in the clear while tls is required")]
    CredentialsInClear {
        /// The verb refused.
        verb: &'static str,
    },
    /// The command is not allowed in the current state.
    #[error("{0}")]
    InvalidState(&'static str),
    /// The argument cannot be sent.
    #[error(transparent)]
    InvalidArgument(#[from] CommandError),
}

/// What the driver must do after a reply.
#[must_use]
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// A preliminary (1xx) reply: the command's final reply is still owed.
    AwaitFinal(Reply),
    /// `234` to `AUTH`: secure the control connection now, then call
    /// [`Session::control_secured`]. No other byte may be read or sent in the clear.
    SecureControl(Reply),
    /// The positive final reply (2xx, or 3xx where the command expects one).
    Done(Reply),
    /// A negative final reply (4xx, 5xx), or a refusal such as `334` to `AUTH TLS`.
    Refused(Reply),
    /// `421`: the server is closing the connection.
    ServiceClosing(Reply),
    /// A reply whose class does not fit the command (BAD-07). The reply sync is unclear.
    Unexpected(Reply),
}

/// The most preliminary replies tolerated for one command (SCENARIOS BAD-19).
pub const MAX_PRELIMINARY: usize = 8;

#[derive(Clone, Debug)]
struct InFlight {
    command: Command,
    preliminary: usize,
}

/// The security and login state of one FTP session. See the module docs.
#[derive(Clone, Debug)]
pub struct Session {
    policy: Policy,
    control: ControlProtection,
    pbsz_accepted: bool,
    data: ProtectionLevel,
    login: LoginState,
    in_flight: Option<InFlight>,
    transfer_in_progress: bool,
    closed: bool,
}

impl Session {
    /// A new session under `policy`, before the greeting.
    pub fn new(policy: Policy) -> Self {
        Session {
            policy,
            control: ControlProtection::Clear,
            pbsz_accepted: false,
            data: ProtectionLevel::Clear,
            login: LoginState::LoggedOut,
            in_flight: None,
            transfer_in_progress: false,
            closed: false,
        }
    }

    /// A session whose control connection is protected from the start (implicit FTPS).
    pub fn new_implicit(policy: Policy) -> Self {
        Session {
            control: ControlProtection::Protected,
            ..Session::new(policy)
        }
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The protection of the control connection.
    pub fn control(&self) -> ControlProtection {
        self.control
    }

    /// Whether commands go inside TLS now.
    pub fn control_protected(&self) -> bool {
        self.control == ControlProtection::Protected
    }

    /// The data protection level the server last accepted (Clear until a `PROT P` is accepted;
    /// back to Clear after `AUTH`, `REIN` or a new `USER`, when the server's state is unknown).
    pub fn data_protection(&self) -> ProtectionLevel {
        self.data
    }

    /// Whether `PBSZ` was accepted in the current security session.
    pub fn pbsz_accepted(&self) -> bool {
        self.pbsz_accepted
    }

    /// The login state.
    pub fn login(&self) -> LoginState {
        self.login
    }

    /// Whether a transfer command got its preliminary reply and its final reply is owed.
    pub fn transfer_in_progress(&self) -> bool {
        self.transfer_in_progress
    }

    /// The command whose reply is owed, if any.
    pub fn in_flight(&self) -> Option<&Command> {
        self.in_flight.as_ref().map(|f| &f.command)
    }

    /// Whether the data protection the policy wants differs from what the server accepted, so
    /// `PBSZ 0` / `PROT` must be sent before the next transfer.
    pub fn needs_data_protection(&self) -> bool {
        self.control_protected() && self.data != self.policy.data
    }

    /// Checks `command` against the state and the policy; encodes it into `out` if it may be
    /// sent, and records it as the command in flight.
    pub fn command(&mut self, command: &Command, out: &mut Vec<u8>) -> Result<(), Refusal> {
        self.check(command)?;
        command.encode(out)?;
        self.in_flight = Some(InFlight {
            command: command.clone(),
            preliminary: 0,
        });
        Ok(())
    }

    fn check(&self, command: &Command) -> Result<(), Refusal> {
        if self.closed {
            return Err(Refusal::InvalidState("the session is closed"));
        }
        if self.control == ControlProtection::Securing {
            return Err(Refusal::InvalidState(
                "the control connection is being secured",
            ));
        }
        let abor_during_transfer = matches!(command, Command::Abor) && self.transfer_in_progress;
        if self.in_flight.is_some() && !abor_during_transfer {
            return Err(Refusal::InvalidState(
                "a reply is still owed to the previous command",
            ));
        }
        let protected = self.control == ControlProtection::Protected;
        match command {
            Command::User(_) | Command::Pass(_) | Command::Acct(_)
                if !protected && self.policy.tls == TlsPolicy::Required =>
            {
                Err(Refusal::CredentialsInClear {
                    verb: match command {
                        Command::User(_) => "USER",
                        Command::Pass(_) => "PASS",
                        _ => "ACCT",
                    },
                })
            }
            Command::Auth(_) if self.control != ControlProtection::Clear => {
                Err(Refusal::InvalidState(
                    "the control connection is already secured (or was cleared by CCC)",
                ))
            }
            Command::Auth(_) if self.policy.tls == TlsPolicy::DangerPlain => Err(
                Refusal::InvalidState("the session was configured for plain ftp"),
            ),
            Command::Pbsz(_) | Command::Prot(_) | Command::Ccc if !protected => Err(
                Refusal::InvalidState("PBSZ, PROT and CCC need a protected control connection"),
            ),
            Command::Prot(_) if !self.pbsz_accepted => Err(Refusal::InvalidState(
                "PROT must be preceded by an accepted PBSZ",
            )),
            Command::Prot(_) | Command::Pbsz(_) | Command::Rein | Command::Ccc
                if self.transfer_in_progress =>
            {
                Err(Refusal::InvalidState("a transfer is in progress"))
            }
            _ if command.kind() == CommandKind::Transfer && self.transfer_in_progress => {
                Err(Refusal::InvalidState("a transfer is in progress"))
            }
            _ => Ok(()),
        }
    }

    /// Applies the reply to the command in flight and says what the driver must do.
    ///
    /// A reply while no command is in flight is unsolicited: `421` gives
    /// [`Action::ServiceClosing`], anything else [`Action::Unexpected`] (decision D8).
    pub fn handle_reply(&mut self, reply: Reply) -> Action {
        if reply.code() == 421 {
            self.closed = true;
            self.in_flight = None;
            self.transfer_in_progress = false;
            return Action::ServiceClosing(reply);
        }
        let Some(mut flight) = self.in_flight.take() else {
            return Action::Unexpected(reply);
        };
        let kind = flight.command.kind();
        if reply.is_preliminary() {
            flight.preliminary += 1;
            // REIN may be answered 120, then 220 (RFC 959 §5.4).
            let allowed = kind == CommandKind::Transfer
                || matches!(
                    flight.command,
                    Command::Abor | Command::Stat(_) | Command::Rein
                );
            if !allowed || flight.preliminary > MAX_PRELIMINARY + 1 {
                return Action::Unexpected(reply);
            }
            self.transfer_in_progress = kind == CommandKind::Transfer;
            self.in_flight = Some(flight);
            return Action::AwaitFinal(reply);
        }
        self.transfer_in_progress = false;
        if reply.is_negative() {
            self.apply_refusal(&flight.command, &reply);
            return Action::Refused(reply);
        }
        let fits = match kind {
            CommandKind::Auth => reply.code() == 234 || reply.code() == 334,
            CommandKind::Login => reply.is_completion() || reply.is_intermediate(),
            CommandKind::Pending => reply.is_intermediate() || reply.is_completion(),
            CommandKind::Transfer | CommandKind::Simple => reply.is_completion(),
        };
        if !fits {
            return Action::Unexpected(reply);
        }
        self.apply_success(&flight.command, &reply)
    }

    fn apply_refusal(&mut self, command: &Command, reply: &Reply) {
        match command {
            Command::User(_) | Command::Pass(_) | Command::Acct(_) => {
                self.login = LoginState::LoggedOut;
            }
            // 503 ("no previous PBSZ", RFC 2228 §3) or 530 (not logged in yet, RFC 4217 §12.1):
            // the server does not hold the PBSZ the client thought accepted, so the next PROT
            // is preceded by a new `PBSZ 0` (SCENARIOS PROT-06, PBSZ-03).
            Command::Prot(_) if matches!(reply.code(), 503 | 530) => {
                self.pbsz_accepted = false;
            }
            _ => {}
        }
    }

    fn apply_success(&mut self, command: &Command, reply: &Reply) -> Action {
        match command {
            Command::Auth(_) if reply.code() == 234 => {
                self.control = ControlProtection::Securing;
                self.reset_security_state();
                self.login = LoginState::LoggedOut;
                return Action::SecureControl(reply.clone());
            }
            // 334 asks for ADAT, which TLS never uses (RFC 4217 §4.2, decision D1).
            Command::Auth(_) => return Action::Refused(reply.clone()),
            Command::User(_) => {
                // A USER on a logged-in session flushes the server's PBSZ/PROT state on some
                // servers (pyftpdlib): treat it as unknown (SCENARIOS PROT-08).
                if self.login == LoginState::LoggedIn {
                    self.reset_security_state();
                }
                self.login = login_state_after(reply);
            }
            Command::Pass(_) | Command::Acct(_) => self.login = login_state_after(reply),
            Command::Pbsz(_) => self.pbsz_accepted = true,
            Command::Prot(level) => {
                // The level the server accepted is the one wanted from now on: a later
                // transfer does not switch back to the level of the original policy.
                self.data = *level;
                self.policy.data = *level;
            }
            Command::Ccc => self.control = ControlProtection::Cleared,
            Command::Rein => {
                self.reset_security_state();
                self.login = LoginState::LoggedOut;
            }
            Command::Quit => self.closed = true,
            _ => {}
        }
        Action::Done(reply.clone())
    }

    fn reset_security_state(&mut self) {
        self.pbsz_accepted = false;
        self.data = ProtectionLevel::Clear;
    }

    /// Changes the data protection level wanted from now on, without sending anything: after
    /// the user accepted to go on at the level the server allows (SCENARIOS PROT-04, the
    /// "prefer Private" opt-in). An accepted `PROT` changes it too.
    pub fn set_wanted_data_protection(&mut self, level: ProtectionLevel) {
        self.policy.data = level;
    }

    /// Tells the session that the control TLS handshake after `234` succeeded.
    pub fn control_secured(&mut self) {
        if self.control == ControlProtection::Securing {
            self.control = ControlProtection::Protected;
        }
    }

    /// Tells the session that the control connection's TLS ended after `REIN` (RFC 4217 §13:
    /// the connection reverts to clear communication): `AUTH` may be sent again.
    pub fn control_tls_ended(&mut self) {
        if matches!(
            self.control,
            ControlProtection::Protected | ControlProtection::Cleared
        ) {
            self.control = ControlProtection::Clear;
        }
    }

    /// Tells the session that the server declined `AUTH` and the user opted in to plain FTP.
    pub fn continue_in_clear(&mut self) -> Result<(), Refusal> {
        match self.policy.tls {
            TlsPolicy::Required => Err(Refusal::InvalidState(
                "tls is required; falling back to plain ftp needs an explicit opt-in",
            )),
            _ => Ok(()),
        }
    }

    /// Tells the session that a transfer was abandoned locally and its replies were consumed
    /// (or that the connection is being given up): nothing is in flight any more.
    pub fn reset_in_flight(&mut self) {
        self.in_flight = None;
        self.transfer_in_progress = false;
    }

    /// Marks the session closed: every later command is refused.
    pub fn close(&mut self) {
        self.closed = true;
        self.in_flight = None;
        self.transfer_in_progress = false;
    }

    /// Whether the session is closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

fn login_state_after(reply: &Reply) -> LoginState {
    match reply.code() {
        // 336: a password is wanted, as the response to a challenge (RFC 2228 §4).
        331 | 336 => LoginState::NeedPassword,
        332 => LoginState::NeedAccount,
        _ if reply.is_completion() => LoginState::LoggedIn,
        _ => LoginState::LoggedOut,
    }
}
