//! Server-side script steps shared by the scenario groups.
//!
//! Each function plays one recurring fragment of the script notation of SCENARIOS §1.1 on a
//! [`Conn`], with the reply texts the scenarios have always sent, so a scenario's script reads
//! as its catalogue entry does. [`Conn::secure_login`] and [`Conn::secure_login_clear`] play
//! `[secure-login]` and `[secure-login C]` whole; the pieces here let a script vary one part.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::checks::{ensure, Check};
use crate::server::{Conn, DataConn, DataListener};

/// The `150` most download scripts send.
pub(crate) const OPENING: &str = "150 Opening BINARY mode data connection";

/// The `150` naming the file `f`, as vsftpd words it.
pub(crate) const OPENING_F: &str = "150 Opening BINARY mode data connection for f";

/// How long a clear data connection is watched for a ClientHello that must not come.
const NO_HELLO_WAIT: Duration = Duration::from_millis(200);

// ---- the control connection ------------------------------------------------------------------

/// `C* NOOP` · `S* 200`: the server side of the harness's closing NOOP (A3).
pub(crate) fn noop_ok(c: &mut Conn) -> Check {
    c.expect("NOOP")?;
    c.send("200 NOOP ok")
}

/// `S: greeting` · `C: AUTH TLS` · `S: reply`, without the handshake.
pub(crate) fn answer_auth(c: &mut Conn, greeting: &str, reply: &str) -> Check {
    c.send(greeting)?;
    c.expect("AUTH TLS")?;
    c.send(reply)
}

/// `C: AUTH TLS` · `S: 234` · `~ctl handshake`.
pub(crate) fn upgrade(c: &mut Conn, reply_234: &str) -> Check {
    c.expect("AUTH TLS")?;
    c.send(reply_234)?;
    c.start_tls()
}

/// `S: greeting` · `C: AUTH TLS` · `S: 234` · `~ctl handshake`.
pub(crate) fn accept_auth(c: &mut Conn, greeting: &str, reply_234: &str) -> Check {
    c.send(greeting)?;
    upgrade(c, reply_234)
}

/// The start of `[secure-login]`: `S: 220` · `C: AUTH TLS` · `S: 234` · `~ctl handshake`.
pub(crate) fn secure_handshake(c: &mut Conn) -> Check {
    accept_auth(
        c,
        "220 ftps test server ready",
        "234 Proceed with negotiation.",
    )
}

/// `C* USER alice` · `S* 331` · `C* PASS secret` · `S* 230`.
pub(crate) fn login(c: &mut Conn) -> Check {
    c.expect("USER alice")?;
    c.send("331 Password required")?;
    c.expect("PASS secret")?;
    c.send("230 Logged in")
}

/// `C* PBSZ 0` · `S* 200` · `C* PROT P` · `S* 200`.
pub(crate) fn protect(c: &mut Conn) -> Check {
    c.expect("PBSZ 0")?;
    c.send("200 PBSZ=0")?;
    c.expect("PROT P")?;
    c.send("200 Protection set to Private")
}

/// The end of `[secure-login]` after the handshake: [`login`], then [`protect`].
pub(crate) fn login_and_protect(c: &mut Conn) -> Check {
    login(c)?;
    protect(c)
}

/// `[secure-login]` up to the login: [`secure_handshake`], then [`login`] (no PBSZ, no PROT).
pub(crate) fn secure_user(c: &mut Conn) -> Check {
    secure_handshake(c)?;
    login(c)
}

/// `[secure-login]` · `C* NOOP` · `S* 200`: a session that only logs in.
pub(crate) fn secure_login_noop(c: &mut Conn) -> Check {
    c.secure_login()?;
    noop_ok(c)
}

/// How long the server waits for the client's close_notify on the control connection.
pub(crate) const CLOSE_NOTIFY_WAIT: Duration = Duration::from_secs(3);

/// `S~ close_notify` · `C~ close_notify`, then the control connection goes on in the clear on
/// the same TCP connection (after `CCC` or `REIN`).
pub(crate) fn end_control_tls(c: &mut Conn) -> Check {
    c.close_notify()?;
    c.wait_close_notify(CLOSE_NOTIFY_WAIT)?;
    c.end_tls()
}

/// `C* TYPE I` · `S* 200`: the client sets binary before its first transfer.
pub(crate) fn type_i(c: &mut Conn) -> Check {
    c.expect("TYPE I")?;
    c.send("200 Switching to Binary mode.")
}

/// `C* TYPE I` · `S* 200 Type set to I`: [`type_i`] in other words.
pub(crate) fn type_set_to_i(c: &mut Conn) -> Check {
    c.expect("TYPE I")?;
    c.send("200 Type set to I")
}

/// `[secure-login]` · `C* TYPE I` · `S* 200`: the start of most transfer scripts.
pub(crate) fn login_binary(c: &mut Conn) -> Check {
    c.secure_login()?;
    type_i(c)
}

/// The next command that is not `TYPE I` (each `TYPE I` is answered 200), for scripts that do
/// not care when the client sets the type.
pub(crate) fn recv_after_type(c: &mut Conn) -> Result<String, String> {
    loop {
        let line = c.recv()?;
        if line != "TYPE I" {
            return Ok(line);
        }
        c.send("200 Switching to Binary mode.")?;
    }
}

/// Like [`recv_after_type`], and requires the command to be `command`.
pub(crate) fn expect_after_type(c: &mut Conn, command: &str) -> Check {
    let line = recv_after_type(c)?;
    ensure(line == command, || {
        format!("expected {command:?}, got {line:?}")
    })
}

/// Requires the received `line` to be `EPSV`, then listens and answers 229.
pub(crate) fn answer_epsv(c: &mut Conn, line: &str) -> Result<DataListener, String> {
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

/// `[epsv]` after an optional `TYPE I`.
pub(crate) fn epsv_after_type(c: &mut Conn) -> Result<DataListener, String> {
    let line = recv_after_type(c)?;
    answer_epsv(c, &line)
}

/// The address in a `PORT h1,h2,h3,h4,p1,p2` argument.
pub(crate) fn parse_port_arg(arg: &str) -> Result<SocketAddr, String> {
    let nums: Vec<u8> = arg
        .trim()
        .split(',')
        .map(|n| n.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("bad PORT argument {arg:?}"))?;
    let [a, b, c, d, p1, p2] = nums[..] else {
        return Err(format!("bad PORT argument {arg:?}"));
    };
    Ok(SocketAddr::new(
        IpAddr::from([a, b, c, d]),
        u16::from(p1) << 8 | u16::from(p2),
    ))
}

// ---- downloads -------------------------------------------------------------------------------

/// `[epsv]` · `C* RETR path` · `S* opening` · `D tcp`, before any data handshake.
pub(crate) fn open_retr(c: &mut Conn, path: &str, opening: &str) -> Result<DataConn, String> {
    let listener = c.epsv()?;
    c.expect(&format!("RETR {path}"))?;
    c.send(opening)?;
    listener.accept(c)
}

/// `[secure-login]` · `C* TYPE I` · `S* 200` · `[epsv]` · `C* RETR f` · `S* 150` · `D tcp`,
/// without the data handshake.
pub(crate) fn retr_opened(c: &mut Conn) -> Result<DataConn, String> {
    login_binary(c)?;
    open_retr(c, "f", OPENING_F)
}

/// [`retr_opened`] and the data handshake.
pub(crate) fn retr_tls(c: &mut Conn) -> Result<DataConn, String> {
    let mut data = retr_opened(c)?;
    data.accept_tls()?;
    Ok(data)
}

/// On a data connection already in TLS: `D* content` · `S~ close_notify` · `D FIN` ·
/// `S* 226 Transfer complete.`
pub(crate) fn send_file(c: &mut Conn, mut data: DataConn, content: &[u8]) -> Check {
    data.write_all(content)?;
    data.close_notify()?;
    data.fin();
    c.send("226 Transfer complete.")
}

/// On an accepted data connection: `~data handshake` · `D* content` · `S~ close_notify`, a
/// bounded wait (1 s) for the client's close, `D FIN`.
pub(crate) fn send_protected(mut data: DataConn, content: &[u8]) -> Check {
    data.accept_tls()?;
    data.write_all(content)?;
    data.close_notify()?;
    data.wait_client_close(Duration::from_secs(1));
    data.fin();
    Ok(())
}

/// Sends `payload` on an accepted data connection: inside TLS (then close_notify) when `tls`,
/// otherwise in the clear after checking that no ClientHello comes (A2). Then `D FIN`.
pub(crate) fn serve_payload(mut data: DataConn, tls: bool, payload: &[u8]) -> Check {
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

/// `[epsv]` (after an optional `TYPE I`) · `C* RETR f` · `S* 150` · `D tcp`.
pub(crate) fn open_retr_after_type(c: &mut Conn) -> Result<DataConn, String> {
    let listener = epsv_after_type(c)?;
    c.expect("RETR f")?;
    c.send(OPENING_F)?;
    listener.accept(c)
}

/// [`open_retr_after_type`] · the data (TLS when `tls`, see [`serve_payload`]) · `S* 226`.
pub(crate) fn serve_retr(c: &mut Conn, tls: bool, payload: &[u8]) -> Check {
    let data = open_retr_after_type(c)?;
    serve_payload(data, tls, payload)?;
    c.send("226 Transfer complete")
}

/// `[epsv]` (after an optional `TYPE I`) · `C* LIST` · `S* 150` · the listing (TLS when
/// `tls`, see [`serve_payload`]) · `S* 226`.
pub(crate) fn serve_list(c: &mut Conn, tls: bool, listing: &[u8]) -> Check {
    let listener = epsv_after_type(c)?;
    c.expect("LIST")?;
    c.send("150 Here comes the directory listing.")?;
    let data = listener.accept(c)?;
    serve_payload(data, tls, listing)?;
    c.send("226 Directory send OK.")
}

/// `C* TYPE I` · `S* 200 Type set to I` · `[epsv]` · `C* RETR name` · `S* 150` ·
/// `~data handshake` · `D* content` · `S~ close_notify` · `D FIN` · then `final_reply` (its
/// bytes, CRLF included, in one write).
pub(crate) fn typed_retr(c: &mut Conn, name: &str, content: &[u8], final_reply: &[u8]) -> Check {
    type_set_to_i(c)?;
    let mut data = open_retr(c, name, OPENING)?;
    data.accept_tls()?;
    data.write_all(content)?;
    data.close_notify()?;
    data.fin();
    c.send_raw(final_reply)
}

// ---- uploads ---------------------------------------------------------------------------------

/// `[epsv]` (after an optional `TYPE I`) · `C* STOR name` · `S* 150` · the upload (TLS when
/// `tls`) · `D FIN` · `S* 226`; returns the bytes received.
pub(crate) fn serve_stor(c: &mut Conn, name: &str, tls: bool) -> Result<Vec<u8>, String> {
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

/// `[secure-login]` · `C* TYPE I` · `S* 200` · `[epsv]` · `C* STOR f` · `S* 150` · `D tcp` ·
/// `~data handshake`.
pub(crate) fn stor_tls(c: &mut Conn) -> Result<DataConn, String> {
    login_binary(c)?;
    let listener = c.epsv()?;
    c.expect("STOR f")?;
    c.send("150 Ok to send data.")?;
    let mut data = listener.accept(c)?;
    data.accept_tls()?;
    Ok(data)
}
