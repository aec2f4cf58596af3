//! REPLY-01, REPLY-02, REPLY-03, REPLY-06: the shapes of replies: single-line replies and the
//! first digit, multi-line replies, continuation styles, greetings.

use std::time::Duration;

use ftps_core::{Error, SecureConnection};

use super::{connect_noop, crlf, ensure_lines, noop_200, STAT_211, STAT_211_LINES};
use crate::checks::{ensure, ensure_code, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenarios::steps::{accept_auth, noop_ok, typed_retr, upgrade};
use crate::scenarios::transcript::ensure_commands;
use crate::scenarios::{ensure_kind, ensure_usable_reply, scripted};
use crate::server::ServerOptions;

pub(super) fn reply_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("NOOP")?;
            c.send("299 Done")?;
            c.expect("DELE x")?;
            c.send("599 Nope")?;
            noop_ok(c)?;
            typed_retr(c, "f", b"payload", b"250 Transfer complete\r\n")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let reply = ok(client.noop(), "NOOP answered 299")?;
            ensure_eq(reply.code(), 299, "code of the NOOP reply")?;
            ensure_eq(reply.text(), "Done".to_owned(), "text of the NOOP reply")?;
            let e = err(client.delete("x"), "DELE answered 599")?;
            ensure_usable_reply(&e, 599)?;
            noop_200(&mut client, "NOOP after DELE")?;
            let mut file = Vec::new();
            let outcome = ok(client.download("f", &mut file), "RETR ending in 250")?;
            ensure_eq(file.as_slice(), b"payload", "downloaded bytes")?;
            ensure_eq(outcome.reply().code(), 250, "the transfer's final reply")?;
            noop_200(&mut client, "NOOP after RETR")
        },
        |_| Ok(()),
    )
}

pub(super) fn reply_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("STAT")?;
            c.send_raw(STAT_211)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let reply = ok(client.raw("STAT"), "STAT")?;
            ensure_eq(reply.code(), 211, "STAT reply code")?;
            ensure(!reply.truncated(), || "the reply says truncated".into())?;
            ensure_lines(&reply, &STAT_211_LINES, "STAT reply lines")?;
            noop_200(&mut client, "NOOP after STAT")
        },
        |_| Ok(()),
    )
}

/// A greeting as lines (without CRLF): everything but the last line is sent, the client must
/// stay silent, then the last line, then the AUTH exchange and a NOOP.
fn greeting_then_auth<C: SecureConnection>(
    h: &Harness<C>,
    name: &str,
    lines: Vec<String>,
) -> Check {
    let expected_lines = lines.len();
    scripted(
        ServerOptions::default(),
        move |c| {
            let (last, head) = lines.split_last().ok_or("empty greeting")?;
            let mut bytes = Vec::new();
            for line in head {
                bytes.extend_from_slice(&crlf(line));
            }
            c.send_raw(&bytes)?;
            c.expect_silence(Duration::from_millis(200))
                .map_err(|e| format!("before the terminating line: {e}"))?;
            c.send_raw(&crlf(last))?;
            upgrade(c, "234 Proceed")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect(server), "connect")?;
            let greeting = client.greeting().ok_or("no greeting kept")?;
            ensure_eq(greeting.code(), 220, "greeting code")?;
            ensure_eq(greeting.lines().len(), expected_lines, "greeting lines")?;
            noop_200(&mut client, "NOOP reply")
        },
        |record| ensure_commands(record, &["AUTH TLS", "NOOP"], "commands"),
    )
    .map_err(|e| format!("variant {name}: {e}"))
}

pub(super) fn reply_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    greeting_then_auth(h, "a", owned(&["220-Welcome", "220-to", "220 ready"]))?;
    greeting_then_auth(h, "b", owned(&["220-Welcome", " to", "220 ready"]))?;
    greeting_then_auth(h, "c", owned(&["220-", "220-", "220 "]))?;
    let mut banner: Vec<String> = (1..=39)
        .map(|i| format!("220-Banner line {i:02}: this server is for authorised use only"))
        .collect();
    banner.push("220 ready".to_owned());
    greeting_then_auth(h, "d (40-line banner)", banner)?;
    // FEAT (RFC 2389 §3.2): feature lines start with one space, the list ends with `211 End`.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("FEAT")?;
            c.send_raw(b"211-Extensions supported:\r\n EPSV\r\n MDTM\r\n PBSZ\r\n PROT\r\n SIZE\r\n UTF8\r\n211 End\r\n")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let features = ok(client.feat(), "FEAT")?;
            for name in ["EPSV", "MDTM", "PBSZ", "PROT", "SIZE", "UTF8"] {
                ensure(features.supports(name), || {
                    format!("FEAT: {name} not found in {features:?}")
                })?;
            }
            ensure(!features.supports("End"), || {
                "FEAT: the terminating line was read as a feature".into()
            })?;
            noop_200(&mut client, "NOOP after FEAT")
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("FEAT: {e}"))
}

pub(super) fn reply_06<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) `120`, then `220` 300 ms later; nothing may be sent in between.
    scripted(
        ServerOptions::default(),
        |c| {
            c.send("120 Service ready in 1 minutes")?;
            c.expect_silence(Duration::from_millis(300))
                .map_err(|e| format!("between 120 and 220: {e}"))?;
            accept_auth(c, "220 ready", "234 Proceed")?;
            noop_ok(c)
        },
        |server| connect_noop(h, server),
        |_| Ok(()),
    )
    .map_err(|e| format!("variant a (120 then 220): {e}"))?;
    // b) `421`, then a close.
    scripted(
        ServerOptions::default(),
        |c| {
            c.send("421 Too many connections")?;
            c.expect_silence(Duration::from_millis(300))
                .map_err(|e| format!("after 421: {e}"))?;
            c.fin();
            Ok(())
        },
        |server| {
            let e = err(h.connect(server), "connect")?;
            ensure_kind(
                &e,
                matches!(e, Error::ServiceClosing { .. }),
                "ServiceClosing",
            )?;
            ensure_code(&e, 421)?;
            ensure_usable(&e, false)
        },
        |record| {
            ensure(
                record.commands.is_empty() && record.cleartext.is_empty(),
                || {
                    format!(
                        "the client sent {:?}",
                        String::from_utf8_lossy(&record.cleartext)
                    )
                },
            )
        },
    )
    .map_err(|e| format!("variant b (421): {e}"))?;
    // c) A 220 whose text contains UTF-8.
    scripted(
        ServerOptions::default(),
        |c| {
            accept_auth(c, "220 Willkommen, Grüße aus 日本 – ready", "234 Proceed")?;
            noop_ok(c)
        },
        |server| connect_noop(h, server),
        |_| Ok(()),
    )
    .map_err(|e| format!("variant c (UTF-8 greeting): {e}"))
}
