//! REPLY-04, REPLY-05: replies cut into reads anywhere, and several replies in one read.

use std::io::Read;

use ftps_core::{Error, SecureConnection};

use super::{connect_noop, ensure_lines, noop_200, noop_ok_reply, pause, STAT_211, STAT_211_LINES};
use crate::checks::{commands, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenarios::steps::{noop_ok, open_retr, type_set_to_i, upgrade, OPENING};
use crate::scenarios::transcript::ensure_commands;
use crate::scenarios::{
    connect_plain, each_supported_version, ensure_kind, pinned, scripted, scripted_plain,
};
use crate::server::{Conn, ServerOptions, TlsVersion};

/// How a script writes one reply (its bytes, CRLF included).
type Writer = fn(&mut Conn, &[u8]) -> Check;

/// One byte per TCP segment (or TLS record), with a short pause so reads see them apart.
fn bytewise(c: &mut Conn, bytes: &[u8]) -> Check {
    c.send_split(bytes, 1, std::time::Duration::from_millis(1))
}

/// The CR and the LF of every line end in different writes (records).
fn cr_lf_apart(c: &mut Conn, bytes: &[u8]) -> Check {
    let mut start = 0;
    for (i, pair) in bytes.windows(2).enumerate() {
        if pair == b"\r\n" {
            c.send_raw(&bytes[start..=i])?;
            pause(2)?;
            start = i + 1;
        }
    }
    c.send_raw(&bytes[start..])
}

/// The code itself is split: the first two bytes, then the rest.
fn code_split(c: &mut Conn, bytes: &[u8]) -> Check {
    let cut = bytes.len().min(2);
    c.send_raw(&bytes[..cut])?;
    pause(20)?;
    c.send_raw(&bytes[cut..])
}

/// `[secure-login]`, every reply written with `w`.
fn secure_login_with(c: &mut Conn, w: Writer) -> Check {
    w(c, b"220 ftps test server ready\r\n")?;
    c.expect("AUTH TLS")?;
    w(c, b"234 Proceed with negotiation.\r\n")?;
    c.start_tls()?;
    login_with(c, w)?;
    c.expect("PBSZ 0")?;
    w(c, b"200 PBSZ=0\r\n")?;
    c.expect("PROT P")?;
    w(c, b"200 Protection set to Private\r\n")
}

/// `USER alice`/`331`, `PASS secret`/`230`, the replies written with `w`.
fn login_with(c: &mut Conn, w: Writer) -> Check {
    c.expect("USER alice")?;
    w(c, b"331 Password required\r\n")?;
    c.expect("PASS secret")?;
    w(c, b"230 Logged in\r\n")
}

/// After the login: `C* PWD` · `S* 257` (`pwd_reply`) · `C* STAT` · `S* 211` ([`STAT_211`]) ·
/// `C* NOOP` · `S* 200`, every reply written with `w`.
fn pwd_stat_noop(c: &mut Conn, w: Writer, pwd_reply: &[u8]) -> Check {
    c.expect("PWD")?;
    w(c, pwd_reply)?;
    c.expect("STAT")?;
    w(c, STAT_211)?;
    c.expect("NOOP")?;
    w(c, b"200 NOOP ok\r\n")
}

/// A protected session whose every reply is written with `w`: login, PWD, a multi-line STAT
/// and NOOPs, which must give the same results as whole replies.
fn split_session<C: SecureConnection>(h: &Harness<C>, version: TlsVersion, w: Writer) -> Check {
    scripted(
        pinned(version),
        move |c| {
            secure_login_with(c, w)?;
            pwd_stat_noop(c, w, b"257 \"/home/alice\" is the current directory\r\n")
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let pwd = ok(client.pwd(), "PWD")?;
            ensure_eq(pwd.as_bytes(), b"/home/alice", "PWD path")?;
            let stat = ok(client.raw("STAT"), "STAT")?;
            ensure_eq(stat.code(), 211, "STAT code")?;
            ensure_lines(&stat, &STAT_211_LINES, "STAT lines")?;
            noop_ok_reply(&mut client, "NOOP")
        },
        |_| Ok(()),
    )
}

pub(super) fn reply_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) One byte per TCP segment, in the clear: a plain-FTP session (the user opted out of
    //    TLS), then the cleartext greeting and 234 of a protected one.
    scripted_plain(
        ServerOptions::default(),
        |c| {
            bytewise(c, b"220-Welcome\r\n220 ready\r\n")?;
            login_with(c, bytewise)?;
            pwd_stat_noop(c, bytewise, b"257 \"/\" is the current directory\r\n")
        },
        |server| {
            let mut client = connect_plain(h, server)?;
            ok(client.login("alice", "secret"), "login")?;
            ensure_eq(ok(client.pwd(), "PWD")?.as_bytes(), b"/", "PWD path")?;
            let stat = ok(client.raw("STAT"), "STAT")?;
            ensure_lines(&stat, &STAT_211_LINES, "STAT lines")?;
            noop_200(&mut client, "NOOP code")
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("variant a (plain FTP, bytewise): {e}"))?;
    each_supported_version(h, |version| {
        // a) the cleartext part of a protected session, and b) one byte per TLS record.
        split_session(h, version, bytewise).map_err(|e| format!("variants a/b (bytewise): {e}"))?;
        // c) CR and LF in different records.
        split_session(h, version, cr_lf_apart).map_err(|e| format!("variant c (CR|LF): {e}"))?;
        // d) The code itself split: `22` then `0 ready`, and so on for every reply.
        split_session(h, version, code_split).map_err(|e| format!("variant d (code split): {e}"))
    })
}

pub(super) fn reply_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) `120` and `220` in one segment.
    scripted(
        ServerOptions::default(),
        |c| {
            c.send_raw(b"120 Service ready in 1 minutes\r\n220 ready\r\n")?;
            upgrade(c, "234 Proceed")?;
            noop_ok(c)
        },
        |server| connect_noop(h, server),
        |record| ensure_commands(record, &["AUTH TLS", "NOOP"], "commands"),
    )
    .map_err(|e| format!("variant a (120+220): {e}"))?;
    // b) `150` and `226` in one segment, on a tiny transfer.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            type_set_to_i(c)?;
            let listener = c.epsv()?;
            c.expect("RETR tiny")?;
            c.send_raw(b"150 Opening BINARY mode data connection\r\n226 Transfer complete\r\n")?;
            let mut data = listener.accept(c)?;
            data.accept_tls()?;
            data.write_all(b"x")?;
            data.close_notify()?;
            data.fin();
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let mut file = Vec::new();
            let outcome = ok(client.download("tiny", &mut file), "RETR tiny")?;
            ensure_eq(file.as_slice(), b"x", "downloaded bytes")?;
            ensure_eq(outcome.reply().code(), 226, "final reply")?;
            noop_ok_reply(&mut client, "NOOP")
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("variant b (150+226): {e}"))?;
    // c) The transfer's `226` and the ABOR's `226` in one segment.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            type_set_to_i(c)?;
            let mut data = open_retr(c, "big", OPENING)?;
            data.accept_tls()?;
            data.write_all(&[b'b'; 4096])?;
            c.expect("ABOR")?;
            c.send_raw(b"226 Transfer complete\r\n226 ABOR command successful\r\n")?;
            data.fin();
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            {
                let mut download = ok(client.retr("big"), "RETR big")?;
                let mut first = [0u8; 16];
                download
                    .read_exact(&mut first)
                    .map_err(|e| format!("reading the download: {e}"))?;
                // Dropped without finish: the next call sends ABOR.
            }
            let e = err(client.noop(), "the call after the dropped download")?;
            ensure_kind(&e, matches!(e, Error::Aborted { .. }), "Aborted")?;
            ensure_usable(&e, true)?;
            // Its text must not be the ABOR's 226.
            noop_ok_reply(&mut client, "NOOP after ABOR")
        },
        |record| {
            let sent = commands(record);
            ensure_eq(
                sent[sent.len().saturating_sub(3)..].to_vec(),
                ["RETR big", "ABOR", "NOOP"].map(String::from).to_vec(),
                "the last commands",
            )
        },
    )
    .map_err(|e| format!("variant c (226+226 after ABOR): {e}"))
}
