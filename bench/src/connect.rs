//! The connection: the chosen backend's connector (pinned with the conformance runner's
//! [`connectors`]), one control connection, one login, the job, `QUIT`.

use std::fmt;

use ftps_conformance::remote::{connectors, RemoteTarget};
use ftps_core::{Client, ClientBuilder, Mode, SecureConnection};

use crate::ops::{self, Job, Tally};

/// A TLS backend of ftps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Backend {
    /// ftps-rustls (ring provider).
    Rustls,
    /// ftps-openssl (the system OpenSSL).
    Openssl,
    /// ftps-native (native-tls).
    NativeTls,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Rustls => "rustls",
            Backend::Openssl => "openssl",
            Backend::NativeTls => "native-tls",
        })
    }
}

/// The result of one run: what was negotiated on the control connection and the tally.
#[derive(Clone, Debug)]
pub(crate) struct Run {
    /// The backend's own name ([`SecureConnection::name`]).
    pub(crate) backend: String,
    /// The control session's protocol version, such as `TLSv1.3`.
    pub(crate) tls: Option<String>,
    /// The control session's cipher suite.
    pub(crate) cipher: Option<String>,
    /// What the transfers added up to.
    pub(crate) tally: Tally,
}

/// `error` and its chain of sources, as `error: source: source`.
pub(crate) fn describe(error: &ftps_core::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Work that needs a connector of whichever backend was chosen (the connector's type is only
/// known inside [`with_backend`]).
pub(crate) trait WithConnector {
    /// What the work produces.
    type Output;
    /// Does the work with `connector`.
    fn run<C: SecureConnection + Clone>(self, connector: C) -> Result<Self::Output, String>;
}

/// Builds `backend`'s connector for `target` (its CA and version pin) and runs `work` with it.
pub(crate) fn with_backend<W: WithConnector>(
    backend: Backend,
    target: &RemoteTarget,
    work: W,
) -> Result<W::Output, String> {
    let ca = target.ca_der.as_deref();
    match backend {
        #[cfg(feature = "rustls")]
        Backend::Rustls => work.run(connectors::rustls(ca, target.tls)?),
        #[cfg(feature = "openssl")]
        Backend::Openssl => work.run(connectors::openssl(ca, target.tls)?),
        #[cfg(feature = "native-tls")]
        Backend::NativeTls => work.run(connectors::native_tls(ca, target.tls)?),
        #[allow(unreachable_patterns)]
        other => Err(format!("the {other} backend is not compiled in")),
    }
}

/// Connects to `target` with `backend`, logs in once, runs `job` and says `QUIT`.
pub(crate) fn run(backend: Backend, target: &RemoteTarget, job: &Job) -> Result<Run, String> {
    with_backend(backend, target, OneSession { target, job })
}

/// One control connection for one [`Job`].
struct OneSession<'a> {
    target: &'a RemoteTarget,
    job: &'a Job,
}

impl WithConnector for OneSession<'_> {
    type Output = Run;

    fn run<C: SecureConnection + Clone>(self, connector: C) -> Result<Run, String> {
        session(self.target, connector, self.job)
    }
}

/// A client connected to `target` with `connector` (explicit or implicit FTPS as the target
/// says) and logged in.
pub(crate) fn logged_in<C: SecureConnection>(
    target: &RemoteTarget,
    connector: C,
) -> Result<Client<C>, String> {
    let mode = if target.implicit {
        Mode::Implicit
    } else {
        Mode::Explicit
    };
    let address = format!("{}:{}", target.host, target.port);
    let mut client = ClientBuilder::new(target.host.clone())
        .port(target.port)
        .mode(mode)
        .connect(connector)
        .map_err(|e| format!("cannot connect to {address}: {}", describe(&e)))?;
    client
        .login(&target.user, &target.password)
        .map_err(|e| format!("cannot log in as {}: {}", target.user, describe(&e)))?;
    Ok(client)
}

/// One control connection with `connector`: log in, run `job`, `QUIT`.
fn session<C: SecureConnection>(
    target: &RemoteTarget,
    connector: C,
    job: &Job,
) -> Result<Run, String> {
    let mut client = logged_in(target, connector)?;
    let info = client.control_session_info();
    let tally = ops::run(&mut client, job)?;
    let backend = client.backend_name().to_owned();
    client
        .quit()
        .map_err(|e| format!("QUIT: {}", describe(&e)))?;
    Ok(Run {
        backend,
        tls: info
            .as_ref()
            .and_then(|i| i.protocol_version().map(str::to_owned)),
        cipher: info
            .as_ref()
            .and_then(|i| i.cipher_suite().map(str::to_owned)),
        tally,
    })
}
