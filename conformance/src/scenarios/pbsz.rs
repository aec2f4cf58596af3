//! PBSZ-01 … PBSZ-04: the protection buffer size (RFC 4217 §9, RFC 2228 §3).

use ftps_core::{Client, Error, ProtectionLevel, SecureConnection};

use super::steps::{
    answer_auth, login, login_and_protect, noop_ok, secure_handshake, secure_login_noop,
    secure_user, serve_list, serve_retr, serve_stor,
};
use super::transcript::{count, data_tls_pattern, ensure_login_then, none_of, pbsz_precedes_prot};
use super::{
    connect_login_with, connect_plain, download_content, each_version, ensure_level, final_noop,
    login_refused, pinned, scripted, scripted_plain, CONTENT,
};
use crate::checks::{a2_data_protection, ensure, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, Record, ServerOptions};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "PBSZ-01",
            title: "PBSZ 0 is sent, and before PROT",
            needs: &[],
            run: pbsz_01::<C>,
        },
        Scenario {
            id: "PBSZ-02",
            title: "The server answers with a PBSZ=n value",
            needs: &[],
            run: pbsz_02::<C>,
        },
        Scenario {
            id: "PBSZ-03",
            title: "PBSZ or PROT refused before login",
            needs: &[],
            run: pbsz_03::<C>,
        },
        Scenario {
            id: "PBSZ-04",
            title: "No PBSZ or PROT on a clear control connection",
            needs: &[],
            run: pbsz_04::<C>,
        },
    ]
}

fn pbsz_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let normal = scripted(
        ServerOptions::default(),
        secure_login_noop,
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            ensure_level(&client, ProtectionLevel::Private, "data level")?;
            final_noop(&mut client)
        },
        |record| {
            pbsz_precedes_prot(record)?;
            ensure_login_then(record, &["NOOP"], "commands")?;
            ensure(
                record
                    .commands
                    .iter()
                    .filter(|(_, c)| c.starts_with("PBSZ") || c.starts_with("PROT"))
                    .all(|(protected, _)| *protected),
                || format!("PBSZ or PROT outside TLS: {:?}", record.commands),
            )
        },
    );
    let refused = scripted(
        ServerOptions::default(),
        |c| {
            secure_user(c)?;
            c.expect("PBSZ 0")?;
            c.send("503 Bad sequence of commands.")?;
            noop_ok(c)
        },
        |server| login_refused(h, server, "login with PBSZ refused", 503),
        |record| none_of(record, &["PROT"]),
    )
    .map_err(|e| format!("503 variant: {e}"));
    normal.and(refused)
}

fn pbsz_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    for answer in [
        "200 PBSZ=16384",
        "200 PBSZ=0",
        "200 OK",
        "200 PBSZ=0 successful",
    ] {
        each_version(h, |version| {
            scripted(
                pinned(version),
                move |c| {
                    secure_user(c)?;
                    c.expect("PBSZ 0")?;
                    c.send(answer)?;
                    c.expect("PROT P")?;
                    c.send("200 Protection set to Private")?;
                    serve_retr(c, true, CONTENT)?;
                    let uploaded = serve_stor(c, "g", true)?;
                    // No RFC 2228 §6 length prefixes: the bytes are exactly the file.
                    ensure_eq(uploaded.as_slice(), CONTENT, "uploaded bytes")?;
                    noop_ok(c)
                },
                |server| {
                    let mut client = ok(h.connect_login(server), "connect and login")?;
                    download_content(&mut client, "RETR f")?;
                    ok(client.upload("g", &mut &CONTENT[..]), "STOR g")?;
                    final_noop(&mut client)
                },
                |record| {
                    ensure_eq(count(record, "PBSZ 0"), 1, "PBSZ sent")?;
                    data_tls_pattern(record, &[true, true])
                },
            )
        })
        .map_err(|e| format!("{answer:?}: {e}"))?;
    }
    Ok(())
}

fn pbsz_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    const NOT_LOGGED_IN: &str = "530 Please login with USER and PASS.";
    each_version(h, |version| {
        // a) PBSZ refused before login (the catalogue's script).
        // b) PBSZ accepted, PROT refused before login: the pair is sent again after login.
        for prot_refused in [false, true] {
            scripted(
                pinned(version),
                move |c| {
                    secure_handshake(c)?;
                    c.expect("PBSZ 0")?;
                    if prot_refused {
                        c.send("200 PBSZ=0")?;
                        c.expect("PROT P")?;
                    }
                    c.send(NOT_LOGGED_IN)?;
                    login_and_protect(c)?;
                    serve_retr(c, true, CONTENT)?;
                    noop_ok(c)
                },
                |server| {
                    let mut client = connect_login_with(
                        h,
                        server,
                        |b| b.protection_before_login(true),
                        "connect",
                    )?;
                    ensure_level(&client, ProtectionLevel::Private, "data level")?;
                    download_content(&mut client, "RETR f")?;
                    final_noop(&mut client)
                },
                |record| {
                    data_tls_pattern(record, &[true])?;
                    a2_data_protection(record, true)
                },
            )
            .map_err(|e| {
                let which = if prot_refused { "PROT" } else { "PBSZ" };
                format!("{which} refused before login: {e}")
            })?;
        }
        Ok(())
    })
}

fn pbsz_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    /// After the plain login: the refused requests send nothing, then a NOOP and a clear
    /// LIST.
    fn plain_rest(c: &mut Conn) -> Check {
        login(c)?;
        noop_ok(c)?;
        serve_list(c, false, b"f\r\n")?;
        noop_ok(c)
    }
    fn client_side<C: SecureConnection>(client: &mut Client<C>) -> Check {
        ok(client.login("alice", "secret"), "plain login")?;
        ensure(!client.is_control_protected(), || {
            "control reported protected".into()
        })?;
        let e = err(
            client.set_data_protection_level(ProtectionLevel::Private),
            "Private data on a clear control connection",
        )?;
        ensure(matches!(e, Error::InvalidState(_)), || {
            format!("expected InvalidState, got {e:?}")
        })?;
        ensure_usable(&e, true)?;
        for line in ["PBSZ 0", "PROT P", "PROT C"] {
            let e = err(client.raw(line), &format!("raw {line} in the clear"))?;
            ensure(matches!(e, Error::InvalidState(_)), || {
                format!("raw {line}: expected InvalidState, got {e:?}")
            })?;
            ensure_usable(&e, true)?;
        }
        ensure_level(client, ProtectionLevel::Clear, "data level")?;
        ok(client.noop(), "NOOP")?;
        ensure_eq(
            ok(client.list(None), "LIST")?,
            vec!["f".to_owned()],
            "listing",
        )?;
        final_noop(client)
    }
    let no_pbsz = |record: &Record| -> Check {
        none_of(record, &["PBSZ", "PROT"])?;
        data_tls_pattern(record, &[false])
    };
    // a) The user chose plain FTP.
    let plain = scripted_plain(
        ServerOptions::default(),
        |c| {
            c.send("220 ready")?;
            plain_rest(c)
        },
        |server| client_side(&mut connect_plain(h, server)?),
        no_pbsz,
    )
    .map_err(|e| format!("plain ftp: {e}"));
    // b) AUTH was refused and the user opted in to plain FTP (AUTH-05), asking for Private data.
    let fallback = scripted_plain(
        ServerOptions::default(),
        |c| {
            answer_auth(c, "220 ready", "502 Not implemented")?;
            plain_rest(c)
        },
        |server| {
            let mut client = ok(
                h.builder(server)
                    .danger_tls_if_available()
                    .data_protection(ProtectionLevel::Private)
                    .connect(h.connector()),
                "connect with the AUTH-05 opt-in",
            )?;
            client_side(&mut client)
        },
        no_pbsz,
    )
    .map_err(|e| format!("after a refused AUTH: {e}"));
    plain.and(fallback)
}
