//! What every check shares: the target, the backend, connecting and logging in, scratch
//! directories that are removed afterwards, and the mapping of client errors to outcomes.

use std::sync::Arc;
use std::time::Duration;

use ftps_core::path::FtpPath;
use ftps_core::{
    Capability, Client, ClientBuilder, DataConnectionMode, Error, Mode, SecureConnection,
    TlsErrorKind, TransferOutcome,
};

use super::{RemoteTarget, TlsVersion};
use crate::scenario::Outcome;

/// The time limit of every wait of the client (connect, reply, handshake, data).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// `Ok` when the step held; otherwise the outcome the check ends with.
pub(super) type Step<T = ()> = Result<T, Outcome>;

/// A failed step.
pub(super) fn fail<T>(reason: impl Into<String>) -> Step<T> {
    Err(Outcome::Fail(reason.into()))
}

/// A step the server cannot exercise.
pub(super) fn not_applicable<T>(reason: impl Into<String>) -> Step<T> {
    Err(Outcome::NotApplicable(reason.into()))
}

/// Fails with `reason` unless `condition` holds.
pub(super) fn ensure(condition: bool, reason: impl FnOnce() -> String) -> Step {
    if condition {
        Ok(())
    } else {
        fail(reason())
    }
}

/// The error and its chain of sources, on one line.
pub(super) fn describe(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// One backend against the target.
pub(super) struct Ctx<C> {
    pub(super) target: Arc<RemoteTarget>,
    connector: C,
    untrusting: C,
    tag: String,
}

impl<C: SecureConnection + Clone> Ctx<C> {
    pub(super) fn new(target: Arc<RemoteTarget>, connector: C, untrusting: C) -> Ctx<C> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tag = format!("{}-{}-{nanos:x}", connector.name(), std::process::id());
        Ctx {
            target,
            connector,
            untrusting,
            tag,
        }
    }

    pub(super) fn supports(&self, capability: Capability) -> bool {
        self.connector.capabilities().supports(capability)
    }

    /// Whether the backend resumes sessions and says so (resumption checks need both).
    pub(super) fn reports_resumption(&self) -> Step {
        for capability in [Capability::Resumption, Capability::Describe] {
            if !self.supports(capability) {
                return Err(Outcome::Unsupported(capability));
            }
        }
        Ok(())
    }

    pub(super) fn builder(&self) -> ClientBuilder {
        let mode = if self.target.implicit {
            Mode::Implicit
        } else {
            Mode::Explicit
        };
        ClientBuilder::new(self.target.host.clone())
            .port(self.target.port)
            .mode(mode)
            .connect_timeout(CLIENT_TIMEOUT)
            .read_timeout(CLIENT_TIMEOUT)
            .write_timeout(CLIENT_TIMEOUT)
            .handshake_timeout(CLIENT_TIMEOUT)
            .data_accept_timeout(CLIENT_TIMEOUT)
            .data_timeout(CLIENT_TIMEOUT)
    }

    /// Connects (passive data connections) and logs in.
    pub(super) fn connect(&self) -> Step<Client<C>> {
        self.connect_with(self.builder())
    }

    /// Connects with data connections opened in `mode` and logs in.
    pub(super) fn connect_in(&self, mode: DataConnectionMode) -> Step<Client<C>> {
        self.connect_with(self.builder().data_connection_mode(mode))
    }

    pub(super) fn connect_with(&self, builder: ClientBuilder) -> Step<Client<C>> {
        let mut client = builder
            .connect(self.connector.clone())
            .map_err(|e| self.err("connect", e))?;
        client
            .login(&self.target.user, &self.target.password)
            .map_err(|e| self.err("login", e))?;
        Ok(client)
    }

    /// Connects with the backend that trusts an unrelated CA (no login).
    pub(super) fn connect_untrusting(&self) -> Result<Client<C>, Error> {
        self.builder().connect(self.untrusting.clone())
    }

    /// The outcome for a client error: the declared limitation of a backend that cannot
    /// resume sessions when the server refused a data connection for that reason (or, under
    /// TLS 1.3, of one that offers each session once, when the server issued no new ticket);
    /// otherwise a failure naming `what`.
    pub(super) fn err(&self, what: &str, e: Error) -> Outcome {
        if is_resumption_refusal(&e) {
            let missing = if !self.supports(Capability::Resumption) {
                Some(Capability::Resumption)
            } else if self.target.tls != Some(TlsVersion::Tls12)
                && !self.supports(Capability::Tls13SessionReuse)
            {
                Some(Capability::Tls13SessionReuse)
            } else {
                None
            };
            if let Some(capability) = missing {
                log::info!(
                    "{what}: the server refused a data connection that did not resume ({}); \
                     {} lacks {capability}",
                    describe(&e),
                    self.connector.name()
                );
                return Outcome::Unsupported(capability);
            }
        }
        Outcome::Fail(format!("{what}: {}", describe(&e)))
    }

    /// A client error for which `usable` replies are "not applicable" (the server lacks the
    /// feature): `500`/`502` and [`Error::Unsupported`] from the core.
    pub(super) fn err_or_na(&self, what: &str, e: Error) -> Outcome {
        match &e {
            Error::Unsupported(why) => Outcome::NotApplicable(why.clone()),
            Error::Reply { reply, command } if matches!(reply.code(), 500 | 502) => {
                Outcome::NotApplicable(format!("the server does not implement {command} ({reply})"))
            }
            _ => self.err(what, e),
        }
    }

    /// Runs `body` on a fresh login inside a new scratch directory of the login's home, then
    /// deletes the files `body` registered and the directory (reconnecting if the connection
    /// did not survive) and sends QUIT. A cleanup failure fails a check that passed.
    pub(super) fn in_scratch(
        &self,
        id: &str,
        body: impl FnOnce(&mut Client<C>, &mut Scratch) -> Step,
    ) -> Step {
        self.in_scratch_with(id, self.connect(), body)
    }

    /// [`Ctx::in_scratch`] on a client connected (and logged in) by the caller.
    pub(super) fn in_scratch_with(
        &self,
        id: &str,
        connected: Step<Client<C>>,
        body: impl FnOnce(&mut Client<C>, &mut Scratch) -> Step,
    ) -> Step {
        let mut client = connected?;
        let home = client.pwd().map_err(|e| self.err("PWD", e))?;
        let dir = format!("ftps-{}-{}", id.to_ascii_lowercase(), self.tag);
        client.mkdir(&dir).map_err(|e| self.err("MKD", e))?;
        let mut scratch = Scratch {
            home,
            dir,
            files: Vec::new(),
        };
        let result = match client.cwd(&scratch.dir) {
            Ok(_) => body(&mut client, &mut scratch),
            Err(e) => Err(self.err("CWD into the scratch directory", e)),
        };
        let cleanup = self.clean(client, &scratch);
        match (result, cleanup) {
            (Ok(()), Err(why)) => fail(format!("cleanup: {why}")),
            (result, Err(why)) => {
                log::warn!("cleanup of {} failed: {why}", scratch.dir);
                result
            }
            (result, Ok(())) => result,
        }
    }

    /// Removes the scratch directory: on `client` while it works, otherwise (the server may
    /// have ended the session after a refused transfer) on a new connection.
    fn clean(&self, client: Client<C>, scratch: &Scratch) -> Result<(), String> {
        let client = if client.is_usable() {
            match clean_on(client, scratch) {
                Cleaned::Done(result) => return result,
                Cleaned::Lost(why) => log::debug!("cleanup reconnects: {why}"),
            }
            self.connect()
        } else {
            self.connect()
        };
        let client = client.map_err(|o| format!("reconnect: {}", o.detail()))?;
        match clean_on(client, scratch) {
            Cleaned::Done(result) => result,
            Cleaned::Lost(why) => Err(why),
        }
    }
}

enum Cleaned {
    /// The cleanup ran (with this result).
    Done(Result<(), String>),
    /// The connection did not work: try again on a new one.
    Lost(String),
}

fn clean_on<C: SecureConnection>(mut client: Client<C>, scratch: &Scratch) -> Cleaned {
    if let Err(e) = client.cwd(scratch.home.as_bytes()) {
        let why = format!("CWD home: {}", describe(&e));
        return if e.connection_usable() {
            Cleaned::Done(Err(why))
        } else {
            Cleaned::Lost(why)
        };
    }
    let mut problems = Vec::new();
    for file in &scratch.files {
        let path = scratch.path(file);
        match client.delete(&path) {
            Ok(_) => {}
            // Never created (the transfer was refused before the server opened it).
            Err(Error::Reply { reply, .. }) if reply.code() == 550 => {}
            Err(e) => problems.push(format!("DELE {path}: {}", describe(&e))),
        }
    }
    if let Err(e) = client.rmdir(&scratch.dir) {
        problems.push(format!("RMD {}: {}", scratch.dir, describe(&e)));
    }
    if let Err(e) = client.quit() {
        problems.push(format!("QUIT: {}", describe(&e)));
    }
    Cleaned::Done(if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    })
}

/// A scratch directory under the login's home, and the files created in it.
pub(super) struct Scratch {
    home: FtpPath,
    dir: String,
    files: Vec<String>,
}

impl Scratch {
    /// Registers `name` for deletion at the end; call it before the transfer that creates it.
    pub(super) fn file(&mut self, name: &str) -> String {
        if !self.files.iter().any(|f| f == name) {
            self.files.push(name.to_owned());
        }
        name.to_owned()
    }

    fn path(&self, file: &str) -> String {
        format!("{}/{file}", self.dir)
    }
}

/// Whether `e` is a server's refusal of a data connection that did not resume the control
/// session: the backend's typed error, or the `522` that follows it.
pub(super) fn is_resumption_refusal(e: &Error) -> bool {
    match e {
        Error::Tls { source, reply, .. } => {
            source.kind() == TlsErrorKind::ResumptionRefused
                || reply.as_ref().is_some_and(|r| r.code() == 522)
        }
        _ => false,
    }
}

/// Fails unless the data connection of `outcome` resumed the control session.
pub(super) fn resumed(outcome: &TransferOutcome, what: &str) -> Step {
    let resumed = outcome.data_session().and_then(|s| s.resumed());
    ensure(resumed == Some(true), || {
        format!("{what}: the data connection did not resume the control session ({resumed:?})")
    })
}
