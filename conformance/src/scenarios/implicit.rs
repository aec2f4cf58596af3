//! IMPL-01 … IMPL-04: implicit FTPS, TLS from the first byte ([MS-FTPS] §3.1.5.1, port 990;
//! SCENARIOS decision D10).
//!
//! The in-process server plays an implicit server by starting TLS before it sends anything
//! ([`Conn::start_tls`] right after the accept); the client gets the server's port, so the
//! default port (990 implicit, 21 explicit) is checked on [`Mode::default_port`], which the
//! client uses when no port is set.

use std::time::{Duration, Instant};

use ftps_core::{
    Capability, Client, ClientBuilder, DataConnectionMode, Error, Mode, Phase, ProtectionLevel,
    SecureConnection, TlsErrorKind,
};

use super::steps::{login, login_and_protect, noop_ok, parse_port_arg, type_i, OPENING_F};
use super::transcript::{ensure_commands, protected_data};
use super::{
    download_eq, each_pinned, ensure_kind, ensure_level, final_noop, pattern, scripted, CONTENT,
};
use crate::checks::{describe, ensure, ensure_code, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, DataConn, Record, ServerOptions, TestServer};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "IMPL-01",
            title: "TLS first, and the greeting inside TLS",
            needs: &[],
            run: impl_01::<C>,
        },
        Scenario {
            id: "IMPL-02",
            title: "In implicit mode PBSZ and PROT are sent explicitly, and a refusal is tolerated",
            needs: &[],
            run: impl_02::<C>,
        },
        Scenario {
            id: "IMPL-03",
            title: "The mode does not match the server",
            needs: &[],
            run: impl_03::<C>,
        },
        Scenario {
            id: "IMPL-04",
            title: "Implicit mode: data connections and session reuse work as in explicit mode",
            needs: &[Capability::Resumption],
            run: impl_04::<C>,
        },
    ]
}

// ---- helpers -------------------------------------------------------------------------------

/// The commands of the implicit login: `[secure-login]` without `AUTH TLS`.
const IMPLICIT_LOGIN: [&str; 4] = ["USER alice", "PASS secret", "PBSZ 0", "PROT P"];

/// The greeting of the implicit server, sent inside TLS.
const GREETING: &str = "220 ftps implicit test server ready";

/// A builder for `server` in implicit mode.
fn implicit<C: SecureConnection>(h: &Harness<C>, server: &TestServer) -> ClientBuilder {
    h.builder(server).mode(Mode::Implicit)
}

/// `~ctl handshake` at once (the server sends nothing before the ClientHello), then the
/// greeting inside TLS.
fn implicit_greeting(c: &mut Conn) -> Check {
    c.start_tls()?;
    c.send(GREETING)
}

/// Nothing crossed the control connection in the clear, and every command came inside TLS.
fn all_protected(record: &Record) -> Check {
    ensure(record.cleartext.is_empty(), || {
        format!(
            "cleartext control bytes in implicit mode: {:?}",
            String::from_utf8_lossy(&record.cleartext)
        )
    })?;
    let clear: Vec<&String> = record
        .commands
        .iter()
        .filter(|(protected, _)| !protected)
        .map(|(_, c)| c)
        .collect();
    ensure(clear.is_empty(), || {
        format!("commands outside TLS in implicit mode: {clear:?}")
    })
}

/// The data handshake, which must resume the control session when the server requires it:
/// otherwise the connection is closed, `522` answered and the script fails.
fn handshake_resumed(c: &mut Conn, data: &mut DataConn) -> Check {
    if let Err(e) = data.accept_tls() {
        c.send("522 SSL connection failed; session reuse required")?;
        return Err(format!("data handshake: {e}"));
    }
    Ok(())
}

/// On an accepted data connection: the handshake (see [`handshake_resumed`]), `content`,
/// close_notify, a bounded wait for the client's close, FIN, `226`.
fn send_resumed(c: &mut Conn, mut data: DataConn, content: &[u8]) -> Check {
    handshake_resumed(c, &mut data)?;
    data.write_all(content)?;
    data.close_notify()?;
    data.wait_client_close(Duration::from_secs(1));
    data.fin();
    c.send("226 Transfer complete.")
}

/// Every data connection did a TLS handshake that resumed the control session.
fn all_resumed(record: &Record, count: usize) -> Check {
    protected_data(record, count)?;
    for (i, d) in record.data.iter().enumerate() {
        ensure(d.resumed == Some(true), || {
            format!(
                "data connection {} did not resume the control session (resumed={:?}, error={:?})",
                i + 1,
                d.resumed,
                d.tls_error
            )
        })?;
    }
    Ok(())
}

/// Reads and discards what the client sends until it closes (FIN or RST), within `d`.
fn until_client_closes(c: &mut Conn, d: Duration) -> Check {
    let deadline = Instant::now() + d;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        ensure(!left.is_zero(), || {
            format!("the client did not close within {d:?}")
        })?;
        if c.recv_bytes(left)?.is_empty() {
            return Ok(());
        }
    }
}

// ---- the scenarios ---------------------------------------------------------------------------

fn impl_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    ensure_eq(Mode::Implicit.default_port(), 990, "default port, implicit")?;
    ensure_eq(Mode::Explicit.default_port(), 21, "default port, explicit")?;
    ensure_eq(Mode::default(), Mode::Explicit, "default mode")?;
    each_pinned(h, |options| {
        scripted(
            options,
            |c| {
                implicit_greeting(c)?;
                login_and_protect(c)?;
                type_i(c)?;
                let listener = c.epsv()?;
                c.expect("RETR f")?;
                c.send(OPENING_F)?;
                let data = listener.accept(c)?;
                send_resumed_or_not(c, data, CONTENT)?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(implicit(h, server).connect(h.connector()), "connect")?;
                ensure(client.is_control_protected(), || {
                    "control not reported protected".into()
                })?;
                let greeting = client.greeting().map(|g| (g.code(), g.first_line()));
                ensure_eq(
                    greeting,
                    Some((220, "ftps implicit test server ready".to_owned())),
                    "greeting",
                )?;
                // No AUTH in implicit mode: refused locally, nothing sent (the transcript
                // below has no AUTH), and the connection stays usable.
                let e = err(client.raw("AUTH TLS"), "AUTH TLS in implicit mode")?;
                ensure_kind(&e, matches!(e, Error::InvalidState(_)), "InvalidState")?;
                ensure_usable(&e, true)?;
                ok(client.login("alice", "secret"), "login")?;
                ensure_level(&client, ProtectionLevel::Private, "data protection")?;
                download_eq(&mut client, "f", CONTENT)?;
                final_noop(&mut client)
            },
            |record| {
                all_protected(record)?;
                ensure_eq(record.first_after_234, None, "a 234 was never sent")?;
                ensure_commands(
                    record,
                    &[&IMPLICIT_LOGIN[..], &["TYPE I", "EPSV", "RETR f", "NOOP"]].concat(),
                    "commands",
                )?;
                protected_data(record, 1)
            },
        )
    })
}

/// [`send_resumed`] for a server that does not require resumption.
fn send_resumed_or_not(c: &mut Conn, mut data: DataConn, content: &[u8]) -> Check {
    data.accept_tls()?;
    data.write_all(content)?;
    data.close_notify()?;
    data.wait_client_close(Duration::from_secs(1));
    data.fin();
    c.send("226 Transfer complete.")
}

/// IMPL-02's variants: the replies to `PBSZ 0` and `PROT P`, all tolerated in implicit mode.
const TOLERATED: [(&str, &str); 6] = [
    ("200 PBSZ=0", "200 Protection set to Private"),
    ("500 PBSZ not understood", "500 PROT not understood"),
    (
        "502 Command not implemented.",
        "502 Command not implemented.",
    ),
    ("503 PBSZ not needed", "503 PROT not needed"),
    (
        "504 Not needed in implicit mode",
        "504 Not needed in implicit mode",
    ),
    ("200 PBSZ=0", "503 Bad sequence of commands"),
];

fn impl_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        for (pbsz, prot) in TOLERATED {
            impl_02_tolerated(h, options.clone(), pbsz, prot)
                .map_err(|e| format!("PBSZ {pbsz:?}, PROT {prot:?}: {e}"))?;
        }
        impl_02_534(h, options).map_err(|e| format!("534 to PROT P: {e}"))
    })
}

/// The implicit login with `pbsz` and `prot` as the replies, then a protected download: the
/// data level stays Private and the data connection is TLS (A2).
fn impl_02_tolerated<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    pbsz: &'static str,
    prot: &'static str,
) -> Check {
    scripted(
        options,
        move |c| {
            implicit_greeting(c)?;
            login(c)?;
            c.expect("PBSZ 0")?;
            c.send(pbsz)?;
            c.expect("PROT P")?;
            c.send(prot)?;
            type_i(c)?;
            let listener = c.epsv()?;
            c.expect("RETR f")?;
            c.send(OPENING_F)?;
            let data = listener.accept(c)?;
            send_resumed_or_not(c, data, CONTENT)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(implicit(h, server).connect(h.connector()), "connect")?;
            ok(client.login("alice", "secret"), "login")?;
            ensure_level(&client, ProtectionLevel::Private, "data protection")?;
            download_eq(&mut client, "f", CONTENT)?;
            final_noop(&mut client)
        },
        |record| {
            all_protected(record)?;
            // PBSZ 0 and PROT P once each: no PROT-06 retry in implicit mode.
            ensure_commands(
                record,
                &[&IMPLICIT_LOGIN[..], &["TYPE I", "EPSV", "RETR f", "NOOP"]].concat(),
                "commands",
            )?;
            protected_data(record, 1)
        },
    )
}

/// A `534` to `PROT P` is still an error: the server refuses Private outright.
fn impl_02_534<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        options,
        |c| {
            implicit_greeting(c)?;
            login(c)?;
            c.expect("PBSZ 0")?;
            c.send("200 PBSZ=0")?;
            c.expect("PROT P")?;
            c.send("534 Request denied for policy reasons.")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(implicit(h, server).connect(h.connector()), "connect")?;
            let e = err(client.login("alice", "secret"), "login")?;
            ensure_kind(
                &e,
                matches!(e, Error::DataProtectionRefused { .. }),
                "DataProtectionRefused",
            )?;
            ensure_code(&e, 534)?;
            ensure_usable(&e, true)?;
            ensure_level(&client, ProtectionLevel::Clear, "data protection")?;
            final_noop(&mut client)
        },
        |record| {
            all_protected(record)?;
            ensure_commands(
                record,
                &[&IMPLICIT_LOGIN[..], &["NOOP"]].concat(),
                "commands",
            )
        },
    )
}

fn impl_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        impl_03_a(h, options.clone(), false).map_err(|e| format!("a (220 at connect): {e}"))?;
        impl_03_a(h, options, true).map_err(|e| format!("a (220 after the ClientHello): {e}"))
    })?;
    impl_03_b(h).map_err(|e| format!("b (explicit client, implicit server): {e}"))
}

/// a) An implicit client meets a server that speaks plain FTP first: a `Tls` error on the
/// control handshake, of kind `NotTls`, fast, and the connection is unusable.
fn impl_03_a<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    after_hello: bool,
) -> Check {
    scripted(
        options,
        move |c| {
            if after_hello {
                let hello = c.recv_bytes(Duration::from_secs(3))?;
                ensure_eq(
                    hello.first().copied(),
                    Some(0x16),
                    "the client's first byte",
                )?;
            }
            c.send("220 plain ftp server ready")?;
            until_client_closes(c, Duration::from_secs(4))
        },
        |server| {
            let started = Instant::now();
            let e = err(implicit(h, server).connect(h.connector()), "connect")?;
            let elapsed = started.elapsed();
            let fits = matches!(
                &e,
                Error::Tls { phase: Phase::ControlHandshake, source, .. }
                    if source.kind() == TlsErrorKind::NotTls
            );
            ensure_kind(&e, fits, "Tls { phase: ControlHandshake, kind: NotTls }")?;
            ensure_usable(&e, false)?;
            ensure(elapsed < Duration::from_secs(3), || {
                format!("the client took {elapsed:?} to fail ({})", describe(&e))
            })
        },
        |record| ensure_eq(record.commands.len(), 0, "commands the server read"),
    )
}

/// b) An explicit client meets an implicit server, which waits for a ClientHello: a greeting
/// timeout within the reply time limit (A4), and the client sends nothing.
fn impl_03_b<C: SecureConnection>(h: &Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            // An implicit server: nothing before the ClientHello, which never comes.
            let got = c.recv_bytes(Duration::from_secs(5))?;
            ensure(got.is_empty(), || {
                format!(
                    "the client sent {:?} without a greeting",
                    String::from_utf8_lossy(&got)
                )
            })
        },
        |server| {
            let started = Instant::now();
            let e = err(h.connect(server), "connect")?;
            let elapsed = started.elapsed();
            let fits = matches!(
                e,
                Error::Timeout {
                    phase: Phase::Greeting,
                    ..
                }
            );
            ensure_kind(&e, fits, "Timeout { phase: Greeting }")?;
            ensure(e.is_timeout(), || "is_timeout() is false".into())?;
            ensure_usable(&e, false)?;
            ensure(elapsed < Duration::from_millis(4500), || {
                format!("the greeting timeout took {elapsed:?}")
            })
        },
        |record| {
            ensure(record.cleartext.is_empty(), || {
                "the client sent bytes".into()
            })
        },
    )
}

fn impl_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        let options = ServerOptions {
            require_resumption: true,
            ..options
        };
        impl_04_passive(h, options.clone()).map_err(|e| format!("EPSV and PASV: {e}"))?;
        impl_04_active(h, options).map_err(|e| format!("PORT: {e}"))
    })
}

/// The implicit login, then an EPSV download, then a PASV one (EPSV refused with 500, as
/// DATA-04): both data connections resume the control session.
fn impl_04_passive<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    let first = pattern(30_000, 41);
    let second = pattern(20_000, 42);
    let (f1, f2) = (first.clone(), second.clone());
    scripted(
        options,
        move |c| {
            implicit_greeting(c)?;
            login_and_protect(c)?;
            type_i(c)?;
            let listener = c.epsv()?;
            c.expect("RETR a")?;
            c.send("150 Opening BINARY mode data connection for a")?;
            let data = listener.accept(c)?;
            send_resumed(c, data, &f1)?;
            c.expect("EPSV")?;
            c.send("500 EPSV not understood")?;
            let listener = c.pasv()?;
            c.expect("RETR b")?;
            c.send("150 Opening BINARY mode data connection for b")?;
            let data = listener.accept(c)?;
            send_resumed(c, data, &f2)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(implicit(h, server).connect(h.connector()), "connect")?;
            ok(client.login("alice", "secret"), "login")?;
            download_eq(&mut client, "a", &first)?;
            download_eq(&mut client, "b", &second)?;
            final_noop(&mut client)
        },
        |record| {
            all_protected(record)?;
            ensure_commands(
                record,
                &[
                    &IMPLICIT_LOGIN[..],
                    &["TYPE I", "EPSV", "RETR a", "EPSV", "PASV", "RETR b", "NOOP"],
                ]
                .concat(),
                "commands",
            )?;
            all_resumed(record, 2)
        },
    )
}

/// The implicit login in active mode, then a PORT download: the server connects, the client
/// is the TLS client and resumes the control session.
fn impl_04_active<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    let file = pattern(25_000, 43);
    let sent = file.clone();
    scripted(
        options,
        move |c| {
            implicit_greeting(c)?;
            login_and_protect(c)?;
            type_i(c)?;
            let addr = parse_port_arg(&c.expect_verb("PORT")?)?;
            c.send("200 PORT command successful.")?;
            c.expect("RETR f")?;
            c.send(OPENING_F)?;
            let data = c.connect_data(addr)?;
            send_resumed(c, data, &sent)?;
            noop_ok(c)
        },
        |server| {
            let mut client: Client<C> = ok(
                implicit(h, server)
                    .data_connection_mode(DataConnectionMode::Active)
                    .connect(h.connector()),
                "connect (active mode)",
            )?;
            ok(client.login("alice", "secret"), "login")?;
            download_eq(&mut client, "f", &file)?;
            final_noop(&mut client)
        },
        |record| {
            all_protected(record)?;
            all_resumed(record, 1)
        },
    )
}
