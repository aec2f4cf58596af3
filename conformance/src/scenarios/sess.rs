//! SESS-01 … SESS-07: TLS session reuse on data connections (RFC 4217 §10.2, §15.1, RFC 8446
//! §4.6.1 and Appendix C.4).
//!
//! SESS-05 b's optional strict "same certificate" mode is not checked: the client has no such
//! mode. SESS-05 d runs for backends that declare a client certificate, with the connector the
//! factory makes for it.

use std::cell::RefCell;
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use ftps_core::{
    Capabilities, Capability, Client, Error, Phase, SecureConnection, ServerName, SessionInfo,
    TlsError, TlsErrorKind,
};

use super::steps::{noop_ok, open_retr, retr_opened, send_file, type_i, OPENING_F};
use super::{
    download_matching, each_supported_version, final_noop, login_failed_download, pattern, pinned,
    scripted,
};
use crate::checks::{
    a1_nothing_sensitive, a2_data_protection, describe, ensure, ensure_eq, ensure_usable,
    no_prot_s_or_e, ok, Check,
};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{
    CertChoice, ClientAuth, Conn, DataConn, MemFs, Record, ServeOptions, ServerOptions, TestServer,
    TlsVersion,
};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "SESS-01",
            title: "TLS 1.2: data connections resume the control session",
            needs: &[Capability::Resumption],
            run: sess_01::<C>,
        },
        Scenario {
            id: "SESS-02",
            title: "TLS 1.3: tickets arrive after the handshake",
            needs: &[Capability::Resumption, Capability::Tls13],
            run: sess_02::<C>,
        },
        Scenario {
            id: "SESS-03",
            title: "Enough tickets for many data connections",
            needs: &[Capability::Resumption, Capability::Tls13],
            run: sess_03::<C>,
        },
        Scenario {
            id: "SESS-04",
            title: "The server refuses a data handshake that does not resume",
            // What a backend without resumption meets at every vsftpd: it must work for all.
            needs: &[],
            run: sess_04::<C>,
        },
        Scenario {
            id: "SESS-05",
            title: "The identity on the data connection: server name, server certificate, client certificate",
            needs: &[],
            run: sess_05::<C>,
        },
        Scenario {
            id: "SESS-06",
            title: "The negotiated sessions can be inspected",
            needs: &[Capability::Describe],
            run: sess_06::<C>,
        },
        Scenario {
            id: "SESS-07",
            title: "Two control connections to one server: each data connection resumes its own session",
            needs: &[Capability::Resumption],
            run: sess_07::<C>,
        },
    ]
}

// ---- helpers -------------------------------------------------------------------------------

/// The record's name of a pinned version, as the server reports it.
fn record_version(v: TlsVersion) -> Option<&'static str> {
    match v {
        TlsVersion::Tls12 => Some("TLSv1.2"),
        TlsVersion::Tls13 => Some("TLSv1.3"),
        TlsVersion::Any => None,
    }
}

/// `[secure-login]`, the server's data sessions forgotten (as if the client's session cache had
/// been cleared: nothing can resume), then `C* TYPE I` · `S* 200` · `[epsv]` · `C* RETR f` ·
/// `S* 150` · `D tcp`, without the data handshake.
fn retr_forgotten(c: &mut Conn) -> Result<DataConn, String> {
    c.secure_login()?;
    c.forget_data_sessions();
    type_i(c)?;
    open_retr(c, "f", OPENING_F)
}

/// The data handshake on `data`; if it fails, the server closes the data connection, answers
/// `refusal` and fails the script with `what`.
fn handshake_or_refuse(
    c: &mut Conn,
    mut data: DataConn,
    refusal: &str,
    what: &str,
) -> Result<DataConn, String> {
    if let Err(e) = data.accept_tls() {
        data.fin();
        c.send(refusal)?;
        return Err(format!("{what}: {e}"));
    }
    Ok(data)
}

/// Fails unless every data connection in `record` did a TLS handshake that resumed.
fn all_resumed(record: &Record, expected: usize) -> Check {
    ensure_eq(record.data.len(), expected, "data connections")?;
    for (i, d) in record.data.iter().enumerate() {
        ensure(d.resumed == Some(true), || {
            format!(
                "data connection {} of {expected} was not resumed (resumed={:?}, error={:?})",
                i + 1,
                d.resumed,
                d.tls_error
            )
        })?;
    }
    Ok(())
}

/// Fails unless every data connection whose handshake completed sent the control connection's
/// SNI (the server learns it only from a handshake it completes).
fn same_sni(record: &Record) -> Check {
    ensure(record.control_sni.is_some(), || {
        "the control ClientHello had no SNI for the host name localhost".into()
    })?;
    for (i, d) in record.data.iter().enumerate() {
        if d.tls {
            ensure_eq(
                d.sni.as_deref(),
                record.control_sni.as_deref(),
                &format!("SNI of data connection {}", i + 1),
            )?;
        }
    }
    Ok(())
}

/// The session a transfer reports must say `resumed`, unless the backend does not describe
/// sessions (then it may say nothing, never something else).
fn reported_resumed(caps: Capabilities, info: Option<&SessionInfo>, what: &str) -> Check {
    let resumed = info.and_then(SessionInfo::resumed);
    if caps.supports(Capability::Describe) {
        ensure_eq(resumed, Some(true), &format!("{what}: reported resumption"))
    } else {
        ensure(resumed.is_none() || resumed == Some(true), || {
            format!("{what}: reported resumed={resumed:?}")
        })
    }
}

/// Runs `Conn::serve` over `files` as the whole script (with `serve`'s defaults); `check` gets
/// the record and the files the server holds at the end.
fn served(
    options: ServerOptions,
    files: MemFs,
    client: impl FnOnce(&TestServer) -> Check,
    check: impl FnOnce(&Record, &MemFs) -> Check,
) -> Check {
    let slot: Arc<Mutex<Option<MemFs>>> = Arc::new(Mutex::new(None));
    let out = slot.clone();
    scripted(
        options,
        move |c| {
            let mut fs = files;
            c.send("220 ftps test server ready")?;
            let result = c.serve(&mut fs, &ServeOptions::default());
            *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(fs);
            result
        },
        client,
        |record| {
            let fs = slot
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .ok_or_else(|| "the server left no files".to_owned())?;
            check(record, &fs)
        },
    )
}

// ---- the scenarios ---------------------------------------------------------------------------

fn sess_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let caps = h.capabilities();
    let file = pattern(100_000, 1);
    let upload = pattern(70_000, 2);
    let options = ServerOptions {
        tls_version: TlsVersion::Tls12,
        require_resumption: true,
        ..ServerOptions::default()
    };
    let (expected_file, expected_upload) = (file.clone(), upload.clone());
    served(
        options,
        MemFs::with_files([("f", file.as_slice())]),
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let listing = ok(client.list(None), "LIST")?;
            ensure(listing.iter().any(|l| l.ends_with(" f")), || {
                format!("LIST does not show f: {listing:?}")
            })?;
            reported_resumed(caps, client.last_data_session_info(), "LIST")?;
            let mut got = Vec::new();
            let outcome = ok(client.download("f", &mut got), "RETR f")?;
            ensure(got == expected_file, || {
                format!("RETR f: {} bytes differ from the file", got.len())
            })?;
            reported_resumed(caps, outcome.data_session(), "RETR")?;
            let outcome = ok(
                client.upload("up", &mut expected_upload.as_slice()),
                "STOR up",
            )?;
            reported_resumed(caps, outcome.data_session(), "STOR")?;
            ok(client.quit(), "QUIT").map(drop)
        },
        |record, fs| {
            ensure_eq(
                record.control_version.as_deref(),
                Some("TLSv1.2"),
                "control version",
            )?;
            all_resumed(record, 3)?;
            for d in &record.data {
                ensure_eq(d.version.as_deref(), Some("TLSv1.2"), "data version")?;
            }
            a2_data_protection(record, true)?;
            same_sni(record)?;
            ensure(fs.get("up") == Some(upload.as_slice()), || {
                format!(
                    "the server holds {:?} bytes for up, expected {}",
                    fs.get("up").map(<[u8]>::len),
                    upload.len()
                )
            })
        },
    )
}

fn sess_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let caps = h.capabilities();
    let options = ServerOptions {
        tls_version: TlsVersion::Tls13,
        tls13_tickets: 2,
        defer_control_tickets: true,
        require_resumption: true,
        ..ServerOptions::default()
    };
    scripted(
        options,
        |c| {
            let data = retr_opened(c)?;
            let data = handshake_or_refuse(
                c,
                data,
                "522 SSL connection failed; session reuse required",
                "the first data handshake",
            )?;
            send_file(c, data, b"ticket content")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let outcome = download_matching(&mut client, "f", b"ticket content")?;
            reported_resumed(caps, outcome.data_session(), "RETR")?;
            final_noop(&mut client)
        },
        |record| {
            ensure_eq(
                record.control_version.as_deref(),
                Some("TLSv1.3"),
                "control version",
            )?;
            all_resumed(record, 1)?;
            same_sni(record)
        },
    )
}

fn sess_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let caps = h.capabilities();
    let options = ServerOptions {
        tls_version: TlsVersion::Tls13,
        tls13_tickets: 2,
        data_tls13_tickets: 1,
        require_resumption: true,
        ..ServerOptions::default()
    };
    // Every upload: name and content.
    let uploads: Vec<(String, Vec<u8>)> = (0..31u8)
        .map(|i| (format!("u{i}"), pattern(20_000 + usize::from(i) * 997, i)))
        .collect();
    let expected = uploads.clone();
    served(
        options,
        MemFs::with_files([("f", &b"first file"[..])]),
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut transfers = 0usize;
            let list = |client: &mut Client<C>, transfers: &mut usize| -> Check {
                *transfers += 1;
                let what = format!("transfer {transfers} (LIST)");
                ok(client.list(None), &what)?;
                reported_resumed(caps, client.last_data_session_info(), &what)
            };
            let stor = |client: &mut Client<C>, transfers: &mut usize, i: usize| -> Check {
                *transfers += 1;
                let (name, content) = &uploads[i];
                let what = format!("transfer {transfers} (STOR {name})");
                let outcome = ok(client.upload(name, &mut content.as_slice()), &what)?;
                ensure_eq(outcome.bytes(), content.len() as u64, &what)?;
                reported_resumed(caps, outcome.data_session(), &what)
            };
            let retr = |client: &mut Client<C>, transfers: &mut usize, i: usize| -> Check {
                *transfers += 1;
                let (name, content) = &uploads[i];
                let what = format!("transfer {transfers} (RETR {name})");
                let mut got = Vec::new();
                let outcome = ok(client.download(name, &mut got), &what)?;
                ensure(&got == content, || {
                    format!(
                        "{what}: {} bytes, not the uploaded {}",
                        got.len(),
                        content.len()
                    )
                })?;
                reported_resumed(caps, outcome.data_session(), &what)
            };
            let t = &mut transfers;
            list(&mut client, t)?;
            list(&mut client, t)?;
            list(&mut client, t)?;
            stor(&mut client, t, 0)?;
            retr(&mut client, t, 0)?;
            list(&mut client, t)?;
            for i in 1..=10 {
                stor(&mut client, t, i)?;
                retr(&mut client, t, i)?;
            }
            for i in 11..=30 {
                stor(&mut client, t, i)?;
            }
            ensure_eq(transfers, 46, "transfers made")?;
            ok(client.quit(), "QUIT").map(drop)
        },
        |record, fs| {
            all_resumed(record, 46)?;
            a2_data_protection(record, true)?;
            for (name, content) in &expected {
                let held = fs.get(name);
                ensure(held == Some(content.as_slice()), || {
                    format!(
                        "upload {name} incomplete on the server: {:?} of {} bytes",
                        held.map(<[u8]>::len),
                        content.len()
                    )
                })?;
            }
            Ok(())
        },
    )
}

fn sess_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // vsftpd's words, and ProFTPD's (a 425; its TLS log says "client did not reuse TLS
    // session, rejecting data connection").
    for refusal in [
        "522 SSL connection failed; session reuse required",
        "425 Unable to build data connection: Operation not permitted",
    ] {
        sess_04_refused(h, refusal).map_err(|e| format!("{}: {e}", &refusal[..3]))?;
    }
    Ok(())
}

/// SESS-04 with the server's `refusal` after the data handshake it refused.
fn sess_04_refused<C: SecureConnection>(h: &Harness<C>, refusal: &'static str) -> Check {
    let code: u16 = refusal[..3].parse().map_err(|_| "bad refusal code")?;
    each_supported_version(h, |version| {
        let options = ServerOptions {
            require_resumption: true,
            ..pinned(version)
        };
        scripted(
            options,
            |c| {
                let mut data = retr_forgotten(c)?;
                let handshake = data.accept_tls();
                data.fin();
                c.send(refusal)?;
                match handshake {
                    Ok(_) => Err("a data handshake resumed a forgotten session".into()),
                    Err(_) => noop_ok(c),
                }
            },
            |server| {
                let (mut client, e, got) = login_failed_download(h, server, "f", "RETR f")?;
                ensure_usable(&e, true)?;
                match &e {
                    Error::Tls {
                        phase: Phase::Data | Phase::DataHandshake,
                        reply: Some(reply),
                        source,
                    } if reply.code() == code => {
                        ensure(source.kind() == TlsErrorKind::ResumptionRefused, || {
                            format!(
                                "tls error kind {:?} ({}), expected a refused resumption",
                                source.kind(),
                                describe(&e)
                            )
                        })
                    }
                    other => Err(format!(
                        "expected a data tls error with the reply {code}, got {other:?}"
                    )),
                }?;
                ensure(got.is_empty(), || {
                    format!("{} bytes given to the caller", got.len())
                })?;
                final_noop(&mut client)
            },
            |record| {
                ensure_eq(record.data.len(), 1, "data connections")?;
                ensure_eq(record.data[0].resumed, Some(false), "data resumed")
            },
        )
    })
}

fn sess_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_supported_version(h, |version| {
        sess_05_accepted(h, version, CertChoice::Valid, false)
            .map_err(|e| format!("a (same certificate): {e}"))?;
        sess_05_accepted(h, version, CertChoice::AltValid, true)
            .map_err(|e| format!("b (another valid certificate): {e}"))?;
        for bad in [CertChoice::WrongName, CertChoice::SelfSigned] {
            sess_05_refused(h, version, bad)
                .map_err(|e| format!("c ({bad:?} certificate): {e}"))?;
        }
        if h.capabilities().supports(Capability::ClientCert) {
            sess_05_client_cert(h, version).map_err(|e| format!("d (client certificate): {e}"))?;
        }
        Ok(())
    })
}

/// SESS-05 d: the server requires a client certificate on every connection; the client's
/// certificate reaches it on the data connections too, through resumption (the first) and in a
/// full handshake once the server forgot the data sessions (the second).
fn sess_05_client_cert<C: SecureConnection>(h: &Harness<C>, version: TlsVersion) -> Check {
    let options = ServerOptions {
        client_auth: ClientAuth::Require,
        ..pinned(version)
    };
    let client_der = h.pki().client_cert_der().to_vec();
    scripted(
        options,
        |c| {
            let data = retr_opened(c)?;
            let data = handshake_or_refuse(c, data, "522 SSL connection failed.", "data 1")?;
            send_file(c, data, b"first")?;
            c.forget_data_sessions();
            let data = open_retr(c, "f", OPENING_F)?;
            let data = handshake_or_refuse(c, data, "522 SSL connection failed.", "data 2")?;
            send_file(c, data, b"second")?;
            noop_ok(c)
        },
        |server| {
            let connector = h.connector_with_client_cert()?;
            let mut client = ok(
                h.builder(server).connect(connector),
                "connect with a client certificate",
            )?;
            ok(client.login("alice", "secret"), "login")?;
            download_matching(&mut client, "f", b"first")?;
            download_matching(&mut client, "f", b"second")?;
            final_noop(&mut client)
        },
        move |record| {
            ensure_eq(
                record.control_client_cert.as_deref(),
                Some(client_der.as_slice()),
                "client certificate on the control connection",
            )?;
            ensure_eq(record.data.len(), 2, "data connections")?;
            for (i, d) in record.data.iter().enumerate() {
                ensure_eq(
                    d.client_cert.as_deref(),
                    Some(client_der.as_slice()),
                    &format!("client certificate on data connection {}", i + 1),
                )?;
            }
            ensure_eq(record.data[1].resumed, Some(false), "data 2 resumed")
        },
    )
}

/// SESS-05 a and b: the data certificate is accepted; with `full`, the data handshake cannot
/// resume, so the certificate is really presented.
fn sess_05_accepted<C: SecureConnection>(
    h: &Harness<C>,
    version: TlsVersion,
    cert: CertChoice,
    full: bool,
) -> Check {
    let options = ServerOptions {
        data_cert: cert,
        ..pinned(version)
    };
    let presented = h.pki().cert_der(cert).to_vec();
    scripted(
        options,
        move |c| {
            let data = if full {
                retr_forgotten(c)?
            } else {
                retr_opened(c)?
            };
            let data =
                handshake_or_refuse(c, data, "522 SSL connection failed.", "data handshake")?;
            send_file(c, data, b"identity")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let outcome = download_matching(&mut client, "f", b"identity")?;
            if let Some(der) = outcome
                .data_session()
                .and_then(SessionInfo::peer_certificate)
            {
                ensure(der == presented.as_slice(), || {
                    "the data session reports another certificate than the one presented".into()
                })?;
            }
            final_noop(&mut client)
        },
        |record| {
            ensure_eq(record.data.len(), 1, "data connections")?;
            if full {
                ensure_eq(record.data[0].resumed, Some(false), "data resumed")?;
            }
            same_sni(record)
        },
    )
}

/// SESS-05 c: a data certificate that is not valid for the name (or not trusted) is refused.
fn sess_05_refused<C: SecureConnection>(
    h: &Harness<C>,
    version: TlsVersion,
    cert: CertChoice,
) -> Check {
    let options = ServerOptions {
        data_cert: cert,
        ..pinned(version)
    };
    scripted(
        options,
        |c| {
            let mut data = retr_forgotten(c)?;
            match data.accept_tls() {
                Ok(_) => {
                    // The client accepted the certificate; the client side reports it.
                    send_file(c, data, b"secret")?;
                    Ok(())
                }
                Err(_) => {
                    data.fin();
                    c.send("522 SSL connection failed.")?;
                    noop_ok(c)
                }
            }
        },
        |server| {
            let (mut client, e, got) = login_failed_download(h, server, "f", "RETR f")?;
            ensure(got.is_empty(), || {
                format!("{} bytes given to the caller", got.len())
            })?;
            match &e {
                Error::Tls {
                    phase: Phase::Data | Phase::DataHandshake,
                    source,
                    ..
                } => ensure(
                    matches!(
                        source.kind(),
                        TlsErrorKind::CertificateInvalid | TlsErrorKind::NameMismatch
                    ),
                    || {
                        format!(
                            "tls error kind {:?}, expected a certificate error",
                            source.kind()
                        )
                    },
                ),
                other => Err(format!("expected a data certificate error, got {other:?}")),
            }?;
            ensure_usable(&e, true)?;
            final_noop(&mut client)
        },
        same_sni,
    )
}

/// A cipher suite name in one spelling: rustls' `TLS13_AES_128_GCM_SHA256` and the IANA
/// `TLS_AES_128_GCM_SHA256` are the same suite.
fn cipher_key(name: &str) -> String {
    let upper = name.to_ascii_uppercase().replace('-', "_");
    match upper.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => upper,
    }
}

/// Compares what the client reports about one session with what the server negotiated.
fn same_session(
    what: &str,
    info: Option<&SessionInfo>,
    version: Option<&str>,
    cipher: Option<&str>,
    resumed: Option<bool>,
    cert: &[u8],
) -> Check {
    let info = info.ok_or_else(|| format!("{what}: no session description"))?;
    ensure_eq(info.protocol_version(), version, &format!("{what} version"))?;
    let reported = info
        .cipher_suite()
        .ok_or_else(|| format!("{what}: the cipher suite is not reported"))?;
    let negotiated = cipher.ok_or_else(|| format!("{what}: the server recorded no cipher"))?;
    ensure_eq(
        cipher_key(reported),
        cipher_key(negotiated),
        &format!("{what} cipher suite"),
    )?;
    ensure_eq(info.resumed(), resumed, &format!("{what} resumed"))?;
    if let Some(der) = info.peer_certificate() {
        ensure(der == cert, || {
            format!("{what}: the reported peer certificate is not the server's")
        })?;
    }
    Ok(())
}

fn sess_06<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_supported_version(h, |version| {
        let cert = h.pki().cert_der(CertChoice::Valid).to_vec();
        let seen: RefCell<Option<(Option<SessionInfo>, Option<SessionInfo>)>> = RefCell::new(None);
        scripted(
            pinned(version),
            |c| {
                let mut data = retr_opened(c)?;
                data.accept_tls()?;
                send_file(c, data, b"described")?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                let outcome = download_matching(&mut client, "f", b"described")?;
                ensure_eq(
                    outcome.data_session(),
                    client.last_data_session_info(),
                    "the transfer's and the client's data session",
                )?;
                *seen.borrow_mut() = Some((
                    client.control_session_info(),
                    client.last_data_session_info().cloned(),
                ));
                final_noop(&mut client)
            },
            |record| {
                let (control, data) = seen
                    .borrow_mut()
                    .take()
                    .ok_or_else(|| "no session descriptions".to_owned())?;
                ensure_eq(
                    record.control_version.as_deref(),
                    record_version(version),
                    "negotiated control version",
                )?;
                same_session(
                    "control",
                    control.as_ref(),
                    record.control_version.as_deref(),
                    record.control_cipher.as_deref(),
                    Some(false),
                    &cert,
                )?;
                let d = record
                    .data
                    .first()
                    .ok_or_else(|| "no data connection".to_owned())?;
                same_session(
                    "data",
                    data.as_ref(),
                    d.version.as_deref(),
                    d.cipher.as_deref(),
                    d.resumed,
                    &cert,
                )
            },
        )
    })
}

/// One connector shared by several clients: "two clients built from one configuration".
struct Shared<C>(Arc<C>);

impl<C: SecureConnection> SecureConnection for Shared<C> {
    type Stream = C::Stream;

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }

    fn secure_control(&self, tcp: TcpStream, server: &ServerName) -> Result<C::Stream, TlsError> {
        self.0.secure_control(tcp, server)
    }

    fn secure_data(
        &self,
        tcp: TcpStream,
        server: &ServerName,
        control: &C::Stream,
    ) -> Result<C::Stream, TlsError> {
        self.0.secure_data(tcp, server, control)
    }
}

const SESS_07_ROUNDS: usize = 10;

fn sess_07<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_supported_version(h, |version| sess_07_once(h, version))
}

/// One SESS-07 run under `version`: two clients from one connector, ten rounds each, every
/// data connection resuming its own control session.
fn sess_07_once<C: SecureConnection>(h: &Harness<C>, version: TlsVersion) -> Check {
    let caps = h.capabilities();
    let options = ServerOptions {
        require_resumption: true,
        ..pinned(version)
    };
    let file = pattern(30_000, 7);
    let served_files: Arc<Mutex<Vec<MemFs>>> = Arc::new(Mutex::new(Vec::new()));
    let out = served_files.clone();
    let initial = file.clone();
    let server = TestServer::start_many(options, 2, move |c| {
        let mut fs = MemFs::with_files([("f", initial.as_slice())]);
        c.send("220 ftps test server ready")?;
        let result = c.serve(&mut fs, &ServeOptions::default());
        out.lock().unwrap_or_else(|e| e.into_inner()).push(fs);
        result
    });
    let connector = Arc::new(h.connector());
    let client_result = (|| -> Check {
        let mut a = ok(
            h.builder(&server).connect(Shared(connector.clone())),
            "connect A",
        )?;
        let mut b = ok(
            h.builder(&server).connect(Shared(connector.clone())),
            "connect B",
        )?;
        ok(a.login("alice", "secret"), "login A")?;
        ok(b.login("alice", "secret"), "login B")?;
        for round in 1..=SESS_07_ROUNDS {
            let what = |s: &str| format!("round {round}: {s}");
            ok(a.list(None), &what("A LIST"))?;
            reported_resumed(caps, a.last_data_session_info(), &what("A LIST"))?;
            ok(b.list(None), &what("B LIST"))?;
            reported_resumed(caps, b.last_data_session_info(), &what("B LIST"))?;
            let mut got = Vec::new();
            let outcome = ok(a.download("f", &mut got), &what("A RETR"))?;
            ensure(got == file, || what("A RETR: the file differs"))?;
            reported_resumed(caps, outcome.data_session(), &what("A RETR"))?;
            let content = pattern(10_000 + round, round as u8);
            let name = format!("b{round}");
            let outcome = ok(b.upload(&name, &mut content.as_slice()), &what("B STOR"))?;
            reported_resumed(caps, outcome.data_session(), &what("B STOR"))?;
        }
        ok(a.quit(), "QUIT A")?;
        ok(b.quit(), "QUIT B").map(drop)
    })();
    let records = match (client_result, server.finish_all()) {
        (Err(c), Err(s)) => return Err(format!("{c} (server: {s})")),
        (Err(c), Ok(_)) => return Err(c),
        (Ok(()), Err(s)) => return Err(format!("server: {s}")),
        (Ok(()), Ok(records)) => records,
    };
    ensure_eq(records.len(), 2, "control connections")?;
    for (i, record) in records.iter().enumerate() {
        a1_nothing_sensitive(record)?;
        no_prot_s_or_e(record)?;
        all_resumed(record, SESS_07_ROUNDS * 2)
            .map_err(|e| format!("control connection {}: {e}", i + 1))?;
    }
    let files = served_files.lock().unwrap_or_else(|e| e.into_inner());
    let uploads = files
        .iter()
        .find(|fs| fs.contains("b1"))
        .ok_or_else(|| "no server holds B's uploads".to_owned())?;
    for round in 1..=SESS_07_ROUNDS {
        let name = format!("b{round}");
        ensure(
            uploads.get(&name) == Some(pattern(10_000 + round, round as u8).as_slice()),
            || format!("upload {name} is incomplete on the server"),
        )?;
    }
    Ok(())
}
