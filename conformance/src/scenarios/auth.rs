//! AUTH-01 … AUTH-12: negotiating TLS on the control connection (RFC 4217 §4, §10.3, §15).

use std::time::Duration;

use ftps_core::{Error, Phase, ProtectionLevel, ProtocolError, SecureConnection, TlsErrorKind};

use super::steps::{
    accept_auth, answer_auth, login, login_and_protect, noop_ok, secure_login_noop, typed_retr,
    upgrade,
};
use super::transcript::{ensure_commands, ensure_login_then};
use super::{
    connect_login_with, download_matching, ensure_kind, ensure_level, final_noop, scripted,
    scripted_plain,
};
use crate::checks::{commands, ensure, ensure_code, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{CertChoice, Conn, ServerOptions};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "AUTH-01",
            title: "Explicit AUTH TLS: the normal path",
            needs: &[],
            run: auth_01::<C>,
        },
        Scenario {
            id: "AUTH-02",
            title: "The mechanism is exactly TLS; legacy synonyms are opt-in",
            needs: &[],
            run: auth_02::<C>,
        },
        Scenario {
            id: "AUTH-03",
            title: "AUTH refused while TLS is required",
            needs: &[],
            run: auth_03::<C>,
        },
        Scenario {
            id: "AUTH-04",
            title: "A 334 reply to AUTH TLS",
            needs: &[],
            run: auth_04::<C>,
        },
        Scenario {
            id: "AUTH-05",
            title: "Falling back to plaintext only on explicit opt-in",
            needs: &[],
            run: auth_05::<C>,
        },
        Scenario {
            id: "AUTH-06",
            title: "Transfer parameters are reset after AUTH",
            needs: &[],
            run: auth_06::<C>,
        },
        Scenario {
            id: "AUTH-07",
            title: "No second AUTH on a protected control connection",
            needs: &[],
            run: auth_07::<C>,
        },
        Scenario {
            id: "AUTH-08",
            title: "The control TLS handshake fails",
            needs: &[],
            run: auth_08::<C>,
        },
        Scenario {
            id: "AUTH-09",
            title: "The server certificate is verified",
            needs: &[],
            run: auth_09::<C>,
        },
        Scenario {
            id: "AUTH-10",
            title: "Flexible timing of AUTH, PBSZ and PROT",
            needs: &[],
            run: auth_10::<C>,
        },
        Scenario {
            id: "AUTH-11",
            title: "The handshake completes, but the client rejects the session",
            // The certificate pin works with every backend that reports the peer certificate,
            // and fails closed with one that does not.
            needs: &[],
            run: auth_11::<C>,
        },
        Scenario {
            id: "AUTH-12",
            title: "Bytes after the 234 are never read as protected replies",
            needs: &[],
            run: auth_12::<C>,
        },
    ]
}

fn auth_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        secure_login_noop,
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            ensure(client.is_control_protected(), || {
                "control not reported protected".into()
            })?;
            ensure_level(&client, ProtectionLevel::Private, "data protection")?;
            final_noop(&mut client)
        },
        |record| {
            ensure_eq(record.cleartext.as_slice(), b"AUTH TLS\r\n", "cleartext")?;
            ensure_login_then(record, &["NOOP"], "commands")
        },
    )
}

fn auth_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) The server's 234 text names TLS-C: judged by the code alone.
    let a = scripted(
        ServerOptions::default(),
        |c| {
            accept_auth(c, "220 ready", "234 AUTH TLS-C successful")?;
            noop_ok(c)
        },
        |server| final_noop(&mut ok(h.connect(server), "connect")?),
        |_| Ok(()),
    );
    // b) The user configured TLS-C: sent as configured, then PBSZ and PROT as usual.
    let b = scripted(
        ServerOptions::default(),
        |c| {
            c.send("220 ready")?;
            c.expect("AUTH TLS-C")?;
            c.send("234 ok")?;
            c.start_tls()?;
            login_and_protect(c)?;
            noop_ok(c)
        },
        |server| {
            let mut client = connect_login_with(
                h,
                server,
                |b| b.tls_auth_mechanism("TLS-C"),
                "connect with TLS-C",
            )?;
            final_noop(&mut client)
        },
        |_| Ok(()),
    );
    a.and(b)
}

/// The server refuses AUTH with `reply`, then waits for the client to go.
fn refuse_auth(reply: &'static str) -> impl FnOnce(&mut Conn) -> Result<(), String> + Send {
    move |c| {
        answer_auth(c, "220 ready", reply)?;
        // The client may send QUIT in the clear, or just close; nothing else.
        match c.recv() {
            Ok(line) if line.eq_ignore_ascii_case("QUIT") => {
                c.send("221 bye")?;
                Ok(())
            }
            Ok(line) => Err(format!("after the refused AUTH the client sent {line:?}")),
            Err(_) => Ok(()),
        }
    }
}

/// AUTH was refused with `code`: [`Error::TlsUnavailable`], unusable.
fn tls_unavailable(e: &Error, code: u16) -> Check {
    ensure_kind(
        e,
        matches!(e, Error::TlsUnavailable { .. }),
        "TlsUnavailable",
    )?;
    ensure_code(e, code)?;
    ensure_usable(e, false)
}

fn auth_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let cases: [(u16, &'static str); 7] = [
        (431, "431 Necessary security resource unavailable"),
        (500, "500 This security scheme is not implemented"),
        (502, "502 Command not implemented"),
        (504, "504 Unknown AUTH type."),
        (534, "534 Request denied for policy reasons"),
        (530, "530 Please login with USER and PASS."),
        (550, "550 Not now"),
    ];
    for (code, reply) in cases {
        scripted(
            ServerOptions::default(),
            refuse_auth(reply),
            |server| tls_unavailable(&err(h.connect(server), "connect")?, code),
            |record| {
                let sent = commands(record);
                ensure(
                    sent.iter()
                        .all(|c| c == "AUTH TLS" || c.eq_ignore_ascii_case("QUIT")),
                    || format!("{code}: the client sent {sent:?}"),
                )
            },
        )
        .map_err(|e| format!("reply {code}: {e}"))?;
    }
    Ok(())
}

fn auth_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        refuse_auth("334 ADAT=AAAA"),
        |server| tls_unavailable(&err(h.connect(server), "connect")?, 334),
        |record| {
            ensure(
                !commands(record).iter().any(|c| c.starts_with("ADAT")),
                || "the client sent ADAT".into(),
            )
        },
    )
}

fn auth_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let opted_in = scripted_plain(
        ServerOptions::default(),
        |c| {
            answer_auth(c, "220 ready", "502 Not implemented")?;
            login(c)?;
            noop_ok(c)
        },
        |server| {
            let mut client = connect_login_with(
                h,
                server,
                |b| b.danger_tls_if_available(),
                "connect with the opt-in",
            )?;
            ensure(!client.is_control_protected(), || {
                "control reported protected".into()
            })?;
            ensure_level(&client, ProtectionLevel::Clear, "data level")?;
            final_noop(&mut client)
        },
        |record| {
            ensure(
                !commands(record)
                    .iter()
                    .any(|c| c.starts_with("PBSZ") || c.starts_with("PROT")),
                || "PBSZ or PROT sent on a clear session".into(),
            )
        },
    );
    let twin = scripted(
        ServerOptions::default(),
        refuse_auth("502 Not implemented"),
        |server| {
            let e = err(h.connect(server), "connect without the opt-in")?;
            ensure_code(&e, 502)?;
            ensure(matches!(e, Error::TlsUnavailable { .. }), || {
                format!("{e:?}")
            })
        },
        |_| Ok(()),
    );
    opted_in.and(twin)
}

fn auth_06<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.send("220 ready")?;
            c.expect("TYPE I")?;
            c.send("200 Type set to I")?;
            c.expect("CWD /in")?;
            c.send("250 ok")?;
            upgrade(c, "234 go")?;
            login_and_protect(c)?;
            // RFC 4217 §4.2: TYPE was reset by AUTH; the client must set it again.
            typed_retr(c, "f", b"content", b"226 Transfer complete\r\n")?;
            noop_ok(c)
        },
        |server| {
            let mut client = connect_login_with(
                h,
                server,
                |b| b.pre_auth_command("TYPE I").pre_auth_command("CWD /in"),
                "connect",
            )?;
            download_matching(&mut client, "f", b"content")?;
            final_noop(&mut client)
        },
        |_| Ok(()),
    )
}

fn auth_07<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            // A raw PROT P after PBSZ 0 goes through, as in the ancestor module.
            c.expect("PROT P")?;
            c.send("200 Protection set to Private")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "login")?;
            let e = err(
                client.raw("AUTH TLS"),
                "raw AUTH TLS on a protected connection",
            )?;
            ensure(matches!(e, Error::InvalidState(_)), || {
                format!("expected InvalidState, got {e:?}")
            })?;
            ensure_usable(&e, true)?;
            ok(client.raw("PROT P"), "raw PROT P")?;
            final_noop(&mut client)
        },
        |record| {
            let auths = commands(record)
                .iter()
                .filter(|c| c.starts_with("AUTH"))
                .count();
            ensure_eq(auths, 1, "AUTH commands received")
        },
    )
}

/// One step of a server script.
type ServerStep = fn(&mut Conn) -> Result<(), String>;

/// AUTH then 234, then `after` misbehaves during the handshake; the client must fail with a
/// control-handshake error (or a time-out), unusable, and send no FTP command afterwards.
fn failed_handshake<C: SecureConnection>(
    h: &Harness<C>,
    variant: &str,
    after: ServerStep,
    timeout_expected: bool,
) -> Check {
    scripted(
        ServerOptions::default(),
        move |c| {
            answer_auth(c, "220 ready", "234 go")?;
            after(c)
        },
        |server| {
            let e = err(h.connect(server), "connect")?;
            ensure_usable(&e, false)?;
            let fits = if timeout_expected {
                e.is_timeout()
            } else {
                matches!(
                    e,
                    Error::Tls {
                        phase: Phase::ControlHandshake,
                        ..
                    } | Error::ConnectionClosed { .. }
                )
            };
            ensure(fits, || {
                format!("variant {variant}: unexpected error {e:?}")
            })
        },
        |record| {
            let after_auth: Vec<_> = commands(record).into_iter().skip(1).collect();
            ensure(after_auth.is_empty(), || {
                format!("variant {variant}: commands after the failed handshake: {after_auth:?}")
            })
        },
    )
    .map_err(|e| format!("variant {variant}: {e}"))
}

fn auth_08<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let variants: [(&str, ServerStep, bool); 5] = [
        ("a (alert handshake_failure)", |c| c.send_alert(40), false),
        ("b (alert protocol_version)", |c| c.send_alert(70), false),
        (
            "c (FIN)",
            |c| {
                c.fin();
                Ok(())
            },
            false,
        ),
        (
            "d (421 in the clear)",
            |c| {
                // As ProFTPD: the 421 follows a failed TLS accept, so after the ClientHello.
                std::thread::sleep(Duration::from_millis(200));
                c.send("421 TLS handshake failed")?;
                c.fin();
                Ok(())
            },
            false,
        ),
        (
            "e (silence)",
            |_| {
                std::thread::sleep(Duration::from_secs(3));
                Ok(())
            },
            true,
        ),
    ];
    for (name, after, timeout) in variants {
        failed_handshake(h, name, after, timeout)?;
    }
    Ok(())
}

fn auth_09<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let name_kinds = &[TlsErrorKind::NameMismatch, TlsErrorKind::CertificateInvalid][..];
    // (certificate, connect by IP literal, acceptable error kinds); d) a valid certificate
    // without an IP SAN while the client connected to 127.0.0.1.
    for (choice, by_ip, kinds) in [
        (CertChoice::WrongName, false, name_kinds),
        (
            CertChoice::SelfSigned,
            false,
            &[TlsErrorKind::CertificateInvalid][..],
        ),
        (
            CertChoice::Expired,
            false,
            &[TlsErrorKind::CertificateInvalid][..],
        ),
        (CertChoice::DnsOnly, true, name_kinds),
    ] {
        let options = ServerOptions {
            cert: choice,
            ..ServerOptions::default()
        };
        scripted(
            options,
            |c| {
                answer_auth(c, "220 ready", "234 go")?;
                // The handshake must fail on the client's side.
                match c.start_tls() {
                    Ok(()) => c.expect_eof(Duration::from_secs(3)).map(drop),
                    Err(_) => Ok(()),
                }
            },
            |server| {
                let builder = if by_ip {
                    ftps_core::ClientBuilder::new("127.0.0.1")
                        .port(server.addr().port())
                        .timeouts(Harness::<C>::timeouts())
                } else {
                    h.builder(server)
                };
                let e = err(builder.connect(h.connector()), "connect")?;
                ensure_usable(&e, false)?;
                match &e {
                    Error::Tls {
                        phase: Phase::ControlHandshake,
                        source,
                        ..
                    } => ensure(kinds.contains(&source.kind()), || {
                        format!(
                            "{choice:?}: tls error kind {:?}, expected one of {kinds:?}",
                            source.kind()
                        )
                    }),
                    other => Err(format!(
                        "{choice:?}: expected a certificate error, got {other:?}"
                    )),
                }
            },
            |record| ensure_commands(record, &["AUTH TLS"], "commands"),
        )
        .map_err(|e| format!("{choice:?}: {e}"))?;
    }
    Ok(())
}

fn auth_10<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let default_order = scripted(
        ServerOptions::default(),
        |c| {
            c.send("220 ready")?;
            c.expect("SITE ZONE")?;
            c.send("200 zone ok")?;
            upgrade(c, "234 go")?;
            login_and_protect(c)?;
            noop_ok(c)
        },
        |server| {
            let mut client =
                connect_login_with(h, server, |b| b.pre_auth_command("SITE ZONE"), "connect")?;
            final_noop(&mut client)
        },
        |record| {
            ensure_eq(
                record.cleartext.as_slice(),
                b"SITE ZONE\r\nAUTH TLS\r\n",
                "cleartext",
            )
        },
    );
    let protection_first = scripted(
        ServerOptions::default(),
        |c| {
            accept_auth(c, "220 ready", "234 go")?;
            c.expect("PBSZ 0")?;
            c.send("200 PBSZ=0")?;
            c.expect("PROT P")?;
            c.send("200 ok")?;
            c.expect("USER alice")?;
            c.send("331 pw")?;
            c.expect("PASS secret")?;
            c.send("230 in")?;
            noop_ok(c)
        },
        |server| {
            let mut client =
                connect_login_with(h, server, |b| b.protection_before_login(true), "connect")?;
            ensure_level(&client, ProtectionLevel::Private, "data level")?;
            final_noop(&mut client)
        },
        |_| Ok(()),
    );
    // USER, PASS and ACCT are refused as pre-AUTH commands, before any connection.
    let refused = ["USER alice", "PASS x", "ACCT y"]
        .iter()
        .try_for_each(|line| {
            let e = err(
                ftps_core::ClientBuilder::new("localhost")
                    .port(9)
                    .pre_auth_command(line)
                    .connect(h.connector()),
                "pre-AUTH credentials",
            )?;
            ensure(matches!(e, Error::InvalidArgument(_)), || {
                format!("{line}: expected InvalidArgument, got {e:?}")
            })
        });
    default_order.and(protection_first).and(refused)
}

fn auth_11<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let pki = h.pki();
    scripted(
        ServerOptions::default(),
        |c| {
            accept_auth(c, "220 ready", "234 go")?;
            c.expect("QUIT")?;
            c.send("221 bye")?;
            let seen = c.expect_eof(Duration::from_secs(3))?;
            ensure(seen.close_notify, || {
                "no close_notify after the protected QUIT".into()
            })
        },
        |server| {
            // Pin a certificate the server does not present.
            let pin = pki.cert_der(CertChoice::AltValid).to_vec();
            let e = err(
                h.builder(server)
                    .tls_pin_peer_certificate(pin)
                    .connect(h.connector()),
                "connect with a pin that does not match",
            )?;
            ensure_usable(&e, false)?;
            match &e {
                Error::Tls { source, .. } if source.kind() == TlsErrorKind::PostHandshakePolicy => {
                    Ok(())
                }
                other => Err(format!(
                    "expected a post-handshake policy error, got {other:?}"
                )),
            }
        },
        |record| {
            let sent = commands(record);
            ensure(!sent.iter().any(|c| c.starts_with("USER")), || {
                format!("USER sent: {sent:?}")
            })?;
            ensure(
                record
                    .commands
                    .iter()
                    .any(|(protected, c)| *protected && c == "QUIT"),
                || format!("no protected QUIT: {:?}", record.commands),
            )
        },
    )
}

fn auth_12<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.send("220 ready")?;
            c.expect("AUTH TLS")?;
            c.send_raw(b"234 AUTH TLS OK.\r\n230 Logged in.\r\n")?;
            c.expect_eof(Duration::from_secs(3)).map(drop)
        },
        |server| {
            let e = err(h.connect(server), "connect")?;
            ensure_usable(&e, false)?;
            ensure(
                matches!(
                    e,
                    Error::Protocol(ProtocolError::DataBeforeHandshake { .. })
                ),
                || format!("expected unexpected-data-after-234, got {e:?}"),
            )
        },
        |record| ensure_commands(record, &["AUTH TLS"], "commands"),
    )
}
