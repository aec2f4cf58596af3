//! Tier 3: the backends against a real ProFTPD 1.3.8 (mod_tls) on loopback, started by
//! `scripts/proftpd/start.sh` with `TLSRequired auth+data` (TLS for login and data, CCC
//! allowed after login) and mod_tls's default requirement that data connections resume the
//! control connection's session.
//!
//! The backends that can clear the control connection (rustls, openssl) upload a file, send
//! `CCC` (RFC 4217 §6), then keep working on the cleared connection: `PWD`, `CWD`, `LIST`, the
//! file downloaded back and compared by SHA-256, and more round trips, every data connection
//! still protected and resumed (checked on the client's session info and in ProFTPD's TLS
//! log). With `TLSRequired on` ProFTPD refuses `CCC` with `534` and the session stays
//! protected and usable. native-tls, which cannot resume, gets a typed error on its first
//! transfer. Implicit FTPS gets one round trip.
//!
//! One declared limitation is tested as such: under TLS 1.3, rustls (single-use tickets) can
//! upload only twice in a row before ProFTPD, which sends no ticket on an upload's data
//! connection, refuses a full data handshake; the client reports it as a typed
//! `ResumptionRefused` error (`425`). TLS 1.2 has no such limit (the trials upload four times).
//!
//! Runs when `FTPS_REAL_SERVERS=1` (after `scripts/install-servers.sh`, which runs
//! `scripts/proftpd/install.sh`); otherwise every trial is reported as ignored.

mod common;

use std::time::{Duration, Instant};

use ftps_conformance::checks::ensure as check;
use ftps_conformance::real::transfer::{self, connect, content, download, same_content, Make};
use ftps_conformance::real::verify::{control_version, protected_and_resumed};
use ftps_conformance::real::{tail, trial, with_server, RealServer};
use ftps_core::session::ControlProtection;
use ftps_core::{Error, Mode, SecureConnection, TlsErrorKind};
use libtest_mimic::Arguments;

#[cfg(feature = "native-tls")]
use common::native;
#[cfg(feature = "openssl")]
use common::openssl;
use common::rustls;

/// The file uploaded before `CCC` and downloaded back after it.
const FIRST_LEN: usize = 384 * 1024;
/// Upload and download round trips on the cleared control connection.
const ROUNDS_AFTER_CCC: usize = 6;
/// Uploads in a row with no download between them.
const UPLOADS_IN_A_ROW: usize = 4;

fn main() -> std::process::ExitCode {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (tls, server_args) in [("tls13", &["--tls13"][..]), ("tls12", &["--tls12"][..])] {
        let version = if tls == "tls13" { "TLSv1.3" } else { "TLSv1.2" };
        // rustls uses each TLS 1.3 ticket once and ProFTPD sends none on an upload's data
        // connection: under TLS 1.3 the rounds after CCC (uploads) would run out of tickets,
        // so rustls gets CCC with downloads only there (see `rustls_tls13_uploads_in_a_row`).
        let rustls_rounds = if tls == "tls13" { 0 } else { ROUNDS_AFTER_CCC };
        trials.push(trial(
            format!("rustls_{tls}_ccc_then_protected_resumed_transfers"),
            move || ccc_trial(server_args, version, rustls, rustls_rounds),
        ));
        #[cfg(feature = "openssl")]
        trials.push(trial(
            format!("openssl_{tls}_ccc_then_protected_resumed_transfers"),
            move || ccc_trial(server_args, version, openssl, ROUNDS_AFTER_CCC),
        ));
        #[cfg(feature = "native-tls")]
        trials.push(trial(
            format!("native_tls_{tls}_fails_clearly_without_session_reuse"),
            move || without_reuse(server_args, native),
        ));
    }
    trials.push(trial(
        "rustls_ccc_refused_with_534_under_tlsrequired_on",
        || ccc_refused(rustls),
    ));
    #[cfg(feature = "openssl")]
    trials.push(trial(
        "openssl_ccc_refused_with_534_under_tlsrequired_on",
        || ccc_refused(openssl),
    ));
    trials.push(trial("rustls_tls12_4_uploads_in_a_row_resumed", || {
        uploads_in_a_row(&["--tls12"], "TLSv1.2", rustls)
    }));
    trials.push(trial(
        "rustls_tls13_third_upload_in_a_row_refused_clearly_single_use_tickets",
        || rustls_tls13_uploads_in_a_row(rustls),
    ));
    #[cfg(feature = "openssl")]
    trials.push(trial("openssl_tls13_4_uploads_in_a_row_resumed", || {
        uploads_in_a_row(&["--tls13"], "TLSv1.3", openssl)
    }));
    trials.push(trial("rustls_implicit_round_trip", || implicit(rustls)));
    #[cfg(feature = "openssl")]
    trials.push(trial("openssl_implicit_round_trip", || implicit(openssl)));
    libtest_mimic::run(&args, trials).exit_code()
}

/// Starts a server, runs `body` against it, and adds the ends of ProFTPD's logs to a failure.
fn with_proftpd(
    server_args: &[&str],
    body: impl FnOnce(&RealServer) -> Result<(), String>,
) -> Result<(), String> {
    with_server("proftpd", server_args, body, |server| {
        format!(
            "--- proftpd protocol log (tail) ---\n{}\n--- proftpd TLS log, mod_tls's \
             decisions (tail) ---\n{}\n--- proftpd log (tail) ---\n{}",
            tail(&server.file("protocol_log"), 30),
            tail(&tls_decisions(&server.file("tls_log")), 30),
            tail(&server.log(), 20),
        )
    })
}

/// Log in, upload, `CCC`, then directory commands, the file back, and more round trips on the
/// cleared control connection, every data connection protected and resumed; `QUIT`.
fn ccc_trial<C: SecureConnection>(
    server_args: &'static [&'static str],
    version: &'static str,
    make: Make<C>,
    rounds_after_ccc: usize,
) -> Result<(), String> {
    with_proftpd(server_args, |server| {
        let mut client = connect(server, make, |b| b)?;
        control_version(&client, version)?;

        // Before CCC: the first file up, inside a protected control connection.
        let first = content(FIRST_LEN, 0x5eed);
        let outcome = transfer::upload(&mut client, "first.bin", &first)?;
        protected_and_resumed(&outcome, version, "STOR first.bin")?;

        let reply = client.ccc().map_err(|e| format!("CCC: {e:?}"))?;
        check(reply.code() == 200, || format!("CCC answered {reply}"))?;
        check(
            client.control_protection() == ControlProtection::Cleared
                && !client.is_control_protected(),
            || {
                format!(
                    "after CCC the control connection is {:?}",
                    client.control_protection()
                )
            },
        )?;

        // After CCC: commands in the clear, data still private and resumed.
        let cwd = client.pwd().map_err(|e| format!("PWD after CCC: {e:?}"))?;
        check(cwd.as_bytes() == b"/", || format!("PWD after CCC: {cwd}"))?;
        let made = client
            .mkdir("cleared")
            .map_err(|e| format!("MKD after CCC: {e:?}"))?;
        check(made.as_bytes().ends_with(b"cleared"), || {
            format!("MKD after CCC made {made}")
        })?;
        let listing = client
            .list(None)
            .map_err(|e| format!("LIST after CCC: {e:?}"))?;
        check(
            listing.iter().any(|l| l.ends_with(" first.bin"))
                && listing.iter().any(|l| l.ends_with(" cleared")),
            || format!("LIST after CCC: {listing:?}"),
        )?;
        let session = client.last_data_session_info().cloned();
        check(
            session.as_ref().and_then(|s| s.resumed()) == Some(true),
            || format!("LIST after CCC: data connection not resumed ({session:?})"),
        )?;

        let (back, outcome) = download(&mut client, "first.bin")?;
        protected_and_resumed(&outcome, version, "RETR first.bin after CCC")?;
        same_content("first.bin after CCC", &back, &first)?;

        client
            .cwd("cleared")
            .map_err(|e| format!("CWD after CCC: {e:?}"))?;
        for i in 0..rounds_after_ccc {
            let body = content(64 * 1024 + i * 40_961, i as u64 + 11);
            transfer::round_trip(
                &mut client,
                &format!("after-ccc-{i}.bin"),
                &body,
                |o, what| protected_and_resumed(o, version, what),
            )?;
        }
        if rounds_after_ccc > 0 {
            let names = client.nlst(None).map_err(|e| format!("NLST: {e:?}"))?;
            check(names.len() == rounds_after_ccc, || {
                format!("NLST in cleared/ gave {names:?}")
            })?;
        }
        check(
            client.control_protection() == ControlProtection::Cleared,
            || "the control connection is no longer cleared".into(),
        )?;
        transfer::quit(client)?;

        // ProFTPD's side: CCC accepted, the control TLS session ended, and every data
        // handshake (first upload, LIST, first download, the rounds, NLST) resumed.
        let data_connections = 1 + 1 + 1 + 2 * rounds_after_ccc + usize::from(rounds_after_ccc > 0);
        let protocol = server.file("protocol_log");
        check(
            protocol.contains("CCC -> 200 Clearing control channel protection"),
            || "the protocol log has no CCC accepted with 200".into(),
        )?;
        let tls_log = server.file("tls_log");
        check(
            tls_log.contains("received CCC, clearing control channel protection"),
            || "the TLS log does not show the control channel cleared".into(),
        )?;
        let (handshakes, full) = tls_handshakes(&tls_log);
        check(handshakes == 1 + data_connections && full == 1, || {
            format!(
                "the TLS log shows {handshakes} handshakes, {full} of them full; want the \
                 control connection's and {data_connections} resumed data handshakes"
            )
        })?;
        Ok(())
    })
}

/// `TLSRequired on`: ProFTPD refuses `CCC` with `534`; the connection stays protected and a
/// round trip works after it.
fn ccc_refused<C: SecureConnection>(make: Make<C>) -> Result<(), String> {
    with_proftpd(&["--tls13", "--opt", "TLSRequired on"], |server| {
        let mut client = connect(server, make, |b| b)?;
        let body = content(200 * 1024, 534);
        let outcome = transfer::upload(&mut client, "before.bin", &body)?;
        protected_and_resumed(&outcome, "TLSv1.3", "STOR before.bin")?;
        match client.ccc() {
            Err(Error::Reply { reply, command }) if reply.code() == 534 && command == "CCC" => {}
            other => {
                return Err(format!(
                    "CCC under TLSRequired on: want a 534 reply, got {other:?}"
                ))
            }
        }
        check(
            client.is_usable()
                && client.is_control_protected()
                && client.control_protection() == ControlProtection::Protected,
            || {
                format!(
                    "after the refused CCC the control connection is {:?}",
                    client.control_protection()
                )
            },
        )?;
        let (back, outcome) = download(&mut client, "before.bin")?;
        protected_and_resumed(&outcome, "TLSv1.3", "RETR before.bin after the refused CCC")?;
        same_content("before.bin", &back, &body)?;
        let again = content(50 * 1024, 535);
        let outcome = transfer::upload(&mut client, "after.bin", &again)?;
        protected_and_resumed(&outcome, "TLSv1.3", "STOR after.bin")?;
        transfer::quit(client)?;
        let protocol = server.file("protocol_log");
        check(protocol.contains("CCC -> 534"), || {
            "the protocol log has no CCC refused with 534".into()
        })?;
        Ok(())
    })
}

/// A backend without session resumption: login works, the first transfer fails, within the
/// time limits, with a typed error, and ProFTPD's TLS log says the session was not reused.
#[cfg_attr(not(feature = "native-tls"), allow(dead_code))]
fn without_reuse<C: SecureConnection>(
    server_args: &'static [&'static str],
    make: Make<C>,
) -> Result<(), String> {
    with_proftpd(server_args, |server| {
        let mut client = connect(server, make, |b| b)?;
        let started = Instant::now();
        let e = match client.list(None) {
            Ok(lines) => return Err(format!("LIST succeeded without session reuse: {lines:?}")),
            Err(e) => e,
        };
        check(started.elapsed() < Duration::from_secs(30), || {
            format!("the refusal took {:?}", started.elapsed())
        })?;
        // mod_tls completes the data handshake, sees it did not resume, closes the data
        // connection and answers 425 (not RFC 4217's 522). ftps-core maps only a 522 to
        // TlsErrorKind::ResumptionRefused, so this is a reply error; the same 425 wrapped in
        // a ResumptionRefused TLS error is accepted too.
        match &e {
            Error::Reply { reply, command } if reply.code() == 425 && command == "LIST" => {}
            Error::Tls {
                source,
                reply: Some(reply),
                ..
            } if source.kind() == TlsErrorKind::ResumptionRefused && reply.code() == 425 => {}
            other => return Err(format!("expected LIST refused with 425, got {other:?}")),
        }
        let tls_log = server.file("tls_log");
        check(
            tls_log.contains("client did not reuse TLS session, rejecting data connection"),
            || "the TLS log does not show the refused data connection".into(),
        )?;
        // ProFTPD keeps the session: the control connection is still protected and usable.
        let started = Instant::now();
        let reply = client
            .noop()
            .map_err(|e| format!("NOOP after the refusal: {e:?}"))?;
        check(
            reply.code() == 200
                && client.is_control_protected()
                && started.elapsed() < Duration::from_secs(5),
            || {
                format!(
                    "NOOP after the refusal: {reply} after {:?}",
                    started.elapsed()
                )
            },
        )?;
        transfer::quit(client)?;
        Ok(())
    })
}

/// Uploads in a row on a protected control connection, each resumed and accepted.
fn uploads_in_a_row<C: SecureConnection>(
    server_args: &'static [&'static str],
    version: &'static str,
    make: Make<C>,
) -> Result<(), String> {
    with_proftpd(server_args, |server| {
        let mut client = connect(server, make, |b| b)?;
        for i in 0..UPLOADS_IN_A_ROW as u64 {
            let body = content(10 * 1024, 700 + i);
            let name = format!("row-{i}.bin");
            let outcome = transfer::upload(&mut client, &name, &body)?;
            protected_and_resumed(&outcome, version, &format!("STOR {name}"))?;
        }
        let names = client.nlst(None).map_err(|e| format!("NLST: {e:?}"))?;
        check(names.len() == UPLOADS_IN_A_ROW, || {
            format!("NLST gave {names:?}")
        })?;
        transfer::quit(client)?;
        let (handshakes, full) = tls_handshakes(&server.file("tls_log"));
        // The control connection, the uploads and NLST; only the control one full.
        check(handshakes == UPLOADS_IN_A_ROW + 2 && full == 1, || {
            format!("the TLS log shows {handshakes} handshakes, {full} of them full")
        })
    })
}

/// rustls' declared limitation with ProFTPD under TLS 1.3: ProFTPD (OpenSSL 3) sends two
/// tickets after the control handshake and none on a data connection it only reads from (an
/// upload); rustls offers each TLS 1.3 ticket once, so the third upload in a row has none left,
/// its data handshake is a full one, and ProFTPD refuses it with `425`. The client must say so
/// with a typed `ResumptionRefused` error, quickly, and the control connection must stay usable.
fn rustls_tls13_uploads_in_a_row(make: Make<ftps_rustls::RustlsConnector>) -> Result<(), String> {
    with_proftpd(&["--tls13"], |server| {
        let mut client = connect(server, make, |b| b)?;
        for i in 0..2u64 {
            let body = content(10 * 1024, 700 + i);
            let name = format!("row-{i}.bin");
            let outcome = transfer::upload(&mut client, &name, &body)?;
            protected_and_resumed(&outcome, "TLSv1.3", &format!("STOR {name}"))?;
        }
        let started = Instant::now();
        let body = content(10 * 1024, 702);
        match client.upload("row-2.bin", &mut body.as_slice()) {
            Err(Error::Tls {
                source,
                reply: Some(reply),
                ..
            }) if source.kind() == TlsErrorKind::ResumptionRefused && reply.code() == 425 => {}
            other => {
                return Err(format!(
                    "third upload in a row: want ResumptionRefused with 425 (no ticket left), \
                     got {other:?}"
                ))
            }
        }
        check(started.elapsed() < Duration::from_secs(10), || {
            format!("the refusal took {:?}", started.elapsed())
        })?;
        let reply = client
            .noop()
            .map_err(|e| format!("NOOP after the refusal: {e:?}"))?;
        check(reply.code() == 200 && client.is_control_protected(), || {
            format!("NOOP after the refusal: {reply}")
        })?;
        let tls_log = server.file("tls_log");
        check(
            tls_log.contains("client did not reuse TLS session, rejecting data connection"),
            || "the TLS log does not show the refused data connection".into(),
        )?;
        transfer::quit(client)
    })
}

/// Implicit FTPS (TLS before the greeting): a listing and one round trip, resumed.
fn implicit<C: SecureConnection>(make: Make<C>) -> Result<(), String> {
    with_proftpd(&["--implicit"], |server| {
        let mut client = connect(server, make, |b| b.mode(Mode::Implicit))?;
        client
            .list(None)
            .map_err(|e| format!("implicit LIST: {e:?}"))?;
        let body = content(150 * 1024, 990);
        let outcome = transfer::upload(&mut client, "implicit.bin", &body)?;
        protected_and_resumed(&outcome, "TLSv1.3", "implicit STOR")?;
        let (back, outcome) = download(&mut client, "implicit.bin")?;
        protected_and_resumed(&outcome, "TLSv1.3", "implicit RETR")?;
        same_content("implicit.bin", &back, &body)?;
        transfer::quit(client)
    })
}

/// Counts the TLS handshakes in ProFTPD's TLS log (`TLSOptions EnableDiags` logs every
/// handshake message): `(handshakes, full)`, where `handshakes` counts the ClientHellos received
/// (the control connection's and every data connection's) and `full` those the server answered
/// with its Certificate, i.e. that did not resume a session (TLS 1.2 and 1.3 alike). mod_tls's
/// own summary lines are not used: while the control connection is protected it logs "client
/// reused TLS session for data connection" per data connection but "data connection accepted"
/// only once, and after CCC it checks no reuse and logs "renegotiation accepted" instead.
fn tls_handshakes(tls_log: &str) -> (usize, usize) {
    let count = |needle: &str| tls_log.lines().filter(|l| l.contains(needle)).count();
    let hellos = count("received TLSv1.3 'ClientHello' Handshake message")
        + count("received TLSv1.2 'ClientHello' Handshake message");
    let full = count("sent TLSv1.3 'Certificate' Handshake message")
        + count("sent TLSv1.2 'Certificate' Handshake message");
    (hellos, full)
}

/// The lines of ProFTPD's TLS log that mod_tls writes itself (handshake results, reuse checks,
/// CCC), without the OpenSSL message dumps and state lines of `EnableDiags`.
fn tls_decisions(tls_log: &str) -> String {
    tls_log
        .lines()
        .filter(|l| {
            l.contains(" mod_tls/")
                && !l.contains("]: [msg]")
                && !l.contains("]: [info]")
                && !l.contains("]: [stat]")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
