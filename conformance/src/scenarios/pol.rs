//! POL-01 … POL-04: server policy refusals before securing, and transfers refused at the
//! current PROT level (RFC 4217 §4.2, §10.1, §10.2, §10.4; RFC 2228 §3, §6).

use std::time::Duration;

use ftps_core::{Client, DataConnectionMode, Error, ProtectionLevel, SecureConnection};

use super::steps::{answer_epsv, noop_ok, parse_port_arg, recv_after_type, serve_retr};
use super::transcript::{count, data_tls_pattern, ensure_commands, none_of};
use super::{
    connect_login_with, connect_plain, download_content, download_fails, ensure_level,
    ensure_usable_error, ensure_usable_reply, final_noop, next_call_unusable, scripted,
    scripted_plain, CONTENT,
};
use crate::checks::{ensure, ensure_code, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, DataEnd, DataListener, Record, ServerOptions};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "POL-01",
            title: "530 to USER, then a close (vsftpd)",
            needs: &[],
            run: pol_01::<C>,
        },
        Scenario {
            id: "POL-02",
            title: "550 or 534 to USER (ProFTPD, pyftpdlib)",
            needs: &[],
            run: pol_02::<C>,
        },
        Scenario {
            id: "POL-03",
            title: "421 and a close (Pure-FTPd)",
            needs: &[],
            run: pol_03::<C>,
        },
        Scenario {
            id: "POL-04",
            title: "A transfer refused because of the current PROT level",
            needs: &[],
            run: pol_04::<C>,
        },
    ]
}

/// No PASS and no AUTH in the transcript: the client neither sent the password after the
/// refusal nor upgraded to TLS on its own (decision D3).
fn no_pass_no_auth(record: &Record) -> Check {
    none_of(record, &["PASS", "AUTH"])
}

/// After an error that leaves the connection unusable (or about to be, because the server
/// closes): the next call fails with an error that says unusable, and the one after fails
/// fast with [`Error::Unusable`].
fn dies_on_next_call<C: SecureConnection>(client: &mut Client<C>) -> Check {
    let e = err(client.noop(), "NOOP after the server closed")?;
    ensure_usable(&e, false)?;
    next_call_unusable(client)
}

fn pol_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted_plain(
        ServerOptions::default(),
        |c| {
            c.send("220 (vsFTPd 3.0.2)")?;
            c.expect("USER alice")?;
            c.send("530 Non-anonymous sessions must use encryption.")?;
            c.fin();
            Ok(())
        },
        |server| {
            let mut client = connect_plain(h, server)?;
            let e = err(client.login("alice", "secret"), "plain login")?;
            ensure(
                matches!(&e, Error::Reply { command, .. } if command == "USER"),
                || format!("expected a Reply error to USER, got {e:?}"),
            )?;
            ensure_code(&e, 530)?;
            let text = e.reply().map(|r| r.text()).unwrap_or_default();
            ensure(text.contains("must use encryption"), || {
                format!("the server's text is not kept: {text:?}")
            })?;
            if e.connection_usable() {
                // The client cannot know yet that the server closes: the next call must.
                dies_on_next_call(&mut client)
            } else {
                next_call_unusable(&mut client)
            }
        },
        |record| {
            no_pass_no_auth(record)?;
            ensure_commands(record, &["USER alice"], "commands")
        },
    )
}

fn pol_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    for (code, reply) in [
        (550, "550 SSL/TLS required on the control channel"),
        (534, "534 Request denied for policy reasons"),
    ] {
        scripted_plain(
            ServerOptions::default(),
            move |c| {
                c.send("220 ProFTPD Server ready.")?;
                c.expect("USER alice")?;
                c.send(reply)?;
                noop_ok(c)
            },
            |server| {
                let mut client = connect_plain(h, server)?;
                let e = err(client.login("alice", "secret"), "plain login")?;
                ensure_usable_reply(&e, code)?;
                ensure(!client.is_control_protected(), || {
                    "the client upgraded to tls on its own".into()
                })?;
                final_noop(&mut client)
            },
            no_pass_no_auth,
        )
        .map_err(|e| format!("{code} to USER: {e}"))?;
    }
    // USER accepted, PASS refused: the password has already crossed the wire in the clear,
    // which is why plain FTP is opt-in only.
    scripted_plain(
        ServerOptions::default(),
        |c| {
            c.send("220 ready")?;
            c.expect("USER alice")?;
            c.send("331 Password required")?;
            c.expect("PASS secret")?;
            c.send("530 SSL/TLS required on the control channel")?;
            noop_ok(c)
        },
        |server| {
            let mut client = connect_plain(h, server)?;
            let e = err(client.login("alice", "secret"), "plain login")?;
            ensure_usable_reply(&e, 530)?;
            final_noop(&mut client)
        },
        |record| {
            ensure(record.cleartext_has_verb("PASS"), || {
                "the PASS of this variant is not in the cleartext record".into()
            })?;
            none_of(record, &["AUTH"])
        },
    )
    .map_err(|e| format!("530 to PASS: {e}"))
}

fn pol_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted_plain(
        ServerOptions::default(),
        |c| {
            c.send_raw(
                b"220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n\
                  220-You are user number 1 of 50 allowed.\r\n\
                  220 This is a private system - No anonymous login\r\n",
            )?;
            c.expect("USER alice")?;
            c.send_raw(
                b"421-Sorry, cleartext sessions and weak ciphers are not accepted on this server.\r\n\
                  421 Please reconnect using TLS security mechanisms.\r\n",
            )?;
            c.fin();
            Ok(())
        },
        |server| {
            let mut client = connect_plain(h, server)?;
            let e = err(client.login("alice", "secret"), "plain login")?;
            ensure(matches!(e, Error::ServiceClosing { .. }), || {
                format!("expected ServiceClosing, got {e:?}")
            })?;
            ensure_code(&e, 421)?;
            ensure_usable(&e, false)?;
            let text = e.reply().map(|r| r.text()).unwrap_or_default();
            ensure(
                text.contains("cleartext sessions") && text.contains("reconnect using TLS"),
                || format!("the server's text is not kept whole: {text:?}"),
            )?;
            next_call_unusable(&mut client)
        },
        |record| {
            no_pass_no_auth(record)?;
            ensure_commands(record, &["USER alice"], "commands")
        },
    )
}

/// The next command after an optional `PROT C` (answered 200) and `TYPE I`s.
fn recv_after_prot_c(c: &mut Conn) -> Result<String, String> {
    let line = recv_after_type(c)?;
    if line != "PROT C" {
        return Ok(line);
    }
    c.send("200 Protection set to Clear")?;
    recv_after_type(c)
}

/// Expects `EPSV` after an optional `PROT C` and `TYPE I`, and answers 229.
fn epsv_first(c: &mut Conn) -> Result<DataListener, String> {
    let line = recv_after_prot_c(c)?;
    answer_epsv(c, &line)
}

/// A Clear-data client for `server`, logged in (`mode` chooses passive or active).
fn clear_client<C: SecureConnection>(
    h: &Harness<C>,
    server: &crate::server::TestServer,
    mode: DataConnectionMode,
) -> Result<Client<C>, String> {
    connect_login_with(
        h,
        server,
        |b| {
            b.data_protection(ProtectionLevel::Clear)
                .data_connection_mode(mode)
        },
        "connect",
    )
}

/// The transfer was refused at the current level with `code`:
/// [`Error::DataProtectionRequired`], usable.
fn protection_required(e: &Error, code: u16) -> Check {
    ensure_usable_error(
        e,
        matches!(e, Error::DataProtectionRequired { .. }),
        "DataProtectionRequired",
        code,
    )
}

fn pol_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let cases: [(u16, &'static str); 4] = [
        (
            521,
            "521 Data connection cannot be opened with this PROT setting.",
        ),
        (522, "522 SSL/TLS required on the data channel"),
        (522, "522 Data connections must be encrypted."),
        (534, "534 Request denied for policy reasons"),
    ];
    // Refused at the transfer command (passive): DataProtectionRequired, the data connection
    // closed, PROT unchanged, and the next transfer at the same level still tried.
    for (code, reply) in cases {
        scripted(
            ServerOptions::default(),
            move |c| {
                c.secure_login_clear()?;
                let listener = epsv_first(c)?;
                c.expect("RETR f")?;
                c.send(reply)?;
                // The client connected before RETR; it must close its side now.
                let mut data = listener.accept(c)?;
                let end = data.wait_client_close(Duration::from_secs(2));
                ensure(matches!(end, DataEnd::Fin | DataEnd::Reset), || {
                    format!("the client kept its data connection open after {code}: {end:?}")
                })?;
                noop_ok(c)?;
                serve_retr(c, false, CONTENT)?;
                noop_ok(c)
            },
            |server| {
                let mut client = clear_client(h, server, DataConnectionMode::Passive)?;
                let (e, _) = download_fails(&mut client, "f", "RETR f at Clear")?;
                protection_required(&e, code)?;
                ensure_level(
                    &client,
                    ProtectionLevel::Clear,
                    "data level after the refusal",
                )?;
                ok(client.noop(), "NOOP")?;
                download_content(&mut client, "the next RETR at the same level")?;
                final_noop(&mut client)
            },
            |record| {
                ensure_eq(count(record, "PROT P"), 0, "PROT P sent")?;
                ensure_eq(count(record, "RETR f"), 2, "RETR sent")?;
                ensure_eq(record.data.len(), 2, "data connections")?;
                ensure(!record.data[0].tls && !record.data[1].tls, || {
                    "a data connection used TLS at Clear".into()
                })
            },
        )
        .map_err(|e| format!("{reply:?}: {e}"))?;
    }
    // Active mode: the client's listener is closed after the refusal.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login_clear()?;
            let line = recv_after_prot_c(c)?;
            let arg = line
                .strip_prefix("PORT ")
                .ok_or_else(|| format!("expected PORT, got {line:?}"))?;
            let addr = parse_port_arg(arg)?;
            c.send("200 PORT command successful.")?;
            c.expect("RETR f")?;
            c.send("521 Data connection cannot be opened with this PROT setting.")?;
            noop_ok(c)?;
            // After the client has handled the refusal, its listener must be gone.
            match c.connect_data(addr) {
                Err(_) => Ok(()),
                Ok(mut data) => {
                    let end = data.wait_client_close(Duration::from_millis(500));
                    ensure(matches!(end, DataEnd::Fin | DataEnd::Reset), || {
                        format!("the client's listener at {addr} still accepts connections")
                    })
                }
            }
        },
        |server| {
            let mut client = clear_client(h, server, DataConnectionMode::Active)?;
            let (e, _) = download_fails(&mut client, "f", "RETR f in active mode")?;
            protection_required(&e, 521)?;
            final_noop(&mut client)
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("active mode: {e}"))?;
    // pyftpdlib: 550 to EPSV, before any transfer command.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login_clear()?;
            let line = recv_after_prot_c(c)?;
            ensure(line.eq_ignore_ascii_case("EPSV"), || {
                format!("expected EPSV, got {line:?}")
            })?;
            c.send("550 SSL/TLS required on the data channel.")?;
            noop_ok(c)
        },
        |server| {
            let mut client = clear_client(h, server, DataConnectionMode::Passive)?;
            let (e, _) = download_fails(&mut client, "f", "RETR f")?;
            ensure_usable_error(
                &e,
                matches!(&e, Error::Reply { command, .. } if command == "EPSV"),
                "a Reply error to EPSV",
                550,
            )?;
            final_noop(&mut client)
        },
        |record| {
            none_of(record, &["RETR", "PASV", "PROT P"])?;
            data_tls_pattern(record, &[])
        },
    )
    .map_err(|e| format!("550 to EPSV (pyftpdlib): {e}"))?;
    Ok(())
}
