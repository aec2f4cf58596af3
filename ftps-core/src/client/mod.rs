//! The blocking client over `std::net`.
//!
//! [`ClientBuilder`] connects and secures the control connection; [`Client`] logs in, moves
//! files as streams ([`Download`] is an [`std::io::Read`], [`Upload`] an [`std::io::Write`]) and
//! runs the other commands. Every wait is bounded by a [`Timeouts`] value; every error says
//! whether the connection is still usable, and a connection that is not refuses further calls
//! with [`Error::Unusable`] without writing anything.

mod clear;
mod config;
mod control;
mod data;
mod extensions;
mod login;
mod socket;
mod transfer;

use std::io;
use std::net::{TcpStream, ToSocketAddrs};

pub use config::{ClientBuilder, DataConnectionMode, Mode, PassiveAddress, Timeouts};
pub use login::PasswordPrompt;
pub use transfer::{Download, TransferOutcome, Upload};

/// Internals for the fuzz targets (Cargo feature `fuzzing`).
#[cfg(feature = "fuzzing")]
pub(crate) mod fuzzing {
    pub use super::transfer::{judge_download_end, DataEnd};
}

use crate::command::{Command, ProtectionLevel, TransferType};
use crate::error::{Error, Phase, ProtocolError, Result};
use crate::listing::Features;
use crate::path::{parse_quoted_path, FtpPath};
use crate::reply::Reply;
use crate::session::{Action, ControlProtection, Refusal, Session, TlsPolicy};
use crate::tls::{SecureConnection, ServerName, SessionInfo, TlsError, TlsErrorKind};

use config::Config;
use control::Control;

/// A blocking FTPS client, generic over the TLS backend `C`.
///
/// ```no_run
/// # fn demo<C: ftps_core::SecureConnection>(connector: C) -> ftps_core::Result<()> {
/// let mut client = ftps_core::ClientBuilder::new("ftp.example.com").connect(connector)?;
/// client.login("alice", "secret")?;
/// let mut file = Vec::new();
/// let outcome = client.download("report.csv", &mut file)?;
/// assert_eq!(outcome.bytes(), file.len() as u64);
/// client.quit()?;
/// # Ok(()) }
/// ```
pub struct Client<C: SecureConnection> {
    connector: C,
    server_name: ServerName,
    config: Config,
    control: Control<C::Stream>,
    session: Session,
    epsv_works: bool,
    transfer_type: Option<TransferType>,
    restart_offset: Option<u64>,
    abandoned_transfer: bool,
    broken: bool,
    last_data_session: Option<SessionInfo>,
    greeting: Option<Reply>,
    features: Option<Features>,
}

impl<C: SecureConnection> std::fmt::Debug for Client<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server_name)
            .field("backend", &self.connector.name())
            .field("control", &self.session.control())
            .field("data_protection", &self.session.data_protection())
            .field("usable", &!self.broken)
            .finish()
    }
}

pub(crate) fn io_error(phase: Phase, source: io::Error) -> Error {
    Error::Io {
        phase,
        usable: false,
        source,
    }
}

impl<C: SecureConnection> Client<C> {
    fn connect_with(config: Config, connector: C) -> Result<Self> {
        let port = config.port.unwrap_or(config.mode.default_port());
        let tcp = connect_tcp(&config.host, port, config.timeouts.connect)?;
        let server_name = ServerName::from_host(&config.host);
        let control = Control::new(tcp, config.timeouts, config.reply_limits)?;
        let session = match config.mode {
            Mode::Explicit => Session::new(config.policy),
            Mode::Implicit => Session::new_implicit(config.policy),
        };
        let epsv_works = config.data_mode != DataConnectionMode::Pasv;
        let mut client = Client {
            connector,
            server_name,
            config,
            control,
            session,
            epsv_works,
            transfer_type: None,
            restart_offset: None,
            abandoned_transfer: false,
            broken: false,
            last_data_session: None,
            greeting: None,
            features: None,
        };
        let result = client.start();
        client.guard(result)?;
        Ok(client)
    }

    /// Greeting, pre-AUTH commands and AUTH TLS (or the implicit handshake), with `HOST`
    /// before or after AUTH (decision D15) and `FEAT` before AUTH when configured.
    fn start(&mut self) -> Result<()> {
        let implicit = self.config.mode == Mode::Implicit;
        if implicit {
            self.secure_implicit()?;
        }
        self.read_greeting()?;
        if implicit {
            self.check_session_policy()?;
        }
        let explicit_tls = !implicit && self.config.policy.tls != TlsPolicy::DangerPlain;
        // RFC 7151 §3.2.2 and §4: after AUTH when the handshake carried the name as SNI,
        // before it otherwise (an IP literal, or no AUTH at all).
        let sni = matches!(self.server_name, ServerName::Dns(_));
        let host_late = self.config.host_command && explicit_tls && sni;
        if self.config.host_command && !host_late {
            self.send_host()?;
        }
        if self.config.feat_before_auth {
            self.discover_features()?;
        }
        for command in std::mem::take(&mut self.config.pre_auth) {
            self.simple(&command)?;
        }
        if explicit_tls {
            self.auth_tls()?;
        }
        if host_late {
            self.send_host()?;
        }
        Ok(())
    }

    /// Implicit FTPS: the TLS handshake before anything else ([MS-FTPS] §3.1.5.1). A server
    /// that answers in plaintext gets an error that names the likely mix-up (SCENARIOS
    /// IMPL-03 a).
    fn secure_implicit(&mut self) -> Result<()> {
        match self.control.secure(&self.connector, &self.server_name, 0) {
            Err(Error::Tls {
                phase,
                reply,
                source,
            }) if source.kind() == TlsErrorKind::NotTls => Err(Error::Tls {
                phase,
                reply,
                source: TlsError::new(
                    TlsErrorKind::NotTls,
                    "the server greeted in plaintext; try explicit mode",
                )
                .with_source(source),
            }),
            other => other,
        }
    }

    fn read_greeting(&mut self) -> Result<()> {
        loop {
            let reply = match self.control.read_reply(Phase::Greeting) {
                Ok(reply) => reply,
                Err(e @ Error::Timeout { .. }) if self.config.mode == Mode::Explicit => {
                    // SCENARIOS IMPL-03 b: an implicit server waits for a ClientHello.
                    log::warn!("no greeting; the server may expect implicit tls (Mode::Implicit)");
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            match reply.code() {
                120 => continue,
                220 => {
                    self.greeting = Some(reply);
                    return Ok(());
                }
                421 => return Err(Error::ServiceClosing { reply }),
                _ => {
                    return Err(ProtocolError::UnexpectedReply {
                        command: "(greeting)".into(),
                        reply,
                    }
                    .into())
                }
            }
        }
    }

    fn auth_tls(&mut self) -> Result<()> {
        let command = Command::Auth(self.config.mechanism.clone().into_bytes());
        self.send_command(&command)?;
        match self.read_action(Phase::Control)? {
            Action::SecureControl(reply) => {
                self.control
                    .secure(&self.connector, &self.server_name, reply.code())?;
                self.session.control_secured();
                // RFC 4217 §4.2: transfer parameters are reset after AUTH.
                self.transfer_type = None;
                self.check_session_policy()
            }
            Action::Refused(reply) => {
                if self.session.continue_in_clear().is_ok() {
                    log::warn!(
                        "the server refused tls ({reply}): continuing in plain ftp, as configured"
                    );
                    Ok(())
                } else {
                    Err(Error::TlsUnavailable { reply })
                }
            }
            other => Err(self.unexpected(&command, other)),
        }
    }

    /// Checks the negotiated control session against the user's pin; on a mismatch sends a
    /// protected QUIT and closes (RFC 4217 §10.3, SCENARIOS AUTH-11).
    fn check_session_policy(&mut self) -> Result<()> {
        let Some(pin) = self.config.pinned_certificate.as_deref() else {
            return Ok(());
        };
        let info = self.control_session_info();
        let presented = info.as_ref().and_then(SessionInfo::peer_certificate);
        if presented == Some(pin) {
            return Ok(());
        }
        let message = if presented.is_none() {
            "the backend does not report the peer certificate, so the pin cannot be checked"
        } else {
            "the server's certificate does not match the pinned certificate"
        };
        let _ = self.simple(&Command::Quit);
        self.control.shutdown();
        Err(Error::Tls {
            phase: Phase::ControlHandshake,
            reply: None,
            source: TlsError::new(TlsErrorKind::PostHandshakePolicy, message),
        })
    }

    /// Sends `PBSZ 0` and the wanted `PROT` ([`Client::negotiate_protection`]). With
    /// [`ClientBuilder::danger_prefer_private_data`], a refused `PROT P` leaves data Clear and
    /// the call succeeds (SCENARIOS PROT-04); a `530` is still returned, so that a login can
    /// defer the pair (PBSZ-03).
    pub(crate) fn set_data_protection(&mut self) -> Result<()> {
        let level = self.session.policy().data;
        if self.config.mode == Mode::Implicit && level == ProtectionLevel::Private {
            return self.implicit_private_data();
        }
        match self.negotiate_protection(level) {
            Err(Error::DataProtectionRefused { reply })
                if level == ProtectionLevel::Private
                    && self.config.prefer_private_data
                    && reply.code() != 530
                    && self.session.data_protection() == ProtectionLevel::Clear =>
            {
                log::warn!(
                    "the server refused private data ({reply}): data connections stay clear, \
                     as configured"
                );
                self.session
                    .set_wanted_data_protection(ProtectionLevel::Clear);
                Ok(())
            }
            other => other,
        }
    }

    /// `PBSZ 0` unless one was accepted in this security session, then `PROT level`. A `503`
    /// to `PROT` means the server lost its PBSZ state: one more `PBSZ 0` and `PROT`
    /// (SCENARIOS PROT-06); a second `503` is returned as [`Error::Reply`].
    fn negotiate_protection(&mut self, level: ProtectionLevel) -> Result<()> {
        if !self.session.pbsz_accepted() {
            self.simple(&Command::Pbsz(0))?;
        }
        match self.set_prot(level) {
            Err(Error::DataProtectionRefused { reply }) if reply.code() == 503 => {
                log::debug!("PROT answered {reply}: sending PBSZ 0 and PROT once more");
                self.simple(&Command::Pbsz(0))?;
                match self.set_prot(level) {
                    Err(Error::DataProtectionRefused { reply }) if reply.code() == 503 => {
                        Err(Error::Reply {
                            reply,
                            command: "PROT".into(),
                        })
                    }
                    other => other,
                }
            }
            other => other,
        }
    }

    /// Implicit mode (SCENARIOS decision D10): `PBSZ 0` and `PROT P` are sent, because some
    /// servers (vsftpd) keep data Clear until they are; a `500`, `502`, `503` or `504` to either
    /// is taken as "implied by implicit FTPS" ([MS-FTPS] §3.1.5.1) and the data level stays
    /// Private. Any other refusal (a `534` to `PROT P` above all) is an error.
    fn implicit_private_data(&mut self) -> Result<()> {
        let tolerated = |reply: &Reply| matches!(reply.code(), 500 | 502 | 503 | 504);
        if !self.session.pbsz_accepted() {
            match self.simple(&Command::Pbsz(0)) {
                Ok(_) => {}
                Err(Error::Reply { reply, .. }) if tolerated(&reply) => {
                    log::info!("PBSZ answered {reply} in implicit mode: taken as implied");
                    self.assume_accepted(&Command::Pbsz(0))?;
                }
                Err(e) => return Err(e),
            }
        }
        match self.set_prot(ProtectionLevel::Private) {
            Err(Error::DataProtectionRefused { reply }) if tolerated(&reply) => {
                log::info!("PROT P answered {reply} in implicit mode: data stays private");
                // A 503 to PROT made the session forget PBSZ (PROT-06): implied as well.
                if !self.session.pbsz_accepted() {
                    self.assume_accepted(&Command::Pbsz(0))?;
                }
                self.assume_accepted(&Command::Prot(ProtectionLevel::Private))
            }
            other => other,
        }
    }

    /// Applies `command` to the session as if the server had accepted it, without sending
    /// anything: implicit FTPS implies `PBSZ 0` and `PROT P` ([MS-FTPS] §3.1.5.1).
    fn assume_accepted(&mut self, command: &Command) -> Result<()> {
        let mut unsent = Vec::new();
        self.session
            .command(command, &mut unsent)
            .map_err(|refusal| Error::InvalidState(refusal.to_string()))?;
        match self
            .session
            .handle_reply(Reply::new(200, "implied by implicit ftps"))
        {
            Action::Done(_) => Ok(()),
            other => Err(self.unexpected(command, other)),
        }
    }

    fn set_prot(&mut self, level: ProtectionLevel) -> Result<()> {
        match self.simple(&Command::Prot(level)) {
            Ok(_) => Ok(()),
            Err(Error::Reply { reply, .. }) => Err(Error::DataProtectionRefused { reply }),
            Err(e) => Err(e),
        }
    }

    /// Changes the data protection level for later transfers: `PBSZ 0` if needed, then
    /// `PROT C` or `PROT P`. Data connections opened afterwards use the level once the server
    /// accepted it; if it refuses ([`Error::DataProtectionRefused`]), the previous level stays
    /// in force. On a clear control connection this fails with [`Error::InvalidState`] and
    /// sends nothing (RFC 4217 §9).
    pub fn set_data_protection_level(&mut self, level: ProtectionLevel) -> Result<()> {
        self.ready()?;
        if !self.session.control_protected() {
            return Err(Error::InvalidState(
                "data protection needs a protected control connection (RFC 4217 §9)".into(),
            ));
        }
        let result = self.negotiate_protection(level);
        self.guard(result)
    }

    /// The level the server accepted last; transfers use it.
    pub fn data_protection(&self) -> ProtectionLevel {
        self.session.data_protection()
    }

    /// Whether the control connection is inside TLS.
    pub fn is_control_protected(&self) -> bool {
        self.session.control() == ControlProtection::Protected
    }

    /// Whether the connection can still be used.
    pub fn is_usable(&self) -> bool {
        !self.broken
    }

    /// The TLS session of the control connection, when protected.
    pub fn control_session_info(&self) -> Option<SessionInfo> {
        use crate::tls::SecureStream;
        self.control.tls().map(|s| s.session_info())
    }

    /// The TLS session of the last protected data connection.
    pub fn last_data_session_info(&self) -> Option<&SessionInfo> {
        self.last_data_session.as_ref()
    }

    /// The server's greeting (the 220 reply), as it came.
    pub fn greeting(&self) -> Option<&Reply> {
        self.greeting.as_ref()
    }

    /// The name of the TLS backend.
    pub fn backend_name(&self) -> &'static str {
        self.connector.name()
    }

    /// Sets the representation type (`TYPE A` or `TYPE I`). Transfers use binary unless told.
    pub fn transfer_type(&mut self, kind: TransferType) -> Result<()> {
        self.ready()?;
        let result = self.simple(&Command::Type(kind)).map(|_| ());
        if result.is_ok() {
            self.transfer_type = Some(kind);
        }
        self.guard(result)
    }

    /// `NOOP`.
    pub fn noop(&mut self) -> Result<Reply> {
        self.run(&Command::Noop)
    }

    /// `CWD path`.
    pub fn cwd(&mut self, path: impl AsRef<[u8]>) -> Result<Reply> {
        self.run(&Command::Cwd(path.as_ref().to_vec()))
    }

    /// `CDUP`.
    pub fn cdup(&mut self) -> Result<Reply> {
        self.run(&Command::Cdup)
    }

    /// `PWD`: the current directory, byte for byte as the server gave it.
    pub fn pwd(&mut self) -> Result<FtpPath> {
        let reply = self.run(&Command::Pwd)?;
        quoted_path(&reply)
    }

    /// `MKD path`: the created directory's path as the server gives it.
    pub fn mkdir(&mut self, path: impl AsRef<[u8]>) -> Result<FtpPath> {
        let reply = self.run(&Command::Mkd(path.as_ref().to_vec()))?;
        quoted_path(&reply)
    }

    /// `RMD path`.
    pub fn rmdir(&mut self, path: impl AsRef<[u8]>) -> Result<Reply> {
        self.run(&Command::Rmd(path.as_ref().to_vec()))
    }

    /// `DELE path`.
    pub fn delete(&mut self, path: impl AsRef<[u8]>) -> Result<Reply> {
        self.run(&Command::Dele(path.as_ref().to_vec()))
    }

    /// `RNFR from`, then `RNTO to`.
    pub fn rename(&mut self, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) -> Result<Reply> {
        let rnto = Command::Rnto(to.as_ref().to_vec());
        self.guard(rnto.validate().map_err(Error::from))?;
        self.run(&Command::Rnfr(from.as_ref().to_vec()))?;
        self.run(&rnto)
    }

    /// `SITE arguments`.
    pub fn site(&mut self, arguments: impl AsRef<[u8]>) -> Result<Reply> {
        self.run(&Command::Site(arguments.as_ref().to_vec()))
    }

    /// Sends `REST offset` right before the next transfer command, to resume it (RFC 3659 §5).
    pub fn restart_at(&mut self, offset: u64) {
        self.restart_offset = Some(offset);
    }

    /// Sends one command given as a line (without CR LF) and returns its final reply.
    ///
    /// The line goes through the same state machine as the typed calls: a raw `AUTH`, `PBSZ`
    /// or `PROT` has their exact effect and refusals, and a raw `CCC` or `REIN` runs
    /// [`Client::ccc`] or [`Client::rein`] (SCENARIOS decision D11). Commands that open data
    /// connections must use their typed calls.
    pub fn raw(&mut self, line: impl AsRef<[u8]>) -> Result<Reply> {
        self.ready()?;
        let command = Command::parse_raw(line.as_ref());
        let command = self.guard(command.map_err(Error::from))?;
        match &command {
            Command::Auth(_) if self.session.control() == ControlProtection::Clear => {
                let result = self.auth_tls();
                return self
                    .guard(result)
                    .map(|()| Reply::new(234, "tls established"));
            }
            Command::Ccc => return self.ccc(),
            Command::Rein => return self.rein(),
            Command::Other { verb, .. }
                if matches!(
                    verb.as_str(),
                    "EPSV"
                        | "PASV"
                        | "PORT"
                        | "EPRT"
                        | "LPRT"
                        | "LPSV"
                        | "RETR"
                        | "STOR"
                        | "APPE"
                        | "STOU"
                        | "LIST"
                        | "NLST"
                        | "MLSD"
                ) =>
            {
                return Err(Error::InvalidState(format!(
                    "{verb} opens a data connection: use the typed transfer calls"
                )))
            }
            _ => {}
        }
        match self.run(&command) {
            Err(Error::Reply { reply, .. }) if matches!(command, Command::Prot(_)) => {
                Err(Error::DataProtectionRefused { reply })
            }
            other => other,
        }
    }

    /// `QUIT` (protected when the control connection is), then the TLS shutdown
    /// (close_notify) and the TCP close; the client is gone afterwards, so nothing more is
    /// ever sent.
    ///
    /// Returns the server's `221`, or `None` if the server closed the connection without a
    /// reply (common enough, and the session is over either way). If a [`Download`] or
    /// [`Upload`] was dropped unfinished, its transfer is aborted first (`ABOR`, and every
    /// reply owed is read) so that the `221` is not mistaken for a transfer's reply
    /// (RFC 959 §4.1.1, SCENARIOS QUIT-02). A transfer cannot be in progress otherwise: it
    /// borrows the client.
    pub fn quit(mut self) -> Result<Option<Reply>> {
        if self.abandoned_transfer && !self.broken {
            self.abandoned_transfer = false;
            let reply = self.abort_after_local_failure();
            log::debug!(
                "aborted an unfinished transfer before QUIT (final reply: {})",
                reply.map_or_else(|| "none".to_owned(), |r| r.to_string())
            );
        }
        self.ready()?;
        let result = match self.simple(&Command::Quit) {
            Ok(reply) => Ok(Some(reply)),
            Err(Error::ConnectionClosed { .. }) => {
                log::debug!("the server closed the connection without answering QUIT");
                Ok(None)
            }
            Err(e) => Err(e),
        };
        self.control.shutdown();
        self.broken = true;
        result
    }

    // ---- plumbing shared by the modules of `client` ----

    /// Fails fast when unusable, settles an abandoned transfer, and checks for unsolicited
    /// replies, before any new command.
    fn ready(&mut self) -> Result<()> {
        if self.broken || !self.control.is_open() {
            return Err(Error::Unusable);
        }
        if self.abandoned_transfer {
            self.abandoned_transfer = false;
            let reply = self.abort_after_local_failure();
            return Err(Error::Aborted { reply });
        }
        let result = match self.control.check_idle() {
            Ok(None) => Ok(()),
            Ok(Some(reply)) => match self.session.handle_reply(reply) {
                Action::ServiceClosing(reply) => Err(Error::ServiceClosing { reply }),
                Action::Unexpected(reply) | Action::Done(reply) | Action::Refused(reply) => {
                    Err(ProtocolError::UnsolicitedReply { reply }.into())
                }
                other => Err(self.unexpected(&Command::Noop, other)),
            },
            Err(e) => Err(e),
        };
        self.guard(result)
    }

    /// Runs a simple command from a public call: ready check, exchange, guard.
    fn run(&mut self, command: &Command) -> Result<Reply> {
        self.ready()?;
        let result = self.simple(command);
        self.guard(result)
    }

    /// Marks the connection unusable when `result` is an error that says so.
    fn guard<T>(&mut self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            if !e.connection_usable() {
                self.mark_broken();
            }
        }
        result
    }

    pub(crate) fn mark_broken(&mut self) {
        self.broken = true;
        self.session.close();
        self.control.close();
    }

    /// Encodes `command` through the session and writes it.
    pub(crate) fn send_command(&mut self, command: &Command) -> Result<()> {
        let mut wire = Vec::with_capacity(64);
        self.session
            .command(command, &mut wire)
            .map_err(|refusal| match refusal {
                Refusal::InvalidArgument(e) => Error::InvalidArgument(e),
                other => Error::InvalidState(other.to_string()),
            })?;
        log::debug!("-> {command}");
        let result = self.control.send(&wire);
        if result.is_err() {
            self.mark_broken();
        }
        result
    }

    /// Reads one reply and applies it to the session.
    pub(crate) fn read_action(&mut self, phase: Phase) -> Result<Action> {
        match self.control.read_reply(phase) {
            Ok(reply) => Ok(self.session.handle_reply(reply)),
            Err(e) => {
                self.mark_broken();
                Err(e)
            }
        }
    }

    /// Reads replies until one is not preliminary: the final reply of a transfer, with the
    /// extra 1xx replies some servers send tolerated up to the session's limit (BAD-19).
    pub(crate) fn read_final(&mut self, phase: Phase) -> Result<Action> {
        loop {
            match self.read_action(phase)? {
                Action::AwaitFinal(reply) => log::debug!("extra preliminary reply {reply}"),
                other => return Ok(other),
            }
        }
    }

    /// Sends a command that takes one final reply: the positive reply, or an error.
    pub(crate) fn simple(&mut self, command: &Command) -> Result<Reply> {
        match self.command_reply(command)? {
            Ok(reply) => Ok(reply),
            Err(reply) => Err(Error::Reply {
                reply,
                command: command.verb().to_owned(),
            }),
        }
    }

    /// Sends a command and returns `Ok(positive)` or `Err(negative)` reply; protocol failures
    /// are the outer error.
    pub(crate) fn command_reply(
        &mut self,
        command: &Command,
    ) -> Result<std::result::Result<Reply, Reply>> {
        self.send_command(command)?;
        loop {
            match self.read_action(Phase::Control)? {
                Action::Done(reply) => return Ok(Ok(reply)),
                Action::Refused(reply) => return Ok(Err(reply)),
                Action::AwaitFinal(_) if matches!(command, Command::Stat(_)) => continue,
                other => return Err(self.unexpected(command, other)),
            }
        }
    }

    /// The error for an action that does not fit `command`; marks the connection unusable.
    pub(crate) fn unexpected(&mut self, command: &Command, action: Action) -> Error {
        let error = match action {
            Action::ServiceClosing(reply) => Error::ServiceClosing { reply },
            Action::AwaitFinal(reply)
            | Action::SecureControl(reply)
            | Action::Done(reply)
            | Action::Refused(reply)
            | Action::Unexpected(reply) => ProtocolError::UnexpectedReply {
                command: command.verb().to_owned(),
                reply,
            }
            .into(),
        };
        self.mark_broken();
        error
    }

    /// After a transfer was given up locally: sends `ABOR` and reads the transfer's final reply
    /// and the ABOR's own (RFC 959 §4.1.3). Returns the transfer's final reply; marks the
    /// connection unusable if the replies do not come.
    pub(crate) fn abort_after_local_failure(&mut self) -> Option<Reply> {
        self.session.reset_in_flight();
        if self.send_command(&Command::Abor).is_err() {
            return None;
        }
        let first = match self.control.read_reply(Phase::Control) {
            Ok(reply) => reply,
            Err(_) => {
                self.mark_broken();
                return None;
            }
        };
        if matches!(first.code(), 225) {
            // "No transfer to abort": the transfer's final reply came earlier or never.
            self.session.reset_in_flight();
            return None;
        }
        match self.read_action(Phase::Control) {
            Ok(Action::Done(_) | Action::Refused(_)) => Some(first),
            Ok(_) | Err(_) => {
                self.mark_broken();
                Some(first)
            }
        }
    }
}

fn connect_tcp(host: &str, port: u16, limit: std::time::Duration) -> Result<TcpStream> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let addrs = (bare, port)
        .to_socket_addrs()
        .map_err(|e| io_error(Phase::Connect, e))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, limit) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if control::is_timeout(&e) => Error::Timeout {
            phase: Phase::Connect,
            usable: false,
        },
        Some(e) => io_error(Phase::Connect, e),
        None => io_error(
            Phase::Connect,
            io::Error::new(io::ErrorKind::NotFound, "the host name has no address"),
        ),
    })
}

fn quoted_path(reply: &Reply) -> Result<FtpPath> {
    let first = reply.lines().first().map(Vec::as_slice).unwrap_or_default();
    parse_quoted_path(first).ok_or_else(|| {
        ProtocolError::BadReplyText {
            what: "257",
            text: reply.text(),
        }
        .into()
    })
}
