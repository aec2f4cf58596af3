//! REPLY-01 … REPLY-12: reading replies end to end, over real sockets (RFC 959 §4.2, RFC 1123
//! §4.1.2.10-11, RFC 2228 §5.2, RFC 3659 §7).
//!
//! The reply parser has its own unit tests in `ftps-core`; these scenarios check that the
//! client, reading from a socket, parses replies however the bytes are cut into reads and TLS
//! records, keeps surplus bytes for the next reply, enforces its limits and never hands a stale
//! or unsolicited reply to a later command.

use std::io::Read;
use std::time::Duration;

use ftps_core::reply::{ReplyError, ReplyLimits};
use ftps_core::{Capability, Error, ProtocolError, SecureConnection};

use super::{noop_ok, scripted, scripted_plain};
use crate::checks::{commands, ensure, ensure_code, ensure_eq, ensure_usable, err, ok, Check};
use crate::harness::Harness;
use crate::scenario::Scenario;
use crate::server::{Conn, ServerOptions, TlsVersion};

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    vec![
        Scenario {
            id: "REPLY-01",
            title: "Single-line replies, and decisions by the first digit",
            needs: &[],
            run: reply_01::<C>,
        },
        Scenario {
            id: "REPLY-02",
            title: "A multi-line reply with lines that start with digits",
            needs: &[],
            run: reply_02::<C>,
        },
        Scenario {
            id: "REPLY-03",
            title: "Continuation styles in greetings and FEAT",
            needs: &[],
            run: reply_03::<C>,
        },
        Scenario {
            id: "REPLY-04",
            title: "Reads split anywhere; TLS record boundaries carry no meaning",
            needs: &[],
            run: reply_04::<C>,
        },
        Scenario {
            id: "REPLY-05",
            title: "Several replies in one read",
            needs: &[],
            run: reply_05::<C>,
        },
        Scenario {
            id: "REPLY-06",
            title: "Greeting variants",
            needs: &[],
            run: reply_06::<C>,
        },
        Scenario {
            id: "REPLY-07",
            title: "UTF-8 text and quoted paths",
            needs: &[],
            run: reply_07::<C>,
        },
        Scenario {
            id: "REPLY-08",
            title: "Bytes that are not UTF-8",
            needs: &[],
            run: reply_08::<C>,
        },
        Scenario {
            id: "REPLY-09",
            title: "Limits on line length and on the number of lines",
            needs: &[],
            run: reply_09::<C>,
        },
        Scenario {
            id: "REPLY-10",
            title: "Line-end leniency, and a missing CRLF",
            needs: &[],
            run: reply_10::<C>,
        },
        Scenario {
            id: "REPLY-11",
            title: "Malformed codes, and protected (63z) replies",
            needs: &[],
            run: reply_11::<C>,
        },
        Scenario {
            id: "REPLY-12",
            title: "An unsolicited reply while idle",
            needs: &[],
            run: reply_12::<C>,
        },
    ]
}

// ---- shared pieces ----

/// The TLS versions a TLS-dependent variant runs with (SCENARIOS §1.4): 1.2, and 1.3 when the
/// backend can negotiate it.
fn versions<C: SecureConnection>(h: &Harness<C>) -> Vec<TlsVersion> {
    let mut v = vec![TlsVersion::Tls12];
    if h.capabilities().supports(Capability::Tls13) {
        v.push(TlsVersion::Tls13);
    }
    v
}

fn with_version(tls_version: TlsVersion) -> ServerOptions {
    ServerOptions {
        tls_version,
        ..ServerOptions::default()
    }
}

/// How a script writes one reply (its bytes, CRLF included).
type Writer = fn(&mut Conn, &[u8]) -> Result<(), String>;

/// One write: one TCP segment, or one TLS record.
fn whole(c: &mut Conn, bytes: &[u8]) -> Result<(), String> {
    c.send_raw(bytes)
}

/// One byte per TCP segment (or TLS record), with a short pause so reads see them apart.
fn bytewise(c: &mut Conn, bytes: &[u8]) -> Result<(), String> {
    c.send_split(bytes, 1, Duration::from_millis(1))
}

/// The CR and the LF of every line end in different writes (records).
fn cr_lf_apart(c: &mut Conn, bytes: &[u8]) -> Result<(), String> {
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
fn code_split(c: &mut Conn, bytes: &[u8]) -> Result<(), String> {
    let cut = bytes.len().min(2);
    c.send_raw(&bytes[..cut])?;
    pause(20)?;
    c.send_raw(&bytes[cut..])
}

fn pause(ms: u64) -> Result<(), String> {
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

/// `line` with CRLF.
fn crlf(line: &str) -> Vec<u8> {
    let mut v = line.as_bytes().to_vec();
    v.extend_from_slice(b"\r\n");
    v
}

/// `[secure-login]`, every reply written with `w`.
fn secure_login_with(c: &mut Conn, w: Writer) -> Result<(), String> {
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
fn login_with(c: &mut Conn, w: Writer) -> Result<(), String> {
    c.expect("USER alice")?;
    w(c, b"331 Password required\r\n")?;
    c.expect("PASS secret")?;
    w(c, b"230 Logged in\r\n")
}

/// The multi-line `211` reply of RFC 959 §4.2's example (REPLY-02), and its six lines as
/// [`ftps_core::reply::Reply::lines`] gives them.
const STAT_211: &[u8] = b"211-First line\r\n\
Second line\r\n  234 A line beginning with numbers\r\n\
234 unpadded line with another code\r\n\
211-line with the same code and a hyphen\r\n\
211 The last line\r\n";

const STAT_211_LINES: [&str; 6] = [
    "First line",
    "Second line",
    "  234 A line beginning with numbers",
    "234 unpadded line with another code",
    "211-line with the same code and a hyphen",
    "The last line",
];

/// Checks that a reply carries exactly `expected` as its lines.
fn ensure_lines(reply: &ftps_core::reply::Reply, expected: &[&str], what: &str) -> Check {
    let got: Vec<String> = reply
        .lines()
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    ensure_eq(
        got,
        expected.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
        what,
    )
}

/// The server side of a download of `content` under PROT P: `TYPE I`, `EPSV`, `RETR name`,
/// `150`, the protected data, close_notify and FIN, then `final_reply` (with CRLF).
fn serve_retr(c: &mut Conn, name: &str, content: &[u8], final_reply: &[u8]) -> Result<(), String> {
    c.expect("TYPE I")?;
    c.send("200 Type set to I")?;
    let listener = c.epsv()?;
    c.expect(&format!("RETR {name}"))?;
    c.send("150 Opening BINARY mode data connection")?;
    let mut data = listener.accept(c)?;
    data.accept_tls()?;
    data.write_all(content)?;
    data.close_notify()?;
    data.fin();
    c.send_raw(final_reply)
}

/// The client saw an error that leaves the connection unusable; a later call must fail at once
/// with [`Error::Unusable`] (A3).
fn ensure_dead<C: SecureConnection>(client: &mut ftps_core::Client<C>) -> Check {
    let later = err(client.noop(), "NOOP after an unusable error")?;
    ensure(matches!(later, Error::Unusable), || {
        format!("a later call gave {later:?}, expected Unusable")
    })
}

// ---- REPLY-01 ----

fn reply_01<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("NOOP")?;
            c.send("299 Done")?;
            c.expect("DELE x")?;
            c.send("599 Nope")?;
            noop_ok(c)?;
            serve_retr(c, "f", b"payload", b"250 Transfer complete\r\n")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let reply = ok(client.noop(), "NOOP answered 299")?;
            ensure_eq(reply.code(), 299, "code of the NOOP reply")?;
            ensure_eq(reply.text(), "Done".to_owned(), "text of the NOOP reply")?;
            let e = err(client.delete("x"), "DELE answered 599")?;
            ensure(matches!(e, Error::Reply { .. }), || {
                format!("DELE: expected a Reply error, got {e:?}")
            })?;
            ensure_code(&e, 599)?;
            ensure_usable(&e, true)?;
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP after DELE")?;
            let mut file = Vec::new();
            let outcome = ok(client.download("f", &mut file), "RETR ending in 250")?;
            ensure_eq(file.as_slice(), b"payload", "downloaded bytes")?;
            ensure_eq(outcome.reply().code(), 250, "the transfer's final reply")?;
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP after RETR")
        },
        |_| Ok(()),
    )
}

// ---- REPLY-02 ----

fn reply_02<C: SecureConnection>(h: &mut Harness<C>) -> Check {
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
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP after STAT")
        },
        |_| Ok(()),
    )
}

// ---- REPLY-03 ----

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
            c.expect("AUTH TLS")?;
            c.send("234 Proceed")?;
            c.start_tls()?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect(server), "connect")?;
            let greeting = client.greeting().ok_or("no greeting kept")?;
            ensure_eq(greeting.code(), 220, "greeting code")?;
            ensure_eq(greeting.lines().len(), expected_lines, "greeting lines")?;
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP reply")
        },
        |record| {
            ensure_eq(
                commands(record),
                vec!["AUTH TLS".to_owned(), "NOOP".to_owned()],
                "commands",
            )
        },
    )
    .map_err(|e| format!("variant {name}: {e}"))
}

fn reply_03<C: SecureConnection>(h: &mut Harness<C>) -> Check {
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
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP after FEAT")
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("FEAT: {e}"))
}

// ---- REPLY-04 ----

/// A protected session whose every reply is written with `w`: login, PWD, a multi-line STAT
/// and NOOPs, which must give the same results as whole replies.
fn split_session<C: SecureConnection>(h: &Harness<C>, version: TlsVersion, w: Writer) -> Check {
    scripted(
        with_version(version),
        move |c| {
            secure_login_with(c, w)?;
            c.expect("PWD")?;
            w(c, b"257 \"/home/alice\" is the current directory\r\n")?;
            c.expect("STAT")?;
            w(c, STAT_211)?;
            c.expect("NOOP")?;
            w(c, b"200 NOOP ok\r\n")
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let pwd = ok(client.pwd(), "PWD")?;
            ensure_eq(pwd.as_bytes(), b"/home/alice", "PWD path")?;
            let stat = ok(client.raw("STAT"), "STAT")?;
            ensure_eq(stat.code(), 211, "STAT code")?;
            ensure_lines(&stat, &STAT_211_LINES, "STAT lines")?;
            let noop = ok(client.noop(), "NOOP")?;
            ensure_eq(noop.code(), 200, "NOOP code")?;
            ensure_eq(noop.text(), "NOOP ok".to_owned(), "NOOP text")
        },
        |_| Ok(()),
    )
}

fn reply_04<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) One byte per TCP segment, in the clear: a plain-FTP session (the user opted out of
    //    TLS), then the cleartext greeting and 234 of a protected one.
    scripted_plain(
        ServerOptions::default(),
        |c| {
            bytewise(c, b"220-Welcome\r\n220 ready\r\n")?;
            login_with(c, bytewise)?;
            c.expect("PWD")?;
            bytewise(c, b"257 \"/\" is the current directory\r\n")?;
            c.expect("STAT")?;
            bytewise(c, STAT_211)?;
            c.expect("NOOP")?;
            bytewise(c, b"200 NOOP ok\r\n")
        },
        |server| {
            let mut client = ok(
                h.builder(server).danger_plain_ftp().connect(h.connector()),
                "connect in plain FTP",
            )?;
            ok(client.login("alice", "secret"), "login")?;
            ensure_eq(ok(client.pwd(), "PWD")?.as_bytes(), b"/", "PWD path")?;
            let stat = ok(client.raw("STAT"), "STAT")?;
            ensure_lines(&stat, &STAT_211_LINES, "STAT lines")?;
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP code")
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("variant a (plain FTP, bytewise): {e}"))?;
    for version in versions(h) {
        // a) the cleartext part of a protected session, and b) one byte per TLS record.
        split_session(h, version, bytewise)
            .map_err(|e| format!("variants a/b (bytewise, {version:?}): {e}"))?;
        // c) CR and LF in different records.
        split_session(h, version, cr_lf_apart)
            .map_err(|e| format!("variant c (CR|LF, {version:?}): {e}"))?;
        // d) The code itself split: `22` then `0 ready`, and so on for every reply.
        split_session(h, version, code_split)
            .map_err(|e| format!("variant d (code split, {version:?}): {e}"))?;
    }
    Ok(())
}

// ---- REPLY-05 ----

fn reply_05<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) `120` and `220` in one segment.
    scripted(
        ServerOptions::default(),
        |c| {
            c.send_raw(b"120 Service ready in 1 minutes\r\n220 ready\r\n")?;
            c.expect("AUTH TLS")?;
            c.send("234 Proceed")?;
            c.start_tls()?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect(server), "connect")?;
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP reply")
        },
        |record| {
            ensure_eq(
                commands(record),
                vec!["AUTH TLS".to_owned(), "NOOP".to_owned()],
                "commands",
            )
        },
    )
    .map_err(|e| format!("variant a (120+220): {e}"))?;
    // b) `150` and `226` in one segment, on a tiny transfer.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("TYPE I")?;
            c.send("200 Type set to I")?;
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
            let noop = ok(client.noop(), "NOOP")?;
            ensure_eq(noop.code(), 200, "NOOP code")?;
            ensure_eq(noop.text(), "NOOP ok".to_owned(), "NOOP text")
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("variant b (150+226): {e}"))?;
    // c) The transfer's `226` and the ABOR's `226` in one segment.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("TYPE I")?;
            c.send("200 Type set to I")?;
            let listener = c.epsv()?;
            c.expect("RETR big")?;
            c.send("150 Opening BINARY mode data connection")?;
            let mut data = listener.accept(c)?;
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
            ensure(matches!(e, Error::Aborted { .. }), || {
                format!("expected Aborted, got {e:?}")
            })?;
            ensure_usable(&e, true)?;
            let noop = ok(client.noop(), "NOOP after ABOR")?;
            ensure_eq(noop.code(), 200, "NOOP code")?;
            ensure_eq(
                noop.text(),
                "NOOP ok".to_owned(),
                "NOOP text (not the ABOR's 226)",
            )
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

// ---- REPLY-06 ----

fn reply_06<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) `120`, then `220` 300 ms later; nothing may be sent in between.
    scripted(
        ServerOptions::default(),
        |c| {
            c.send("120 Service ready in 1 minutes")?;
            c.expect_silence(Duration::from_millis(300))
                .map_err(|e| format!("between 120 and 220: {e}"))?;
            c.send("220 ready")?;
            c.expect("AUTH TLS")?;
            c.send("234 Proceed")?;
            c.start_tls()?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect(server), "connect")?;
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP reply")
        },
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
            ensure(matches!(e, Error::ServiceClosing { .. }), || {
                format!("expected ServiceClosing, got {e:?}")
            })?;
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
            c.send("220 Willkommen, Grüße aus 日本 – ready")?;
            c.expect("AUTH TLS")?;
            c.send("234 Proceed")?;
            c.start_tls()?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect(server), "connect")?;
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP reply")
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("variant c (UTF-8 greeting): {e}"))
}

// ---- REPLY-07 ----

fn reply_07<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("PWD")?;
            c.send("257 \"/Übergröße/日本\" is the current directory")?;
            c.expect("MKD a\"b")?;
            c.send("257 \"/x/a\"\"b\" created")?;
            let arg = c.recv_raw()?;
            let want = "CWD /Übergröße/日本".as_bytes();
            if arg != want {
                return Err(format!(
                    "expected {:?}, got {:?}",
                    want,
                    String::from_utf8_lossy(&arg)
                ));
            }
            c.send("250 ok")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let pwd = ok(client.pwd(), "PWD")?;
            ensure_eq(pwd.as_bytes(), "/Übergröße/日本".as_bytes(), "PWD path")?;
            ensure_eq(
                pwd.to_string_lossy(),
                "/Übergröße/日本".to_owned(),
                "PWD text",
            )?;
            let made = ok(client.mkdir("a\"b"), "MKD a\"b")?;
            ensure_eq(
                made.as_bytes(),
                b"/x/a\"b",
                "MKD path (quote-doubling undone)",
            )?;
            // The path goes back byte for byte.
            ok(client.cwd(pwd.as_bytes()), "CWD to the UTF-8 path")?;
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP")
        },
        |_| Ok(()),
    )
}

// ---- REPLY-08 ----

fn reply_08<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("PWD")?;
            c.send_raw(b"257 \"/caf\xE9\"\r\n")?;
            let cwd = c.recv_raw()?;
            if cwd != b"CWD /caf\xE9" {
                return Err(format!("expected CWD /caf\\xE9 byte for byte, got {cwd:?}"));
            }
            c.send("250 ok")?;
            c.expect("DELE junk")?;
            c.send_raw(b"550 \xFF\xFE junk\r\n")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let pwd = ok(client.pwd(), "PWD with a Latin-1 byte")?;
            ensure_eq(pwd.as_bytes(), b"/caf\xE9", "PWD raw bytes")?;
            ensure_eq(
                pwd.to_string_lossy(),
                "/caf\u{FFFD}".to_owned(),
                "PWD lossy text",
            )?;
            ok(client.cwd(pwd.as_bytes()), "CWD back to that path")?;
            let e = err(
                client.delete("junk"),
                "DELE answered 550 with bytes that are not UTF-8",
            )?;
            ensure(matches!(e, Error::Reply { .. }), || {
                format!("expected a Reply error, got {e:?}")
            })?;
            ensure_code(&e, 550)?;
            ensure_usable(&e, true)?;
            let reply = e.reply().ok_or("the error carries no reply")?;
            ensure_eq(
                reply.lines().first().map(Vec::as_slice),
                Some(&b"\xFF\xFE junk"[..]),
                "550 raw text",
            )?;
            ensure_eq(
                reply.text(),
                "\u{FFFD}\u{FFFD} junk".to_owned(),
                "550 lossy text",
            )?;
            ensure_eq(ok(client.noop(), "NOOP")?.code(), 200, "NOOP")
        },
        |_| Ok(()),
    )
}

// ---- REPLY-09 ----

fn limits() -> ReplyLimits {
    ReplyLimits::new(4096, 1000, 1 << 20)
}

/// The server's side of a reply that makes the client give up: written after `STAT`, then the
/// client must close without sending anything more. Write errors are fine (the client may
/// close while the server still writes).
fn hostile_stat(bytes: Vec<u8>) -> impl FnOnce(&mut Conn) -> Result<(), String> + Send {
    move |c| {
        c.secure_login()?;
        c.expect("STAT")?;
        for chunk in bytes.chunks(16 * 1024) {
            if c.send_raw(chunk).is_err() {
                return Ok(());
            }
        }
        c.expect_eof(Duration::from_secs(3)).map(drop)
    }
}

fn reply_09<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // a) 5,000 lines, under 1 MiB: the first 1000 kept, truncated, in sync afterwards.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("STAT")?;
            let mut bytes = b"211-status follows\r\n".to_vec();
            for i in 1..5000 {
                bytes.extend_from_slice(format!(" line {i:04}\r\n").as_bytes());
            }
            bytes.extend_from_slice(b"211 End of status\r\n");
            c.send_split(&bytes, 16 * 1024, Duration::ZERO)?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(
                h.builder(server)
                    .reply_limits(limits())
                    .connect(h.connector()),
                "connect",
            )?;
            ok(client.login("alice", "secret"), "login")?;
            let reply = ok(client.raw("STAT"), "STAT with 5000 lines")?;
            ensure_eq(reply.code(), 211, "code")?;
            ensure(reply.truncated(), || {
                "the reply is not marked truncated".into()
            })?;
            ensure_eq(reply.lines().len(), 1000, "lines kept")?;
            ensure_eq(reply.lines()[0].as_slice(), b"status follows", "first line")?;
            ensure_eq(reply.lines()[999].as_slice(), b" line 0999", "line 1000")?;
            let noop = ok(client.noop(), "NOOP after the long reply")?;
            ensure_eq(noop.code(), 200, "NOOP code")?;
            ensure_eq(noop.text(), "NOOP ok".to_owned(), "NOOP text")
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("variant a (5000 lines): {e}"))?;
    // b) One line of 8 KiB.
    let mut long = b"211 ".to_vec();
    long.extend(std::iter::repeat_n(b'L', 8 * 1024));
    long.extend_from_slice(b"\r\n");
    scripted(
        ServerOptions::default(),
        hostile_stat(long),
        |server| {
            let mut client = ok(
                h.builder(server)
                    .reply_limits(limits())
                    .connect(h.connector()),
                "connect",
            )?;
            ok(client.login("alice", "secret"), "login")?;
            let e = err(client.raw("STAT"), "STAT answered with an 8 KiB line")?;
            ensure(
                matches!(e, Error::BadReply(ReplyError::LineTooLong { limit: 4096 })),
                || format!("expected ReplyLineTooLong (4096), got {e:?}"),
            )?;
            ensure_usable(&e, false)?;
            ensure_dead(&mut client)
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("variant b (8 KiB line): {e}"))?;
    // c) More than 1 MiB with no terminating line.
    let mut endless = b"211-here it comes\r\n".to_vec();
    let line = format!("-{}\r\n", "x".repeat(1000));
    while endless.len() <= (1 << 20) + 64 * 1024 {
        endless.extend_from_slice(line.as_bytes());
    }
    scripted(
        ServerOptions::default(),
        hostile_stat(endless),
        |server| {
            let mut client = ok(
                h.builder(server)
                    .reply_limits(limits())
                    .connect(h.connector()),
                "connect",
            )?;
            ok(client.login("alice", "secret"), "login")?;
            let e = err(client.raw("STAT"), "STAT answered with more than 1 MiB")?;
            ensure(
                matches!(
                    e,
                    Error::BadReply(ReplyError::TooLarge { limit: 1_048_576 })
                ),
                || format!("expected ReplyTooLarge (1 MiB), got {e:?}"),
            )?;
            ensure_usable(&e, false)?;
            ensure_dead(&mut client)
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("variant c (over 1 MiB): {e}"))
}

// ---- REPLY-10 ----

fn reply_10<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    // Accepted: a bare LF (greeting and NOOP), `226` alone, a lone CR in the text.
    scripted(
        ServerOptions::default(),
        |c| {
            c.send_raw(b"220 ready\n")?;
            c.expect("AUTH TLS")?;
            c.send_raw(b"234 go\n")?;
            c.start_tls()?;
            login_with(c, whole)?;
            c.expect("PBSZ 0")?;
            c.send("200 PBSZ=0")?;
            c.expect("PROT P")?;
            c.send("200 ok")?;
            c.expect("NOOP")?;
            c.send_raw(b"200 OK\n")?;
            c.expect("NOOP")?;
            c.send_raw(b"226\r\n")?;
            c.expect("NOOP")?;
            c.send_raw(b"200 a\rb\r\n")?;
            noop_ok(c)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login (bare LF)")?;
            let r = ok(client.noop(), "NOOP answered `200 OK\\n`")?;
            ensure_eq(
                (r.code(), r.text()),
                (200, "OK".to_owned()),
                "bare-LF reply",
            )?;
            let r = ok(client.noop(), "NOOP answered `226`")?;
            ensure_eq(r.code(), 226, "bare code")?;
            ensure_eq(r.lines().to_vec(), vec![Vec::new()], "bare code's text")?;
            let r = ok(client.noop(), "NOOP answered `200 a\\rb`")?;
            ensure_eq(r.lines().to_vec(), vec![b"a\rb".to_vec()], "lone CR kept")?;
            let r = ok(client.noop(), "NOOP")?;
            ensure_eq((r.code(), r.text()), (200, "NOOP ok".to_owned()), "NOOP")
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("accepted line ends: {e}"))?;
    // A partial line, then the connection closes (with close_notify, or a bare FIN).
    for version in versions(h) {
        for partial in [&b"200 OK"[..], b"200 OK\r"] {
            for close_notify in [true, false] {
                let what = format!(
                    "{:?} then {} ({version:?})",
                    String::from_utf8_lossy(partial),
                    if close_notify {
                        "close_notify + FIN"
                    } else {
                        "FIN"
                    }
                );
                scripted(
                    with_version(version),
                    move |c| {
                        c.secure_login()?;
                        c.expect("NOOP")?;
                        c.send_raw(partial)?;
                        pause(50)?;
                        if close_notify {
                            c.close_notify()?;
                        }
                        c.fin();
                        Ok(())
                    },
                    |server| {
                        let mut client = ok(h.connect_login(server), "connect and login")?;
                        let e = err(client.noop(), "NOOP answered by a partial line")?;
                        match &e {
                            Error::ConnectionClosed { partial: got, .. } => {
                                ensure_eq(got.as_slice(), partial, "partial line in the error")?
                            }
                            other => {
                                return Err(format!("expected ConnectionClosed, got {other:?}"))
                            }
                        }
                        ensure_usable(&e, false)?;
                        ensure_dead(&mut client)
                    },
                    |_| Ok(()),
                )
                .map_err(|e| format!("{what}: {e}"))?;
            }
        }
    }
    Ok(())
}

// ---- REPLY-11 ----

fn reply_11<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    let malformed = [
        "20 OK", "2000 OK", "2x0 OK", "abc OK", "600 x", "000 x", " 200 OK", "200\tOK",
    ];
    for line in malformed {
        bad_noop_reply(h, line, |e| match e {
            Error::BadReply(ReplyError::Malformed { excerpt }) => {
                ensure_eq(excerpt.as_str(), line, "excerpt of the malformed line")
            }
            other => Err(format!("expected MalformedReply, got {other:?}")),
        })
        .map_err(|e| format!("{line:?}: {e}"))?;
    }
    for code in [631u16, 632, 633] {
        let line = format!("{code} RmFrZSBwcm90ZWN0ZWQgcmVwbHk=");
        bad_noop_reply(h, &line, |e| match e {
            Error::BadReply(ReplyError::ProtectedReply { code: got }) => {
                ensure_eq(*got, code, "protected reply code")
            }
            other => Err(format!(
                "expected an unsupported protected reply, got {other:?}"
            )),
        })
        .map_err(|e| format!("{code}: {e}"))?;
    }
    Ok(())
}

/// `[secure-login]`, then `line` as the reply to NOOP: the error must pass `check`, leave the
/// connection unusable, and nothing more may be sent.
fn bad_noop_reply<C: SecureConnection>(
    h: &Harness<C>,
    line: &str,
    check: impl FnOnce(&Error) -> Check,
) -> Check {
    let bytes = crlf(line);
    scripted(
        ServerOptions::default(),
        move |c| {
            c.secure_login()?;
            c.expect("NOOP")?;
            c.send_raw(&bytes)?;
            c.expect_eof(Duration::from_secs(3)).map(drop)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            let e = err(client.noop(), "NOOP")?;
            check(&e)?;
            ensure_usable(&e, false)?;
            ensure_dead(&mut client)
        },
        |_| Ok(()),
    )
}

// ---- REPLY-12 ----

/// How long the client stays idle before its next call, so the server's unsolicited bytes
/// have arrived.
const IDLE: Duration = Duration::from_millis(300);

fn reply_12<C: SecureConnection>(h: &mut Harness<C>) -> Check {
    for version in versions(h) {
        // `421 Timeout.`, close_notify and FIN while idle; then the user calls noop().
        scripted(
            with_version(version),
            |c| {
                c.secure_login()?;
                c.send("421 Timeout.")?;
                c.close_notify()?;
                c.fin();
                Ok(())
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                std::thread::sleep(IDLE);
                let e = err(client.noop(), "NOOP after the server's 421")?;
                match &e {
                    Error::ServiceClosing { reply } => ensure_eq(reply.code(), 421, "code")?,
                    Error::ConnectionClosed { .. } => {}
                    other => {
                        return Err(format!(
                            "expected ServiceClosing or ConnectionClosed, got {other:?}"
                        ))
                    }
                }
                ensure_usable(&e, false)?;
                ensure(!client.is_usable(), || {
                    "the client still says usable".into()
                })?;
                ensure_dead(&mut client)
            },
            // The server's side is shut down, so what the client sends next cannot be
            // recorded; the open-connection variant below checks that no NOOP goes out.
            |_| Ok(()),
        )
        .map_err(|e| format!("421 while idle ({version:?}): {e}"))?;
        // A 421 that stays unanswered on an open connection: the same, never the NOOP's reply.
        scripted(
            with_version(version),
            |c| {
                c.secure_login()?;
                c.send("421 Timeout.")?;
                c.expect_eof(Duration::from_secs(3)).map(drop)
            },
            |server| {
                let mut client = ok(h.connect_login(server), "connect and login")?;
                std::thread::sleep(IDLE);
                let e = err(client.noop(), "NOOP after the server's 421")?;
                ensure(matches!(e, Error::ServiceClosing { .. }), || {
                    format!("expected ServiceClosing, got {e:?}")
                })?;
                ensure_code(&e, 421)?;
                ensure_usable(&e, false)?;
                ensure_dead(&mut client)
            },
            |_| Ok(()),
        )
        .map_err(|e| format!("421 on an open connection ({version:?}): {e}"))?;
    }
    // Variant: a stray `200 extra` while idle.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.send("200 extra")?;
            c.expect_eof(Duration::from_secs(3)).map(drop)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            std::thread::sleep(IDLE);
            stray_reply_refused(&mut client)
        },
        |record| {
            ensure(!commands(record).iter().any(|c| c == "NOOP"), || {
                "the NOOP was sent after the stray reply".into()
            })
        },
    )
    .map_err(|e| format!("stray 200 while idle: {e}"))?;
    // Variant: the stray reply arrives in the same segment as a real one and sits in the buffer.
    scripted(
        ServerOptions::default(),
        |c| {
            c.secure_login()?;
            c.expect("NOOP")?;
            c.send_raw(b"200 NOOP ok\r\n200 extra\r\n")?;
            c.expect_eof(Duration::from_secs(3)).map(drop)
        },
        |server| {
            let mut client = ok(h.connect_login(server), "connect and login")?;
            ensure_eq(
                ok(client.noop(), "NOOP")?.text(),
                "NOOP ok".to_owned(),
                "NOOP",
            )?;
            stray_reply_refused(&mut client)
        },
        |_| Ok(()),
    )
    .map_err(|e| format!("stray 200 in the buffer: {e}"))
}

/// The next call after a stray `200 extra` fails with a protocol violation carrying that
/// reply, and the connection is unusable (decision D8).
fn stray_reply_refused<C: SecureConnection>(client: &mut ftps_core::Client<C>) -> Check {
    let e = err(client.noop(), "NOOP after a stray reply")?;
    match &e {
        Error::Protocol(ProtocolError::UnsolicitedReply { reply }) => {
            ensure_eq(reply.text(), "extra".to_owned(), "the stray reply")?
        }
        other => return Err(format!("expected ProtocolViolation, got {other:?}")),
    }
    ensure_usable(&e, false)?;
    ensure_dead(client)
}
