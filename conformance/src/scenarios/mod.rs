//! The scenario registry: every implemented scenario of SCENARIOS.md, in catalogue order.
//!
//! Besides the registry this module holds what the groups share on the client side: the
//! scripted run ([`scripted`]), the TLS-version loops of SCENARIOS §1.4, and client helpers
//! (connect and log in, download and compare, typed error checks). The server's script steps
//! are in [`steps`], the checks on what the server recorded in [`transcript`].

use ftps_core::{
    Capability, Client, ClientBuilder, Error, ProtectionLevel, SecureConnection, TransferOutcome,
};

use crate::checks::{
    a1_nothing_sensitive, describe, ensure, ensure_code, ensure_eq, ensure_usable, err,
    no_prot_s_or_e, ok, Check,
};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, Record, ServerOptions, TestServer, TlsVersion};

mod abor;
mod auth;
mod bad;
mod ccc;
mod cert;
mod close;
mod cmd;
mod data;
mod ext;
mod implicit;
mod pbsz;
mod pol;
mod prot;
mod quit;
mod rein;
mod reply;
mod rest;
mod sess;
mod steps;
mod transcript;

/// Every implemented scenario, for backend `C`, in catalogue order.
pub fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    let mut all = Vec::new();
    all.extend(auth::scenarios::<C>());
    all.extend(pbsz::scenarios::<C>());
    all.extend(prot::scenarios::<C>());
    all.extend(pol::scenarios::<C>());
    all.extend(data::scenarios::<C>());
    all.extend(sess::scenarios::<C>());
    all.extend(close::scenarios::<C>());
    all.extend(ccc::scenarios::<C>());
    all.extend(rein::scenarios::<C>());
    all.extend(cert::scenarios::<C>());
    all.extend(implicit::scenarios::<C>());
    all.extend(reply::scenarios::<C>());
    all.extend(abor::scenarios::<C>());
    all.extend(rest::scenarios::<C>());
    all.extend(quit::scenarios::<C>());
    all.extend(ext::scenarios::<C>());
    all.extend(cmd::scenarios::<C>());
    all.extend(bad::scenarios::<C>());
    all
}

// ---- the scripted run ------------------------------------------------------------------------

/// Runs `script` on a fresh server, the `client` part against it, then the checks every
/// scenario makes (A1 under a TLS-required policy, PROT-03) and the scenario's own `record`
/// checks on what the server saw.
pub(crate) fn scripted<F>(
    options: ServerOptions,
    script: F,
    client: impl FnOnce(&TestServer) -> Check,
    record: impl FnOnce(&Record) -> Check,
) -> Check
where
    F: FnOnce(&mut Conn) -> Result<(), String> + Send + 'static,
{
    scripted_with_policy(true, options, script, client, record)
}

/// Like [`scripted`], for scenarios whose user opted out of TLS (no A1).
pub(crate) fn scripted_plain<F>(
    options: ServerOptions,
    script: F,
    client: impl FnOnce(&TestServer) -> Check,
    record: impl FnOnce(&Record) -> Check,
) -> Check
where
    F: FnOnce(&mut Conn) -> Result<(), String> + Send + 'static,
{
    scripted_with_policy(false, options, script, client, record)
}

/// [`scripted`] and [`scripted_plain`]: A1 is checked only when `tls_required`.
fn scripted_with_policy<F>(
    tls_required: bool,
    options: ServerOptions,
    script: F,
    client: impl FnOnce(&TestServer) -> Check,
    record: impl FnOnce(&Record) -> Check,
) -> Check
where
    F: FnOnce(&mut Conn) -> Result<(), String> + Send + 'static,
{
    let server = TestServer::start(options, script);
    let client_result = client(&server);
    match (client_result, server.finish()) {
        (Err(c), Err(s)) => Err(format!("{c} (server: {s})")),
        (Err(c), Ok(_)) => Err(c),
        (Ok(()), Err(s)) => Err(format!("server: {s}")),
        (Ok(()), Ok(rec)) => {
            if tls_required {
                a1_nothing_sensitive(&rec)?;
            }
            no_prot_s_or_e(&rec)?;
            record(&rec)
        }
    }
}

// ---- TLS versions (SCENARIOS §1.4) -----------------------------------------------------------

/// Server options pinned to `version`, otherwise the defaults.
pub(crate) fn pinned(version: TlsVersion) -> ServerOptions {
    ServerOptions {
        tls_version: version,
        ..ServerOptions::default()
    }
}

/// Runs `run` once per TLS version the backend declares (1.2, and 1.3 with
/// [`Capability::Tls13`]), prefixing a failure with the version.
pub(crate) fn each_version<C: SecureConnection>(
    h: &Harness<C>,
    mut run: impl FnMut(TlsVersion) -> Check,
) -> Check {
    for version in versions(h) {
        run(version).map_err(|e| format!("{version:?}: {e}"))?;
    }
    Ok(())
}

/// [`each_version`], handing `run` the server options pinned to the version.
pub(crate) fn each_pinned<C: SecureConnection>(
    h: &Harness<C>,
    mut run: impl FnMut(ServerOptions) -> Check,
) -> Check {
    each_version(h, |version| run(pinned(version)))
}

/// The TLS versions a TLS-dependent scenario runs with when it honours the backend's
/// declaration: 1.2, and 1.3 when the backend declares [`Capability::Tls13`].
fn versions<C: SecureConnection>(h: &Harness<C>) -> Vec<TlsVersion> {
    let mut all = vec![TlsVersion::Tls12];
    if h.capabilities().supports(Capability::Tls13) {
        all.push(TlsVersion::Tls13);
    }
    all
}

/// The name of a version, for failure reasons.
fn version_name(v: TlsVersion) -> &'static str {
    match v {
        TlsVersion::Tls12 => "TLS 1.2",
        TlsVersion::Tls13 => "TLS 1.3",
        TlsVersion::Any => "TLS 1.2/1.3",
    }
}

/// Runs `one` for each of [`versions`], naming the version in a failure.
pub(crate) fn each_supported_version<C: SecureConnection>(
    h: &Harness<C>,
    mut one: impl FnMut(TlsVersion) -> Check,
) -> Check {
    for version in versions(h) {
        one(version).map_err(|e| format!("{}: {e}", version_name(version)))?;
    }
    Ok(())
}

// ---- content ---------------------------------------------------------------------------------

/// The short file the PBSZ, PROT and POL scripts serve and expect.
pub(crate) const CONTENT: &[u8] = b"The quick brown fox\r\njumps over the lazy dog.\r\n";

/// `len` bytes of a pattern that differs with `seed`, so a shifted or mixed-up file shows.
pub(crate) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 8) as u8))
        .collect()
}

// ---- client helpers --------------------------------------------------------------------------

/// Connects with a builder for `server` that `configure` adjusts (`what` names the step in a
/// failure).
pub(crate) fn connect_with<C: SecureConnection>(
    h: &Harness<C>,
    server: &TestServer,
    configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    what: &str,
) -> Result<Client<C>, String> {
    ok(configure(h.builder(server)).connect(h.connector()), what)
}

/// [`connect_with`], then the login as `alice`/`secret`.
pub(crate) fn connect_login_with<C: SecureConnection>(
    h: &Harness<C>,
    server: &TestServer,
    configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    what: &str,
) -> Result<Client<C>, String> {
    let mut client = connect_with(h, server, configure, what)?;
    ok(client.login("alice", "secret"), "login")?;
    Ok(client)
}

/// Connects in plain FTP: the user opted out of TLS.
pub(crate) fn connect_plain<C: SecureConnection>(
    h: &Harness<C>,
    server: &TestServer,
) -> Result<Client<C>, String> {
    connect_with(h, server, |b| b.danger_plain_ftp(), "connect in plain ftp")
}

/// Connects, and the login (with the PBSZ and PROT it sends) must fail with a usable
/// `Reply{code}` (`what` names the call); the data level stays Clear; then the closing NOOP.
pub(crate) fn login_refused<C: SecureConnection>(
    h: &Harness<C>,
    server: &TestServer,
    what: &str,
    code: u16,
) -> Check {
    let mut client = ok(h.connect(server), "connect")?;
    let e = err(client.login("alice", "secret"), what)?;
    ensure_usable_reply(&e, code)?;
    ensure_level(&client, ProtectionLevel::Clear, "data level")?;
    final_noop(&mut client)
}

/// The closing `NOOP` of A3: it must succeed.
pub(crate) fn final_noop<C: SecureConnection>(client: &mut Client<C>) -> Check {
    ok(client.noop(), "NOOP").map(drop)
}

/// Downloads `f` and checks it equals [`CONTENT`] (`what` names the step in a failure).
pub(crate) fn download_content<C: SecureConnection>(client: &mut Client<C>, what: &str) -> Check {
    let mut file = Vec::new();
    ok(client.download("f", &mut file), what)?;
    ensure_eq(file.as_slice(), CONTENT, what)
}

/// Downloads `path`, checks the bytes equal `want`, and returns the outcome for further checks.
pub(crate) fn download_matching<C: SecureConnection>(
    client: &mut Client<C>,
    path: &str,
    want: &[u8],
) -> Result<TransferOutcome, String> {
    let mut file = Vec::new();
    let outcome = ok(client.download(path, &mut file), &format!("RETR {path}"))?;
    ensure(file == want, || {
        format!(
            "RETR {path}: got {} bytes, expected {} (equal: false)",
            file.len(),
            want.len()
        )
    })?;
    Ok(outcome)
}

/// [`download_matching`], and the outcome counts exactly the bytes of `want`.
pub(crate) fn download_eq<C: SecureConnection>(
    client: &mut Client<C>,
    path: &str,
    want: &[u8],
) -> Check {
    let outcome = download_matching(client, path, want)?;
    ensure_eq(outcome.bytes(), want.len() as u64, "bytes in the outcome")
}

/// "Connect, login, download, compare": connects, logs in, [`download_eq`] of `path`, then
/// the closing NOOP (A3).
pub(crate) fn login_download_noop<C: SecureConnection>(
    h: &Harness<C>,
    server: &TestServer,
    path: &str,
    want: &[u8],
) -> Check {
    let mut client = ok(h.connect_login(server), "connect and login")?;
    download_eq(&mut client, path, want)?;
    final_noop(&mut client)
}

/// Downloads `path`, which must fail (`what` names the call); returns the error and the
/// bytes the caller was given.
pub(crate) fn download_fails<C: SecureConnection>(
    client: &mut Client<C>,
    path: &str,
    what: &str,
) -> Result<(Error, Vec<u8>), String> {
    let mut got = Vec::new();
    let e = err(client.download(path, &mut got), what)?;
    Ok((e, got))
}

/// Connects, logs in, then downloads `path`, which must fail (`what` names the call); returns
/// the client, the error and the bytes the caller was given.
pub(crate) fn login_failed_download<C: SecureConnection>(
    h: &Harness<C>,
    server: &TestServer,
    path: &str,
    what: &str,
) -> Result<(Client<C>, Error, Vec<u8>), String> {
    let mut client = ok(h.connect_login(server), "connect and login")?;
    let (e, got) = download_fails(&mut client, path, what)?;
    Ok((client, e, got))
}

/// The client reports the data protection level `level` (`what` names the moment).
pub(crate) fn ensure_level<C: SecureConnection>(
    client: &Client<C>,
    level: ProtectionLevel,
    what: &str,
) -> Check {
    ensure_eq(client.data_protection(), level, what)
}

/// The transfer reports `expected` as its `clean_tls_shutdown` (`None`: no TLS on its data
/// connection).
pub(crate) fn ensure_shutdown(outcome: &TransferOutcome, expected: Option<bool>) -> Check {
    ensure_eq(outcome.clean_tls_shutdown(), expected, "clean_tls_shutdown")
}

/// Fails unless `fits` (the caller's `matches!` on `e`), naming the expected `kind`.
pub(crate) fn ensure_kind(e: &Error, fits: bool, kind: &str) -> Check {
    ensure(fits, || {
        format!("expected {kind}, got {e:?} ({})", describe(e))
    })
}

/// `e` is of the expected `kind` (`fits`), carries the reply `code`, and leaves the
/// connection usable.
pub(crate) fn ensure_usable_error(e: &Error, fits: bool, kind: &str, code: u16) -> Check {
    ensure_kind(e, fits, kind)?;
    ensure_code(e, code)?;
    ensure_usable(e, true)
}

/// `e` is a [`Error::Reply`] with `code` that leaves the connection usable.
pub(crate) fn ensure_usable_reply(e: &Error, code: u16) -> Check {
    ensure_usable_error(e, matches!(e, Error::Reply { .. }), "a Reply error", code)
}

/// A3 for "unusable": the next call fails with [`Error::Unusable`].
pub(crate) fn next_call_unusable<C: SecureConnection>(client: &mut Client<C>) -> Check {
    let later = err(client.noop(), "NOOP on an unusable connection")?;
    ensure(matches!(later, Error::Unusable), || {
        format!("a later call gave {later:?}, expected Unusable")
    })
}
