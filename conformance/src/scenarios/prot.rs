//! PROT-01 … PROT-08: the data protection level (RFC 4217 §8, §9, §10.2; RFC 2228 §3).
//!
//! The server-side helpers at the top are shared with the PBSZ and POL groups.

use std::time::Duration;

use ftps_core::{Error, Phase, ProtectionLevel, SecureConnection};

use super::{noop_ok, scripted};
use crate::checks::{
    a2_data_protection, commands, ensure, ensure_code, ensure_eq, ensure_usable, err,
    no_prot_s_or_e, ok, Check,
};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, DataConn, Record, ServerOptions, TlsVersion};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "PROT-01",
            title: "Data protection starts as Clear",
            needs: &[],
            run: prot_01::<C>,
        },
        Scenario {
            id: "PROT-02",
            title: "After PROT P, every data connection is TLS",
            needs: &[],
            run: prot_02::<C>,
        },
        Scenario {
            id: "PROT-03",
            title: "Only the levels C and P are used",
            needs: &[],
            run: prot_03::<C>,
        },
        Scenario {
            id: "PROT-04",
            title: "PROT P refused",
            needs: &[],
            run: prot_04::<C>,
        },
        Scenario {
            id: "PROT-05",
            title: "PROT C refused by policy",
            needs: &[],
            run: prot_05::<C>,
        },
        Scenario {
            id: "PROT-06",
            title: "PROT answered with 503 because PBSZ is missing",
            needs: &[],
            run: prot_06::<C>,
        },
        Scenario {
            id: "PROT-07",
            title: "PROT affects only later data connections; changes go before the port command",
            needs: &[],
            run: prot_07::<C>,
        },
        Scenario {
            id: "PROT-08",
            title: "Protection is set again after a re-login, REIN or AUTH",
            needs: &[],
            run: prot_08::<C>,
        },
    ]
}

// ---- helpers shared with pbsz.rs and pol.rs ----

/// The TLS versions a scenario with data handshakes runs under (SCENARIOS §1.4).
pub(super) const VERSIONS: [TlsVersion; 2] = [TlsVersion::Tls12, TlsVersion::Tls13];

/// Server options pinned to `version`.
pub(super) fn pinned(version: TlsVersion) -> ServerOptions {
    ServerOptions {
        tls_version: version,
        ..ServerOptions::default()
    }
}

/// Runs `run` once per TLS version, prefixing a failure with the version.
pub(super) fn each_version(mut run: impl FnMut(TlsVersion) -> Check) -> Check {
    for version in VERSIONS {
        run(version).map_err(|e| format!("{version:?}: {e}"))?;
    }
    Ok(())
}

/// The file content the scripts serve and expect.
pub(super) const CONTENT: &[u8] = b"The quick brown fox\r\njumps over the lazy dog.\r\n";

/// How long a clear data connection is watched for a ClientHello that must not come.
const NO_HELLO_WAIT: Duration = Duration::from_millis(200);

/// Receives commands, answering `TYPE I` with 200, until one that is not `TYPE I`; requires
/// it to be `command`. (The client sets the type before its first transfer, at a point the
/// scenarios of this group do not care about.)
pub(super) fn expect_after_type(c: &mut Conn, command: &str) -> Result<(), String> {
    let line = recv_after_type(c)?;
    ensure(line == command, || {
        format!("expected {command:?}, got {line:?}")
    })
}

/// The next command that is not `TYPE I` (each `TYPE I` is answered 200).
pub(super) fn recv_after_type(c: &mut Conn) -> Result<String, String> {
    loop {
        let line = c.recv()?;
        if line != "TYPE I" {
            return Ok(line);
        }
        c.send("200 Switching to Binary mode.")?;
    }
}

/// Expects `EPSV` (after an optional `TYPE I`) and answers 229 with a new listener.
pub(super) fn epsv_after_type(c: &mut Conn) -> Result<crate::server::DataListener, String> {
    let line = recv_after_type(c)?;
    ensure(line.eq_ignore_ascii_case("EPSV"), || {
        format!("expected EPSV, got {line:?}")
    })?;
    let listener = c.listen_data()?;
    c.send(&format!(
        "229 Entering Extended Passive Mode (|||{}|)",
        listener.port()
    ))?;
    Ok(listener)
}

/// Sends `payload` on an accepted data connection: inside TLS (then close_notify) when `tls`,
/// otherwise in the clear after checking that no ClientHello comes (A2). Then a FIN.
pub(super) fn serve_payload(mut data: DataConn, tls: bool, payload: &[u8]) -> Check {
    if tls {
        data.accept_tls()?;
        data.write_all(payload)?;
        data.close_notify()?;
    } else {
        let first = data.peek_first_byte(NO_HELLO_WAIT)?;
        ensure(first.is_none(), || {
            format!("A2: the client sent {first:?} on a clear download's data connection")
        })?;
        data.write_all(payload)?;
    }
    data.fin();
    Ok(())
}

/// `[epsv]` · `C* RETR f` · `S* 150` · the data (TLS when `tls`) · `S* 226`.
pub(super) fn serve_retr(c: &mut Conn, tls: bool, payload: &[u8]) -> Check {
    let listener = epsv_after_type(c)?;
    c.expect("RETR f")?;
    c.send("150 Opening BINARY mode data connection for f")?;
    let data = listener.accept(c)?;
    serve_payload(data, tls, payload)?;
    c.send("226 Transfer complete")
}

/// `[epsv]` · `C* STOR name` · `S* 150` · the upload (TLS when `tls`) · `S* 226`; returns the
/// bytes received.
pub(super) fn serve_stor(c: &mut Conn, name: &str, tls: bool) -> Result<Vec<u8>, String> {
    let listener = epsv_after_type(c)?;
    c.expect(&format!("STOR {name}"))?;
    c.send("150 Ok to send data.")?;
    let mut data = listener.accept(c)?;
    if tls {
        data.accept_tls()?;
    }
    let (bytes, _) = data.read_to_end()?;
    data.fin();
    c.send("226 Transfer complete")?;
    Ok(bytes)
}

/// Downloads `f` and checks it equals [`CONTENT`].
pub(super) fn download_content<C: SecureConnection>(
    client: &mut ftps_core::Client<C>,
    what: &str,
) -> Check {
    let mut file = Vec::new();
    ok(client.download("f", &mut file), what)?;
    ensure_eq(file.as_slice(), CONTENT, what)
}

/// Every `PBSZ` has the argument `0`, and every `PROT` follows a `PBSZ` sent since the last
/// `AUTH`, `USER` or `REIN` (RFC 4217 §9, SCENARIOS PBSZ-01, PROT-08).
pub(super) fn pbsz_precedes_prot(record: &Record) -> Check {
    let mut pbsz = false;
    for line in commands(record) {
        let upper = line.to_ascii_uppercase();
        let verb = upper.split(' ').next().unwrap_or_default();
        match verb {
            "AUTH" | "USER" | "REIN" => pbsz = false,
            "PBSZ" => {
                ensure_eq(upper.as_str(), "PBSZ 0", "PBSZ argument")?;
                pbsz = true;
            }
            "PROT" => ensure(pbsz, || {
                format!("{line:?} without a PBSZ since the last AUTH, USER or REIN")
            })?,
            _ => {}
        }
    }
    Ok(())
}

/// How many times exactly `line` was received.
pub(super) fn count(record: &Record, line: &str) -> usize {
    record.commands.iter().filter(|(_, c)| c == line).count()
}

/// Fails if a command was received whose verb, or whole line, is one of `forbidden`
/// (case-insensitive): `"PASS"` matches any PASS, `"PROT C"` only that line.
pub(super) fn none_of(record: &Record, forbidden: &[&str]) -> Check {
    let sent = commands(record);
    let bad: Vec<_> = sent
        .iter()
        .filter(|c| {
            let verb = c.split(' ').next().unwrap_or_default();
            forbidden
                .iter()
                .any(|f| verb.eq_ignore_ascii_case(f) || c.eq_ignore_ascii_case(f))
        })
        .collect();
    ensure(bad.is_empty(), || {
        format!("the client sent {bad:?} (all commands: {sent:?})")
    })
}

/// Per data connection, whether it had to be TLS: checks the count, the completed handshake
/// and A2's first byte.
pub(super) fn data_tls_pattern(record: &Record, expected: &[bool]) -> Check {
    let seen: Vec<bool> = record.data.iter().map(|d| d.tls).collect();
    ensure_eq(seen.as_slice(), expected, "TLS on each data connection")?;
    for (i, (d, tls)) in record.data.iter().zip(expected).enumerate() {
        ensure(d.tls_error.is_none(), || {
            format!("data connection {i}: tls error {:?}", d.tls_error)
        })?;
        let first = d.first_byte;
        let fits = if *tls {
            first == Some(0x16)
        } else {
            first != Some(0x16)
        };
        ensure(fits, || {
            format!("A2: data connection {i} starts with {first:?}, tls expected: {tls}")
        })?;
    }
    Ok(())
}

// ---- the scenarios ----

fn prot_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login_clear()?;
            // The client may send PROT C, but does not have to.
            let mut line = c.recv()?;
            if line == "PROT C" {
                c.send("200 Protection set to Clear")?;
                line = c.recv()?;
            }
            ensure(line == "TYPE I", || {
                format!("expected TYPE I (or PROT C), got {line:?}")
            })?;
            c.send("200 Switching to Binary mode.")?;
            let listener = epsv_after_type(c)?;
            c.expect("LIST")?;
            c.send("150 Here comes the directory listing.")?;
            let data = listener.accept(c)?;
            serve_payload(data, false, b"-rw-r--r-- 1 ftp ftp 47 Jan 01 00:00 f\r\n")?;
            c.send("226 Directory send OK.")?;
            let uploaded = serve_stor(c, "f", false)?;
            ensure_eq(uploaded.as_slice(), CONTENT, "uploaded bytes")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(
                h.builder(server)
                    .data_protection(ProtectionLevel::Clear)
                    .connect(h.connector()),
                "connect",
            )?;
            ensure_eq(
                client.data_protection(),
                ProtectionLevel::Clear,
                "data level before login",
            )?;
            ok(client.login("alice", "secret"), "login")?;
            ensure_eq(
                client.data_protection(),
                ProtectionLevel::Clear,
                "data level after login",
            )?;
            let lines = ok(client.list(None), "LIST")?;
            ensure_eq(
                lines,
                vec!["-rw-r--r-- 1 ftp ftp 47 Jan 01 00:00 f".to_owned()],
                "listing",
            )?;
            let outcome = ok(client.upload("f", &mut &CONTENT[..]), "STOR f")?;
            ensure_eq(
                outcome.clean_tls_shutdown(),
                None,
                "tls shutdown of a clear upload",
            )?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| {
            ensure_eq(count(record, "PROT P"), 0, "PROT P sent")?;
            data_tls_pattern(record, &[false, false])?;
            ensure_eq(
                record.data[1].first_byte,
                Some(CONTENT[0]),
                "upload's first byte",
            )?;
            a2_data_protection(record, false)
        },
    )
}

fn prot_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_version(|version| {
        // The normal case: the data handshake, then the content.
        scripted(
            pinned(version),
            |c| {
                c.secure_login()?;
                serve_retr(c, true, CONTENT)?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                download_content(&mut client, "RETR f")?;
                let data = client.last_data_session_info();
                ensure(data.is_some(), || {
                    "no data TLS session reported after a protected download".into()
                })?;
                ok(client.noop(), "NOOP").map(drop)
            },
            |record| {
                data_tls_pattern(record, &[true])?;
                a2_data_protection(record, true)
            },
        )?;
        // Cleartext where TLS is expected: never file content, even with a 226.
        scripted(
            pinned(version),
            |c| {
                c.secure_login()?;
                let listener = epsv_after_type(c)?;
                c.expect("RETR f")?;
                c.send("150 Opening BINARY mode data connection for f")?;
                let mut data = listener.accept(c)?;
                let first = data.peek_first_byte(Duration::from_secs(2))?;
                ensure_eq(first, Some(0x16), "A2: the client's first data byte")?;
                data.write_all(b"cleartext that is not a TLS record\r\n")?;
                data.fin();
                c.send("226 Transfer complete")?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let mut file = Vec::new();
                let e = err(
                    client.download("f", &mut file),
                    "RETR f with cleartext data",
                )?;
                ensure(
                    matches!(
                        e,
                        Error::Tls {
                            phase: Phase::DataHandshake | Phase::Data,
                            ..
                        }
                    ),
                    || format!("expected a data tls error, got {e:?}"),
                )?;
                ensure(file.is_empty(), || {
                    format!(
                        "cleartext passed on as file content: {:?}",
                        String::from_utf8_lossy(&file)
                    )
                })?;
                ensure_usable(&e, true)?;
                ok(client.noop(), "NOOP").map(drop)
            },
            |record| a2_data_protection(record, true),
        )
        .map_err(|e| format!("cleartext data variant: {e}"))
    })
}

fn prot_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // The suite-wide transcript check must be able to fail.
    for line in ["PROT S", "PROT E", "prot s"] {
        let fake = Record {
            commands: vec![(true, line.to_owned())],
            ..Record::default()
        };
        ensure(no_prot_s_or_e(&fake).is_err(), || {
            format!("the PROT-03 transcript check accepts {line:?}")
        })?;
    }
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            for line in ["PROT S", "PROT E", "prot s", "Prot e", "PROT S "] {
                let e = err(client.raw(line), line)?;
                ensure(matches!(e, Error::InvalidArgument(_)), || {
                    format!("{line:?}: expected InvalidArgument, got {e:?}")
                })?;
                ensure_usable(&e, true)?;
            }
            ensure_eq(
                client.data_protection(),
                ProtectionLevel::Private,
                "data level after the refused raw commands",
            )?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| {
            no_prot_s_or_e(record)?;
            ensure_eq(
                commands(record),
                [
                    "AUTH TLS",
                    "USER alice",
                    "PASS secret",
                    "PBSZ 0",
                    "PROT P",
                    "NOOP",
                ]
                .map(String::from)
                .to_vec(),
                "commands (nothing sent for the refused raw PROT)",
            )
        },
    )
}

fn prot_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let cases: [(u16, &'static str); 5] = [
        (534, "534 Unwilling to accept security parameters"),
        (431, "431 Necessary security resource unavailable"),
        (536, "536 Requested PROT level not supported by mechanism"),
        (504, "504 Command not implemented for that parameter"),
        (500, "500 PROT not understood"),
    ];
    for (code, reply) in cases {
        scripted(
            ServerOptions::default(),
            move |c| {
                c.secure_login_clear()?;
                c.expect("PROT P")?;
                c.send(reply)?;
                noop_ok(c)?;
                // A transfer asked for later tries PROT P again, and sends no transfer command.
                expect_after_type(c, "PROT P")?;
                c.send(reply)?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect(server), "connect")?;
                let e = err(client.login("alice", "secret"), "login with PROT P refused")?;
                ensure(matches!(e, Error::DataProtectionRefused { .. }), || {
                    format!("expected DataProtectionRefused, got {e:?}")
                })?;
                ensure_code(&e, code)?;
                ensure_usable(&e, true)?;
                if code == 431 {
                    let class = e.reply().map(ftps_core::reply::Reply::class);
                    ensure_eq(
                        class,
                        Some(ftps_core::reply::ReplyClass::TransientNegative),
                        "class of the 431 refusal",
                    )?;
                }
                ensure_eq(
                    client.data_protection(),
                    ProtectionLevel::Clear,
                    "data level after the refusal",
                )?;
                ok(client.noop(), "NOOP")?;
                let mut file = Vec::new();
                let e = err(client.download("f", &mut file), "RETR at the refused level")?;
                ensure(matches!(e, Error::DataProtectionRefused { .. }), || {
                    format!("transfer: expected DataProtectionRefused, got {e:?}")
                })?;
                ensure_usable(&e, true)?;
                ok(client.noop(), "NOOP").map(drop)
            },
            |record| {
                none_of(
                    record,
                    &[
                        "EPSV", "PASV", "EPRT", "PORT", "RETR", "STOR", "LIST", "PROT C",
                    ],
                )?;
                ensure(record.data.is_empty(), || {
                    "a data connection was opened".into()
                })
            },
        )
        .map_err(|e| format!("reply {code}: {e}"))?;
    }
    // The opt-in "prefer Private": go on at Clear, and say so.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login_clear()?;
            c.expect("PROT P")?;
            c.send("534 Unwilling to accept security parameters")?;
            serve_retr(c, false, CONTENT)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(
                h.builder(server)
                    .danger_prefer_private_data()
                    .connect(h.connector()),
                "connect with the opt-in",
            )?;
            ok(client.login("alice", "secret"), "login with the opt-in")?;
            ensure_eq(
                client.data_protection(),
                ProtectionLevel::Clear,
                "reported data level",
            )?;
            download_content(&mut client, "RETR f at Clear")?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| {
            ensure_eq(count(record, "PROT P"), 1, "PROT P sent")?;
            data_tls_pattern(record, &[false])
        },
    )
    .map_err(|e| format!("prefer-Private opt-in: {e}"))
}

fn prot_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_version(|version| {
        scripted(
            pinned(version),
            |c| {
                c.secure_login()?;
                c.expect("PROT C")?;
                c.send("534 Unwilling to accept security parameters")?;
                serve_retr(c, true, CONTENT)?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let e = err(
                    client.set_data_protection_level(ProtectionLevel::Clear),
                    "PROT C",
                )?;
                ensure(matches!(e, Error::DataProtectionRefused { .. }), || {
                    format!("expected DataProtectionRefused, got {e:?}")
                })?;
                ensure_code(&e, 534)?;
                ensure_usable(&e, true)?;
                ensure_eq(
                    client.data_protection(),
                    ProtectionLevel::Private,
                    "data level after the refused PROT C",
                )?;
                download_content(&mut client, "RETR f (still Private)")?;
                ok(client.noop(), "NOOP").map(drop)
            },
            |record| {
                ensure_eq(count(record, "PROT C"), 1, "PROT C sent")?;
                data_tls_pattern(record, &[true])?;
                a2_data_protection(record, true)
            },
        )
    })
}

fn prot_06<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    const NEED_PBSZ: &str = "503 You must issue the PBSZ command prior to PROT.";
    /// After `[secure-login C]`: `PROT P` · 503 · `PBSZ 0` · 200 · `PROT P` · `second`.
    fn retry(c: &mut Conn, second: &str) -> Check {
        c.expect("PROT P")?;
        c.send(NEED_PBSZ)?;
        c.expect("PBSZ 0")?;
        c.send("200 PBSZ=0")?;
        c.expect("PROT P")?;
        c.send(second)
    }
    // a) At login.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login_clear()?;
            retry(c, "200 Protection set to Private")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "login")?;
            ensure_eq(
                client.data_protection(),
                ProtectionLevel::Private,
                "data level",
            )?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| ensure_eq(count(record, "PBSZ 0"), 2, "PBSZ 0 sent"),
    )
    .map_err(|e| format!("at login: {e}"))?;
    // b) When the user switches from Clear to Private; the next transfer is protected.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login_clear()?;
            c.expect("PROT C")?;
            c.send("200 Protection set to Clear")?;
            retry(c, "200 Protection set to Private")?;
            serve_retr(c, true, CONTENT)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(
                h.builder(server)
                    .data_protection(ProtectionLevel::Clear)
                    .connect(h.connector()),
                "connect",
            )?;
            ok(client.login("alice", "secret"), "login")?;
            ok(
                client.set_data_protection_level(ProtectionLevel::Private),
                "switch to Private",
            )?;
            download_content(&mut client, "RETR f")?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| data_tls_pattern(record, &[true]),
    )
    .map_err(|e| format!("switching to Private: {e}"))?;
    // c) A second 503: Reply{503}, usable, no third try.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login_clear()?;
            retry(c, NEED_PBSZ)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect(server), "connect")?;
            let e = err(client.login("alice", "secret"), "login with two 503s")?;
            ensure(matches!(e, Error::Reply { .. }), || {
                format!("expected a Reply error, got {e:?}")
            })?;
            ensure_code(&e, 503)?;
            ensure_usable(&e, true)?;
            ensure_eq(
                client.data_protection(),
                ProtectionLevel::Clear,
                "data level",
            )?;
            ok(client.noop(), "NOOP").map(drop)
        },
        |record| ensure_eq(count(record, "PROT P"), 2, "PROT P sent"),
    )
    .map_err(|e| format!("second 503: {e}"))
}

/// `[epsv]` · `C* LIST` · `S* 150` · the listing · `S* 226`, with the protection of the data
/// connection decided by `prot` either when the TCP connection is accepted (pyftpdlib) or at
/// the transfer command (RFC 4217 §10.2).
fn list_at(c: &mut Conn, accept_time: bool, prot: ProtectionLevel, n: usize) -> Check {
    let listener = epsv_after_type(c)?;
    let early = if accept_time {
        Some((listener.accept(c)?, prot == ProtectionLevel::Private))
    } else {
        None
    };
    c.expect("LIST")?;
    c.send("150 Here comes the directory listing.")?;
    let (data, tls) = match early {
        Some(d) => d,
        None => (listener.accept(c)?, prot == ProtectionLevel::Private),
    };
    serve_payload(data, tls, format!("listing {n}\r\n").as_bytes())?;
    c.send("226 Directory send OK.")
}

fn prot_07<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    use ProtectionLevel::{Clear, Private};
    // (level asked for, accepted by the server)
    const STEPS: [(ProtectionLevel, bool); 4] = [
        (Clear, true),
        (Private, true),
        (Clear, true),
        (Private, false),
    ];
    each_version(|version| {
        for accept_time in [false, true] {
            scripted(
                pinned(version),
                move |c| {
                    c.secure_login()?;
                    let mut prot = Private;
                    for (n, (level, accepted)) in STEPS.into_iter().enumerate() {
                        c.expect(match level {
                            Clear => "PROT C",
                            _ => "PROT P",
                        })?;
                        if accepted {
                            c.send("200 PROT now set")?;
                            prot = level;
                        } else {
                            c.send("534 Unwilling to accept security parameters")?;
                        }
                        list_at(c, accept_time, prot, n)?;
                    }
                    noop_ok(c)
                },
                |server| {
                    let mut client = ok(h.connect_login(server), "connect and login")?;
                    let mut level_now = Private;
                    for (n, (level, accepted)) in STEPS.into_iter().enumerate() {
                        let result = client.set_data_protection_level(level);
                        if accepted {
                            ok(result, &format!("PROT {level:?}"))?;
                            level_now = level;
                        } else {
                            let e = err(result, &format!("refused PROT {level:?}"))?;
                            ensure(matches!(e, Error::DataProtectionRefused { .. }), || {
                                format!("expected DataProtectionRefused, got {e:?}")
                            })?;
                            ensure_code(&e, 534)?;
                            ensure_usable(&e, true)?;
                        }
                        ensure_eq(client.data_protection(), level_now, "data level")?;
                        let lines = ok(client.list(None), &format!("LIST {n}"))?;
                        ensure_eq(lines, vec![format!("listing {n}")], "listing")?;
                    }
                    ok(client.noop(), "NOOP").map(drop)
                },
                |record| data_tls_pattern(record, &[false, true, false, false]),
            )
            .map_err(|e| {
                let mode = if accept_time {
                    "decided at accept"
                } else {
                    "decided at the transfer command"
                };
                format!("protection {mode}: {e}")
            })?;
        }
        Ok(())
    })
}

fn prot_08<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    /// `USER bob` · 331 · `PASS pw` · 230 on a logged-in session.
    fn relogin(c: &mut Conn) -> Check {
        c.expect("USER bob")?;
        c.send("331 Previous account information was flushed, send password.")?;
        c.expect("PASS pw")?;
        c.send("230 Login successful.")
    }
    fn reprotect(c: &mut Conn) -> Check {
        expect_after_type(c, "PBSZ 0")?;
        c.send("200 PBSZ=0")?;
        expect_after_type(c, "PROT P")?;
        c.send("200 Protection set to Private")
    }
    let checks = |record: &Record| {
        pbsz_precedes_prot(record)?;
        ensure_eq(count(record, "PBSZ 0"), 2, "PBSZ 0 sent")?;
        ensure_eq(count(record, "PROT P"), 2, "PROT P sent")?;
        data_tls_pattern(record, &[true])?;
        a2_data_protection(record, true)
    };
    each_version(|version| {
        // a) The typed login again.
        scripted(
            pinned(version),
            |c| {
                c.secure_login()?;
                relogin(c)?;
                reprotect(c)?;
                serve_retr(c, true, CONTENT)?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                ok(client.login("bob", "pw"), "login as bob")?;
                ensure_eq(
                    client.data_protection(),
                    ProtectionLevel::Private,
                    "data level",
                )?;
                download_content(&mut client, "RETR f")?;
                ok(client.noop(), "NOOP").map(drop)
            },
            checks,
        )
        .map_err(|e| format!("typed re-login: {e}"))?;
        // b) USER and PASS through the raw API: PBSZ and PROT go before the next transfer.
        scripted(
            pinned(version),
            |c| {
                c.secure_login()?;
                relogin(c)?;
                reprotect(c)?;
                serve_retr(c, true, CONTENT)?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                ok(client.raw("USER bob"), "raw USER bob")?;
                ok(client.raw("PASS pw"), "raw PASS")?;
                ensure_eq(
                    client.data_protection(),
                    ProtectionLevel::Clear,
                    "data level known after the new USER",
                )?;
                download_content(&mut client, "RETR f")?;
                ok(client.noop(), "NOOP").map(drop)
            },
            checks,
        )
        .map_err(|e| format!("raw re-login: {e}"))
    })
}
