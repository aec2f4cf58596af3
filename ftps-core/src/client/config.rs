//! The client's settings and its builder.

use std::time::Duration;

use crate::command::{Command, CommandError, ProtectionLevel};
use crate::error::{Error, Result};
use crate::reply::ReplyLimits;
use crate::session::{Policy, TlsPolicy};
use crate::tls::SecureConnection;

use super::Client;

/// Every time limit of the client. All are finite; none may be zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Opening a TCP connection (control, and passive data connections). Default 30 s.
    pub connect: Duration,
    /// Silence allowed while a reply is being read. Default 60 s.
    pub reply_idle: Duration,
    /// The whole of one reply, however slowly it trickles in (SCENARIOS BAD-02). Default 120 s.
    pub reply_total: Duration,
    /// One blocked write on any connection. Default 60 s.
    pub write: Duration,
    /// One TLS handshake, control or data. Default 30 s.
    pub handshake: Duration,
    /// Active mode: the server connecting to the client's listener. Default 30 s.
    pub data_accept: Duration,
    /// Silence allowed on a data connection. Default 60 s.
    pub data_idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            reply_idle: Duration::from_secs(60),
            reply_total: Duration::from_secs(120),
            write: Duration::from_secs(60),
            handshake: Duration::from_secs(30),
            data_accept: Duration::from_secs(30),
            data_idle: Duration::from_secs(60),
        }
    }
}

impl Timeouts {
    fn check(&self) -> Result<()> {
        let all = [
            self.connect,
            self.reply_idle,
            self.reply_total,
            self.write,
            self.handshake,
            self.data_accept,
            self.data_idle,
        ];
        if all.iter().any(|d| d.is_zero()) {
            return Err(Error::InvalidConfig(
                "a timeout of zero is not allowed".into(),
            ));
        }
        Ok(())
    }
}

/// Explicit (`AUTH TLS` on port 21, RFC 4217) or implicit (TLS from the first byte, port 990)
/// FTPS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Connect in the clear, then `AUTH TLS`. The default.
    #[default]
    Explicit,
    /// TLS from the first byte; the greeting arrives inside TLS.
    Implicit,
}

impl Mode {
    /// The port used when none is set: 21 for explicit FTPS, 990 (IANA `ftps`) for implicit.
    pub fn default_port(self) -> u16 {
        match self {
            Mode::Explicit => 21,
            Mode::Implicit => 990,
        }
    }
}

/// How data connections are opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DataConnectionMode {
    /// `EPSV`, falling back to `PASV` once if the server does not know EPSV. The default.
    #[default]
    Passive,
    /// `EPRT`/`PORT`: the server connects to a listener of the client. The client is still the
    /// TLS client (RFC 4217 §7).
    Active,
    /// `PASV` only, never `EPSV`: for a server or middlebox that announces EPSV but mishandles
    /// it. Like [`DataConnectionMode::Passive`], the connection goes to the control peer's
    /// address unless [`ClientBuilder::danger_use_pasv_address`] says otherwise.
    Pasv,
}

/// Where passive data connections go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PassiveAddress {
    /// The control connection's peer address; the address in a 227 reply is ignored. The
    /// default, so a hostile or NATed server cannot steer the client elsewhere.
    #[default]
    ControlPeer,
    /// The address in the 227 reply. Only through [`ClientBuilder::danger_use_pasv_address`].
    DangerFromReply,
}

#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) host: String,
    pub(crate) port: Option<u16>,
    pub(crate) mode: Mode,
    pub(crate) timeouts: Timeouts,
    pub(crate) policy: Policy,
    pub(crate) mechanism: String,
    pub(crate) pre_auth: Vec<Command>,
    pub(crate) protection_before_login: bool,
    pub(crate) data_mode: DataConnectionMode,
    pub(crate) passive_address: PassiveAddress,
    pub(crate) strict_tls_eof: bool,
    pub(crate) reply_limits: ReplyLimits,
    pub(crate) pinned_certificate: Option<Vec<u8>>,
    pub(crate) config_error: Option<CommandError>,
    pub(crate) prefer_private_data: bool,
    pub(crate) host_command: bool,
    pub(crate) feat_before_auth: bool,
}

/// Builds a [`Client`]: host, port, mode, time limits and security policy.
///
/// ```no_run
/// # fn demo<C: ftps_core::SecureConnection>(connector: C) -> ftps_core::Result<()> {
/// use std::time::Duration;
/// let mut client = ftps_core::ClientBuilder::new("ftp.example.com")
///     .connect_timeout(Duration::from_secs(10))
///     .connect(connector)?;
/// client.login("alice", "secret")?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    config: Config,
}

impl ClientBuilder {
    /// A builder for `host` (a DNS name or an IP literal), with safe defaults: explicit FTPS,
    /// TLS required, Private data, passive mode to the control peer, finite timeouts.
    pub fn new(host: impl Into<String>) -> Self {
        ClientBuilder {
            config: Config {
                host: host.into(),
                port: None,
                mode: Mode::Explicit,
                timeouts: Timeouts::default(),
                policy: Policy::require_tls(),
                mechanism: "TLS".into(),
                pre_auth: Vec::new(),
                protection_before_login: false,
                data_mode: DataConnectionMode::Passive,
                passive_address: PassiveAddress::ControlPeer,
                strict_tls_eof: false,
                reply_limits: ReplyLimits::default(),
                pinned_certificate: None,
                config_error: None,
                prefer_private_data: false,
                host_command: false,
                feat_before_auth: false,
            },
        }
    }

    /// The TCP port; defaults to 21 (explicit) or 990 (implicit).
    pub fn port(mut self, port: u16) -> Self {
        self.config.port = Some(port);
        self
    }

    /// Explicit or implicit FTPS.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.config.mode = mode;
        self
    }

    /// All time limits at once.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.config.timeouts = timeouts;
        self
    }

    /// The limit on opening TCP connections.
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.config.timeouts.connect = limit;
        self
    }

    /// The silence allowed while reading a reply; the whole reply may take twice as long.
    pub fn read_timeout(mut self, limit: Duration) -> Self {
        self.config.timeouts.reply_idle = limit;
        self.config.timeouts.reply_total = limit.saturating_mul(2);
        self
    }

    /// The limit on one blocked write.
    pub fn write_timeout(mut self, limit: Duration) -> Self {
        self.config.timeouts.write = limit;
        self
    }

    /// The limit on each TLS handshake.
    pub fn handshake_timeout(mut self, limit: Duration) -> Self {
        self.config.timeouts.handshake = limit;
        self
    }

    /// The limit on the server connecting back in active mode.
    pub fn data_accept_timeout(mut self, limit: Duration) -> Self {
        self.config.timeouts.data_accept = limit;
        self
    }

    /// The silence allowed on a data connection.
    pub fn data_timeout(mut self, limit: Duration) -> Self {
        self.config.timeouts.data_idle = limit;
        self
    }

    /// Passive (the default) or active data connections.
    pub fn data_connection_mode(mut self, mode: DataConnectionMode) -> Self {
        self.config.data_mode = mode;
        self
    }

    /// The data protection level to set after login: Private (the default) or Clear.
    pub fn data_protection(mut self, level: ProtectionLevel) -> Self {
        self.config.policy = self.config.policy.with_data(level);
        self
    }

    /// The `AUTH` mechanism; `TLS` by default (RFC 4217 §17). Some old servers want `TLS-C` or
    /// `SSL`.
    pub fn tls_auth_mechanism(mut self, mechanism: impl Into<String>) -> Self {
        self.config.mechanism = mechanism.into();
        self
    }

    /// A command to send in the clear before `AUTH` (RFC 4217 §10.3 lets users tune the
    /// timing). `USER`, `PASS` and `ACCT` are refused.
    pub fn pre_auth_command(mut self, line: impl AsRef<[u8]>) -> Self {
        match Command::parse_raw(line.as_ref()) {
            Ok(Command::User(_) | Command::Pass(_) | Command::Acct(_)) => {
                let verb = String::from_utf8_lossy(line.as_ref())
                    .split(' ')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                self.config.config_error = Some(CommandError::CredentialsBeforeTls { verb });
            }
            Ok(command) => self.config.pre_auth.push(command),
            Err(e) => self.config.config_error = Some(e),
        }
        self
    }

    /// Sends `PBSZ 0` and `PROT` before `USER` instead of after login. A `530` to them defers
    /// them until after login (SCENARIOS PBSZ-03).
    pub fn protection_before_login(mut self, yes: bool) -> Self {
        self.config.protection_before_login = yes;
        self
    }

    /// Treats a download whose TLS stream ended without close_notify as truncated even when
    /// the server's final reply is positive (SCENARIOS decision D4). Without it, such a
    /// download is `Ok` with [`clean_tls_shutdown`](crate::TransferOutcome::clean_tls_shutdown)
    /// `Some(false)`, unless the `150` reply of a whole binary `RETR` announced more bytes
    /// (`(N bytes)`, as vsftpd and ProFTPD write it) than arrived: that is
    /// [`Error::Truncated`](crate::Error::Truncated) either way.
    pub fn strict_tls_eof(mut self, yes: bool) -> Self {
        self.config.strict_tls_eof = yes;
        self
    }

    /// Limits on reply lines, line count and reply size.
    pub fn reply_limits(mut self, limits: ReplyLimits) -> Self {
        self.config.reply_limits = limits;
        self
    }

    /// Sends `HOST name` ([RFC 7151](https://www.rfc-editor.org/rfc/rfc7151)) before the
    /// login, naming the virtual host: the host given to [`ClientBuilder::new`] (an IPv6
    /// literal in brackets, never a port), the same name used for SNI and for verifying the
    /// certificate.
    ///
    /// With a DNS name, which is sent as SNI, `HOST` goes inside TLS right after `AUTH TLS`;
    /// with an IP literal (no SNI) it goes before `AUTH TLS`, in the clear (RFC 7151 §3.2.2 and
    /// §4, SCENARIOS decision D15). In implicit mode it follows the greeting. A `500` or `502`
    /// (HOST unknown to the server) is ignored; any other refusal fails the connection.
    pub fn host_command(mut self, yes: bool) -> Self {
        self.config.host_command = yes;
        self
    }

    /// Sends `FEAT` after the greeting, before `AUTH TLS` (in the clear in explicit mode; FEAT
    /// carries nothing secret), and keeps the answer for [`Client::features`]. A refusal only
    /// means the features are unknown; `AUTH TLS` is sent whatever the list says (RFC 2389
    /// §3.2, RFC 4217 §6).
    pub fn feat_before_auth(mut self, yes: bool) -> Self {
        self.config.feat_before_auth = yes;
        self
    }

    /// Accepts the control connection only if the server presents exactly this end-entity
    /// certificate (DER), on top of the normal verification. On a mismatch the client sends a
    /// protected `QUIT` and closes (RFC 4217 §10.3). Needs a backend that reports the peer
    /// certificate.
    pub fn tls_pin_peer_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.config.pinned_certificate = Some(der.into());
        self
    }

    /// Connects to the address in a 227 reply instead of the control connection's peer.
    ///
    /// # Warning
    ///
    /// A hostile server can then make the client connect anywhere (RFC 2577 §3).
    pub fn danger_use_pasv_address(mut self) -> Self {
        self.config.passive_address = PassiveAddress::DangerFromReply;
        self
    }

    /// Tries `AUTH TLS`, and goes on in plain FTP if the server refuses it.
    ///
    /// # Warning
    ///
    /// User name and password then cross the network in the clear.
    pub fn danger_tls_if_available(mut self) -> Self {
        self.config.policy = self
            .config
            .policy
            .with_tls(TlsPolicy::DangerFallbackToPlain);
        self
    }

    /// Plain FTP without any TLS.
    ///
    /// # Warning
    ///
    /// User name, password and data cross the network in the clear.
    pub fn danger_plain_ftp(mut self) -> Self {
        self.config.policy = self
            .config
            .policy
            .with_tls(TlsPolicy::DangerPlain)
            .with_data(ProtectionLevel::Clear);
        self
    }

    /// Connects, reads the greeting and secures the control connection through `connector`
    /// (unless plain FTP was chosen). Log in next with [`Client::login`].
    pub fn connect<C: SecureConnection>(self, connector: C) -> Result<Client<C>> {
        if let Some(e) = self.config.config_error {
            return Err(Error::InvalidArgument(e));
        }
        self.config.timeouts.check()?;
        if self.config.mode == Mode::Implicit && self.config.policy.tls != TlsPolicy::Required {
            return Err(Error::InvalidConfig(
                "implicit ftps always uses tls: the plain-ftp options do not apply".into(),
            ));
        }
        Client::connect_with(self.config, connector)
    }

    /// Asks for Private data after login, but goes on with Clear data connections if the
    /// server refuses `PROT P` (SCENARIOS PROT-04, "prefer Private"). The login then succeeds
    /// and [`Client::data_protection`] reports [`ProtectionLevel::Clear`]; a warning is
    /// logged.
    ///
    /// # Warning
    ///
    /// File contents and listings may then cross the network in the clear.
    pub fn danger_prefer_private_data(mut self) -> Self {
        self.config.prefer_private_data = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // SCENARIOS IMPL-01: 990 in implicit mode, 21 in explicit mode.
    #[test]
    fn default_ports() {
        assert_eq!(Mode::Explicit.default_port(), 21);
        assert_eq!(Mode::Implicit.default_port(), 990);
        assert_eq!(Mode::default().default_port(), 21);
    }

    #[test]
    fn host_and_feat_are_off_by_default() {
        let builder = ClientBuilder::new("ftp.example.com");
        assert!(!builder.config.host_command && !builder.config.feat_before_auth);
        let builder = builder.host_command(true).feat_before_auth(true);
        assert!(builder.config.host_command && builder.config.feat_before_auth);
    }
}
