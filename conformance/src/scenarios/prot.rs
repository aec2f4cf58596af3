//! PROT-01 … PROT-08: the data protection level (RFC 4217 §8, §9, §10.2; RFC 2228 §3).

use std::time::Duration;

use ftps_core::{Error, Phase, ProtectionLevel, SecureConnection};

use super::steps::{
    epsv_after_type, expect_after_type, noop_ok, open_retr_after_type, secure_login_noop,
    serve_list, serve_payload, serve_retr, serve_stor,
};
use super::transcript::{count, data_tls_pattern, ensure_login_then, none_of, pbsz_precedes_prot};
use super::{
    connect_login_with, download_content, download_fails, each_version, ensure_kind, ensure_level,
    ensure_shutdown, ensure_usable_error, final_noop, login_failed_download, login_refused, pinned,
    scripted, CONTENT,
};
use crate::checks::{
    a2_data_protection, ensure, ensure_eq, ensure_usable, err, no_prot_s_or_e, ok, Check,
};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, Record, ServerOptions};

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

/// The server refused the protection level with `code`: [`Error::DataProtectionRefused`],
/// usable.
fn protection_refused(e: &Error, code: u16) -> Check {
    ensure_usable_error(
        e,
        matches!(e, Error::DataProtectionRefused { .. }),
        "DataProtectionRefused",
        code,
    )
}

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
            serve_list(c, false, b"-rw-r--r-- 1 ftp ftp 47 Jan 01 00:00 f\r\n")?;
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
            ensure_level(&client, ProtectionLevel::Clear, "data level before login")?;
            ok(client.login("alice", "secret"), "login")?;
            ensure_level(&client, ProtectionLevel::Clear, "data level after login")?;
            let lines = ok(client.list(None), "LIST")?;
            ensure_eq(
                lines,
                vec!["-rw-r--r-- 1 ftp ftp 47 Jan 01 00:00 f".to_owned()],
                "listing",
            )?;
            let outcome = ok(client.upload("f", &mut &CONTENT[..]), "STOR f")?;
            ensure_shutdown(&outcome, None)?;
            final_noop(&mut client)
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
    each_version(h, |version| {
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
                final_noop(&mut client)
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
                let mut data = open_retr_after_type(c)?;
                let first = data.peek_first_byte(Duration::from_secs(2))?;
                ensure_eq(first, Some(0x16), "A2: the client's first data byte")?;
                data.write_all(b"cleartext that is not a TLS record\r\n")?;
                data.fin();
                c.send("226 Transfer complete")?;
                noop_ok(c)
            },
            |server| {
                let (mut client, e, file) =
                    login_failed_download(h, server, "f", "RETR f with cleartext data")?;
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
                final_noop(&mut client)
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
        secure_login_noop,
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            for line in ["PROT S", "PROT E", "prot s", "Prot e", "PROT S "] {
                let e = err(client.raw(line), line)?;
                ensure(matches!(e, Error::InvalidArgument(_)), || {
                    format!("{line:?}: expected InvalidArgument, got {e:?}")
                })?;
                ensure_usable(&e, true)?;
            }
            ensure_level(
                &client,
                ProtectionLevel::Private,
                "data level after the refused raw commands",
            )?;
            final_noop(&mut client)
        },
        |record| {
            no_prot_s_or_e(record)?;
            ensure_login_then(
                record,
                &["NOOP"],
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
                protection_refused(&e, code)?;
                if code == 431 {
                    let class = e.reply().map(ftps_core::reply::Reply::class);
                    ensure_eq(
                        class,
                        Some(ftps_core::reply::ReplyClass::TransientNegative),
                        "class of the 431 refusal",
                    )?;
                }
                ensure_level(
                    &client,
                    ProtectionLevel::Clear,
                    "data level after the refusal",
                )?;
                ok(client.noop(), "NOOP")?;
                let (e, _) = download_fails(&mut client, "f", "RETR at the refused level")?;
                ensure_kind(
                    &e,
                    matches!(e, Error::DataProtectionRefused { .. }),
                    "DataProtectionRefused for the transfer",
                )?;
                ensure_usable(&e, true)?;
                final_noop(&mut client)
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
            ensure_level(&client, ProtectionLevel::Clear, "reported data level")?;
            download_content(&mut client, "RETR f at Clear")?;
            final_noop(&mut client)
        },
        |record| {
            ensure_eq(count(record, "PROT P"), 1, "PROT P sent")?;
            data_tls_pattern(record, &[false])
        },
    )
    .map_err(|e| format!("prefer-Private opt-in: {e}"))
}

fn prot_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_version(h, |version| {
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
                protection_refused(&e, 534)?;
                ensure_level(
                    &client,
                    ProtectionLevel::Private,
                    "data level after the refused PROT C",
                )?;
                download_content(&mut client, "RETR f (still Private)")?;
                final_noop(&mut client)
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
            ensure_level(&client, ProtectionLevel::Private, "data level")?;
            final_noop(&mut client)
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
            let mut client = connect_login_with(
                h,
                server,
                |b| b.data_protection(ProtectionLevel::Clear),
                "connect",
            )?;
            ok(
                client.set_data_protection_level(ProtectionLevel::Private),
                "switch to Private",
            )?;
            download_content(&mut client, "RETR f")?;
            final_noop(&mut client)
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
        |server| login_refused(h, server, "login with two 503s", 503),
        |record| ensure_eq(count(record, "PROT P"), 2, "PROT P sent"),
    )
    .map_err(|e| format!("second 503: {e}"))
}

/// `[epsv]` · `C* LIST` · `S* 150` · the listing · `S* 226`, with the protection of the data
/// connection decided by `prot` either when the TCP connection is accepted (pyftpdlib) or at
/// the transfer command (RFC 4217 §10.2).
fn list_at(c: &mut Conn, accept_time: bool, prot: ProtectionLevel, n: usize) -> Check {
    let tls = prot == ProtectionLevel::Private;
    let listing = format!("listing {n}\r\n");
    if !accept_time {
        return serve_list(c, tls, listing.as_bytes());
    }
    let listener = epsv_after_type(c)?;
    let data = listener.accept(c)?;
    c.expect("LIST")?;
    c.send("150 Here comes the directory listing.")?;
    serve_payload(data, tls, listing.as_bytes())?;
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
    each_version(h, |version| {
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
                            protection_refused(&e, 534)?;
                        }
                        ensure_level(&client, level_now, "data level")?;
                        let lines = ok(client.list(None), &format!("LIST {n}"))?;
                        ensure_eq(lines, vec![format!("listing {n}")], "listing")?;
                    }
                    final_noop(&mut client)
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
    /// `[secure-login]`, then `USER bob` · 331 · `PASS pw` · 230, `PBSZ 0` and `PROT P` again
    /// (before the transfer, after an optional `TYPE I`), and a protected `RETR f`.
    fn relogin(c: &mut Conn) -> Check {
        c.secure_login()?;
        c.expect("USER bob")?;
        c.send("331 Previous account information was flushed, send password.")?;
        c.expect("PASS pw")?;
        c.send("230 Login successful.")?;
        expect_after_type(c, "PBSZ 0")?;
        c.send("200 PBSZ=0")?;
        expect_after_type(c, "PROT P")?;
        c.send("200 Protection set to Private")?;
        serve_retr(c, true, CONTENT)?;
        noop_ok(c)
    }
    let checks = |record: &Record| {
        pbsz_precedes_prot(record)?;
        ensure_eq(count(record, "PBSZ 0"), 2, "PBSZ 0 sent")?;
        ensure_eq(count(record, "PROT P"), 2, "PROT P sent")?;
        data_tls_pattern(record, &[true])?;
        a2_data_protection(record, true)
    };
    each_version(h, |version| {
        // a) The typed login again.
        scripted(
            pinned(version),
            relogin,
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                ok(client.login("bob", "pw"), "login as bob")?;
                ensure_level(&client, ProtectionLevel::Private, "data level")?;
                download_content(&mut client, "RETR f")?;
                final_noop(&mut client)
            },
            checks,
        )
        .map_err(|e| format!("typed re-login: {e}"))?;
        // b) USER and PASS through the raw API: PBSZ and PROT go before the next transfer.
        scripted(
            pinned(version),
            relogin,
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                ok(client.raw("USER bob"), "raw USER bob")?;
                ok(client.raw("PASS pw"), "raw PASS")?;
                ensure_level(
                    &client,
                    ProtectionLevel::Clear,
                    "data level known after the new USER",
                )?;
                download_content(&mut client, "RETR f")?;
                final_noop(&mut client)
            },
            checks,
        )
        .map_err(|e| format!("raw re-login: {e}"))
    })
}
