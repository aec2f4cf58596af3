//! CERT-01 … CERT-04: client certificates and the logins that go with them (RFC 4217 §4.2,
//! §10.1, §15.1.2; RFC 2228 §4).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ftps_core::command::Secret;
use ftps_core::{Capability, Client, Error, Phase, SecureConnection, TlsErrorKind};

use super::steps::{noop_ok, protect, secure_handshake, send_file, type_i, OPENING_F};
use super::{
    download_eq, each_pinned, ensure_kind, ensure_usable_error, ensure_usable_reply, final_noop,
    next_call_unusable, scripted, CONTENT,
};
use crate::checks::{ensure, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{ClientAuth, Conn, Record, ServerOptions, TestServer};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "CERT-01",
            title: "USER answered with 232: no PASS",
            needs: &[Capability::ClientCert],
            run: cert_01::<C>,
        },
        Scenario {
            id: "CERT-02",
            title: "A certificate is requested, none is configured",
            needs: &[],
            run: cert_02::<C>,
        },
        Scenario {
            id: "CERT-03",
            title: "A certificate is required, and none or the wrong one is presented",
            needs: &[],
            run: cert_03::<C>,
        },
        Scenario {
            id: "CERT-04",
            title: "A 336 challenge",
            needs: &[],
            run: cert_04::<C>,
        },
    ]
}

/// How long the server waits for the client to give up after a failed handshake.
const GONE_WAIT: Duration = Duration::from_secs(3);

/// `options` with client certificates asked for as `auth`.
fn asking(options: ServerOptions, auth: ClientAuth) -> ServerOptions {
    ServerOptions {
        client_auth: auth,
        ..options
    }
}

/// No `PASS` line reached the server, protected or not.
fn no_pass(record: &Record) -> Check {
    let pass = record
        .command_lines()
        .iter()
        .any(|l| l.len() >= 4 && l[..4].eq_ignore_ascii_case("PASS"));
    ensure(!pass, || {
        format!("PASS was sent: {:?}", record.command_lines())
    })
}

/// Connects with the connector that presents the test client certificate.
fn connect_with_cert<C: SecureConnection>(
    h: &Harness<C>,
    server: &TestServer,
) -> Result<Client<C>, String> {
    let connector = h.connector_with_client_cert()?;
    ok(
        h.builder(server).connect(connector),
        "connect with a client certificate",
    )
}

/// `TYPE I`, `[epsv]`, `RETR f` of [`CONTENT`] in TLS, then the closing `NOOP`.
fn serve_f_then_noop(c: &mut Conn) -> Check {
    type_i(c)?;
    let mut data = super::steps::open_retr(c, "f", OPENING_F)?;
    data.accept_tls()?;
    send_file(c, data, CONTENT)?;
    noop_ok(c)
}

// ---- CERT-01 ---------------------------------------------------------------------------------

fn cert_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let client_der = h.pki().client_cert_der().to_vec();
    each_pinned(h, |options| {
        cert_01_232(h, options.clone(), &client_der).map_err(|e| format!("232: {e}"))?;
        cert_01_331(h, options.clone()).map_err(|e| format!("331 without a password: {e}"))?;
        cert_01_332(h, options).map_err(|e| format!("332 with an account: {e}"))
    })
}

/// The certificate logs the user in: `USER` is still sent, `232` ends the login, no `PASS`.
fn cert_01_232<C: SecureConnection>(
    h: &Harness<C>,
    options: ServerOptions,
    client_der: &[u8],
) -> Check {
    let client_der = client_der.to_vec();
    scripted(
        asking(options, ClientAuth::Require),
        |c| {
            secure_handshake(c)?;
            c.expect("USER alice")?;
            c.send("232 User logged in, authorized by security data exchange.")?;
            protect(c)?;
            serve_f_then_noop(c)
        },
        |server| {
            let mut client = connect_with_cert(h, server)?;
            ok(
                client.login_with_certificate("alice"),
                "login by certificate",
            )?;
            download_eq(&mut client, "f", CONTENT)?;
            final_noop(&mut client)
        },
        move |record| {
            no_pass(record)?;
            ensure_eq(
                record.control_client_cert.as_deref(),
                Some(client_der.as_slice()),
                "client certificate on the control connection",
            )?;
            ensure_eq(record.data.len(), 1, "data connections")
        },
    )
}

/// The server wants a password after all and none is configured: an error, and no `PASS`.
fn cert_01_331<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        asking(options, ClientAuth::Require),
        |c| {
            secure_handshake(c)?;
            c.expect("USER alice")?;
            c.send("331 Password required")?;
            noop_ok(c)
        },
        |server| {
            let mut client = connect_with_cert(h, server)?;
            let e = err(
                client.login_with_certificate("alice"),
                "login by certificate",
            )?;
            ensure_usable_error(
                &e,
                matches!(e, Error::PasswordRequired { .. }),
                "PasswordRequired",
                331,
            )?;
            final_noop(&mut client)
        },
        no_pass,
    )
}

/// A `332` to `USER` is answered with the configured account, protected.
fn cert_01_332<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        asking(options, ClientAuth::Require),
        |c| {
            secure_handshake(c)?;
            c.expect("USER alice")?;
            c.send("332 Need account for login.")?;
            c.expect("ACCT billing")?;
            c.send("230 Logged in.")?;
            protect(c)?;
            noop_ok(c)
        },
        |server| {
            let mut client = connect_with_cert(h, server)?;
            ok(
                client.login_with_prompt("alice", Some("billing"), |_| None),
                "login by certificate with an account",
            )?;
            final_noop(&mut client)
        },
        |record| {
            no_pass(record)?;
            let acct = record.commands.iter().find(|(_, l)| l.starts_with("ACCT"));
            ensure(acct.is_some_and(|(protected, _)| *protected), || {
                format!("ACCT was not sent protected: {:?}", record.commands)
            })
        },
    )
}

// ---- CERT-02 ---------------------------------------------------------------------------------

/// The server asks for a certificate but does not insist: the client without one sends an
/// empty Certificate, and the usual login and a transfer follow.
fn cert_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        scripted(
            asking(options, ClientAuth::Request),
            |c| {
                c.secure_login()?;
                serve_f_then_noop(c)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                download_eq(&mut client, "f", CONTENT)?;
                final_noop(&mut client)
            },
            |record| {
                ensure_eq(
                    record.control_client_cert.as_deref(),
                    None,
                    "client certificate on the control connection",
                )
            },
        )
    })
}

// ---- CERT-03 ---------------------------------------------------------------------------------

fn cert_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        cert_03_a(h, options.clone()).map_err(|e| format!("a (handshake refused): {e}"))?;
        cert_03_b(h, options.clone(), "530 Client certificate required.")
            .map_err(|e| format!("b (530 to every command): {e}"))?;
        cert_03_b(h, options.clone(), "534 Client certificate required.")
            .map_err(|e| format!("b (534 to every command): {e}"))?;
        cert_03_b_421(h, options).map_err(|e| format!("b (421 and close): {e}"))
    })
}

/// a) The server fails the handshake with `certificate_required`. With TLS 1.3 the client's
/// side of the handshake has ended by then, so the alert arrives on the first read (the reply
/// to `USER`, which went out protected); either way the error is a control TLS error of kind
/// [`TlsErrorKind::ClientCertificateRequired`], and the connection is unusable.
fn cert_03_a<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        asking(options, ClientAuth::Require),
        |c| {
            c.send("220 ftps test server ready")?;
            c.expect("AUTH TLS")?;
            c.send("234 Proceed with negotiation.")?;
            match c.start_tls() {
                Ok(()) => Err("the handshake completed without a client certificate".into()),
                Err(_) => c.wait_client_gone(GONE_WAIT),
            }
        },
        |server| {
            let mut connected = None;
            let e = match h.connect(server) {
                Err(e) => e,
                Ok(client) => {
                    let client = connected.insert(client);
                    err(client.login("alice", "secret"), "login")?
                }
            };
            let fits = matches!(
                &e,
                Error::Tls { phase: Phase::ControlHandshake | Phase::Control, source, .. }
                    if source.kind() == TlsErrorKind::ClientCertificateRequired
            );
            ensure_kind(&e, fits, "Tls{control, ClientCertificateRequired}")?;
            ensure_usable(&e, false)?;
            match connected.as_mut() {
                Some(client) => next_call_unusable(client),
                None => Ok(()),
            }
        },
        no_pass,
    )
}

/// b) The handshake completes without a certificate, and the server refuses every command with
/// `refusal` (530 or 534): the login fails with that reply, and the connection stays usable
/// (the next command gets its own reply, the same refusal).
fn cert_03_b<C: SecureConnection>(h: &Harness<C>, options: ServerOptions, refusal: &str) -> Check {
    let code: u16 = refusal[..3].parse().map_err(|_| "bad refusal")?;
    let script_refusal = refusal.to_owned();
    scripted(
        asking(options, ClientAuth::Request),
        move |c| {
            secure_handshake(c)?;
            c.expect("USER alice")?;
            c.send(&script_refusal)?;
            c.expect("NOOP")?;
            c.send(&script_refusal)
        },
        |server| {
            let mut client = ok(h.connect(server), "connect")?;
            let e = err(client.login("alice", "secret"), "login")?;
            ensure_usable_reply(&e, code)?;
            let next = err(client.noop(), "NOOP after the refused login")?;
            ensure_usable_reply(&next, code)
        },
        no_pass,
    )
}

/// b) The handshake completes without a certificate, and the server answers `USER` with a
/// protected `421` and closes: `ServiceClosing`, unusable.
fn cert_03_b_421<C: SecureConnection>(h: &Harness<C>, options: ServerOptions) -> Check {
    scripted(
        asking(options, ClientAuth::Request),
        |c| {
            secure_handshake(c)?;
            c.expect("USER alice")?;
            c.send_then_close_notify("421 Client certificate required, closing.")?;
            c.fin();
            Ok(())
        },
        |server| {
            let mut client = ok(h.connect(server), "connect")?;
            let e = err(client.login("alice", "secret"), "login")?;
            ensure_kind(
                &e,
                matches!(&e, Error::ServiceClosing { reply } if reply.code() == 421),
                "ServiceClosing{421}",
            )?;
            ensure_usable(&e, false)?;
            next_call_unusable(&mut client)
        },
        no_pass,
    )
}

// ---- CERT-04 ---------------------------------------------------------------------------------

/// A `336` reply carries a challenge: the password callback sees it before `PASS` (protected)
/// carries its response.
fn cert_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    each_pinned(h, |options| {
        let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let prompts = Arc::clone(&seen);
        scripted(
            options,
            |c| {
                secure_handshake(c)?;
                c.expect("USER alice")?;
                c.send("336 Username okay, need password. Challenge is \"8235\"")?;
                c.expect("PASS response-to-8235")?;
                c.send("230 Logged in.")?;
                protect(c)?;
                noop_ok(c)
            },
            |server| {
                let mut client = ok(h.connect(server), "connect")?;
                ok(
                    client.login_with_prompt("alice", None::<&str>, |prompt| {
                        let challenge = prompt.challenge();
                        prompts
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(challenge.clone());
                        challenge
                            .filter(|c| c.contains("8235"))
                            .map(|_| Secret::new("response-to-8235"))
                    }),
                    "login with a challenge",
                )?;
                final_noop(&mut client)
            },
            |record| {
                let pass = record.commands.iter().find(|(_, l)| l.starts_with("PASS"));
                ensure(pass.is_some_and(|(protected, _)| *protected), || {
                    format!("PASS was not sent protected: {:?}", record.commands)
                })
            },
        )?;
        let prompts = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
        ensure_eq(
            prompts,
            vec![Some(
                "Username okay, need password. Challenge is \"8235\"".to_owned(),
            )],
            "the challenges the password callback saw",
        )
    })
}
