//! What a connection's TLS session must be, checked on the client's session info: the
//! protocol version a trial pinned the server to, and resumption of the control connection's
//! session on the data connections (RFC 4217 §10.2, which servers such as vsftpd and ProFTPD
//! require).
//!
//! The `*_if_reported` checks accept a backend that does not report the value (native-tls
//! reports no version or resumption on some platforms) and fail only on a wrong one.

use ftps_core::{Client, SecureConnection, TransferOutcome};

use crate::checks::ensure;

/// The data connection of `what` resumed the control connection's TLS session.
pub fn resumed(outcome: &TransferOutcome, what: &str) -> Result<(), String> {
    let resumed = outcome.data_session().and_then(|s| s.resumed());
    ensure(resumed == Some(true), || {
        format!("{what}: data connection not resumed ({resumed:?})")
    })
}

/// The data connection of `what` was inside TLS of `version` (`TLSv1.3`, `TLSv1.2`), and
/// resumed the control connection's session.
pub fn protected_and_resumed(
    outcome: &TransferOutcome,
    version: &str,
    what: &str,
) -> Result<(), String> {
    let session = outcome.data_session();
    let resumed = session.and_then(|s| s.resumed());
    let negotiated = session.and_then(|s| s.protocol_version());
    ensure(resumed == Some(true) && negotiated == Some(version), || {
        format!(
            "{what}: want a data connection protected with {version} and resumed, got \
             version {negotiated:?}, cipher suite {:?}, resumed {resumed:?}",
            session.and_then(|s| s.cipher_suite())
        )
    })
}

/// The data connection of `what` negotiated `version`, when the backend reports a version.
pub fn version_if_reported(
    outcome: &TransferOutcome,
    version: &str,
    what: &str,
) -> Result<(), String> {
    let negotiated = outcome.data_session().and_then(|s| s.protocol_version());
    version_matches(negotiated, version, &format!("{what}: data connection"))
}

/// The data connection of `what` resumed the control connection's session, when the backend
/// reports whether it resumed.
pub fn resumed_if_reported(outcome: &TransferOutcome, what: &str) -> Result<(), String> {
    match outcome.data_session().and_then(|s| s.resumed()) {
        Some(resumed) => ensure(resumed, || {
            format!("{what}: the data connection did not resume the session")
        }),
        None => Ok(()),
    }
}

/// The control connection negotiated `version`.
pub fn control_version<C: SecureConnection>(
    client: &Client<C>,
    version: &str,
) -> Result<(), String> {
    let negotiated = control_protocol(client);
    ensure(negotiated.as_deref() == Some(version), || {
        format!("control connection negotiated {negotiated:?}, want {version}")
    })
}

/// The control connection negotiated `version`, when the backend reports a version.
pub fn control_version_if_reported<C: SecureConnection>(
    client: &Client<C>,
    version: &str,
) -> Result<(), String> {
    let negotiated = control_protocol(client);
    version_matches(negotiated.as_deref(), version, "control connection")
}

/// The TLS version of the control connection, if the backend reports it.
fn control_protocol<C: SecureConnection>(client: &Client<C>) -> Option<String> {
    client
        .control_session_info()
        .and_then(|s| s.protocol_version().map(str::to_owned))
}

/// `negotiated` (of `what`), when reported, is `version`.
fn version_matches(negotiated: Option<&str>, version: &str, what: &str) -> Result<(), String> {
    match negotiated {
        Some(v) => ensure(v == version, || {
            format!("{what} negotiated {v}, want {version}")
        }),
        None => Ok(()),
    }
}
