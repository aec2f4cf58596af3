//! The invariants of DESIGN.md, checked against a tiny cleartext fake server over real sockets,
//! with a backend that can never produce a TLS stream. (The same invariants are checked with
//! TLS by the conformance scenarios: AUTH-03, DATA-02, DATA-10, CLOSE-03.)

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ftps_core::{
    Capabilities, ClientBuilder, CloseState, Error, SecureConnection, SecureStream, ServerName,
    SessionInfo, Timeouts, TlsError, TlsErrorKind,
};

/// A backend that refuses every handshake; its stream type has no values.
struct NoTls;

enum Never {}

impl Read for Never {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        match *self {}
    }
}

impl Write for Never {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        match *self {}
    }
    fn flush(&mut self) -> io::Result<()> {
        match *self {}
    }
}

impl SecureStream for Never {
    fn send_close_notify(&mut self) -> io::Result<()> {
        match *self {}
    }
    fn close_state(&self) -> CloseState {
        match *self {}
    }
    fn unwrap_tcp(&mut self) -> Result<(TcpStream, Vec<u8>), TlsError> {
        match *self {}
    }
    fn session_info(&self) -> SessionInfo {
        match *self {}
    }
    fn tcp(&self) -> &TcpStream {
        match *self {}
    }
}

impl SecureConnection for NoTls {
    type Stream = Never;
    fn name(&self) -> &'static str {
        "none"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }
    fn secure_control(&self, _: TcpStream, _: &ServerName) -> Result<Never, TlsError> {
        Err(TlsError::new(
            TlsErrorKind::Unsupported,
            "no tls in this test",
        ))
    }
    fn secure_data(&self, _: TcpStream, _: &ServerName, c: &Never) -> Result<Never, TlsError> {
        match *c {}
    }
}

/// A one-connection fake server: `script` gets the control connection's reader and writer
/// and returns every line the client sent.
fn fake_server<F>(script: F) -> (SocketAddr, JoinHandle<Vec<String>>)
where
    F: FnOnce(&mut Lines) -> io::Result<()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut lines = Lines {
            reader: BufReader::new(tcp.try_clone().unwrap()),
            writer: tcp,
            seen: Vec::new(),
        };
        let _ = script(&mut lines);
        // Record whatever else the client sends until it closes.
        while let Ok(Some(_)) = lines.next_line() {}
        lines.seen
    });
    (addr, handle)
}

struct Lines {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    seen: Vec<String>,
}

impl Lines {
    fn next_line(&mut self) -> io::Result<Option<String>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end().to_owned();
        self.seen.push(line.clone());
        Ok(Some(line))
    }

    fn expect(&mut self, wanted: &str) -> io::Result<()> {
        let got = self.next_line()?;
        assert_eq!(got.as_deref(), Some(wanted));
        Ok(())
    }

    fn send(&mut self, line: &str) -> io::Result<()> {
        self.writer.write_all(format!("{line}\r\n").as_bytes())
    }
}

fn short_timeouts() -> Timeouts {
    let mut t = Timeouts::default();
    t.connect = Duration::from_secs(2);
    t.reply_idle = Duration::from_secs(2);
    t.reply_total = Duration::from_secs(3);
    t.data_idle = Duration::from_secs(2);
    t
}

fn plain_client(addr: SocketAddr) -> ftps_core::Client<NoTls> {
    let mut client = ClientBuilder::new("127.0.0.1")
        .port(addr.port())
        .timeouts(short_timeouts())
        .danger_plain_ftp()
        .connect(NoTls)
        .unwrap();
    client.login("alice", "secret").unwrap();
    client
}

fn plain_login(s: &mut Lines) -> io::Result<()> {
    s.send("220 ready")?;
    s.expect("USER alice")?;
    s.send("331 pw")?;
    s.expect("PASS secret")?;
    s.send("230 in")
}

#[test]
fn with_auth_tls_refused_no_user_is_sent() {
    let (addr, server) = fake_server(|s| {
        s.send("220 ready")?;
        s.expect("AUTH TLS")?;
        s.send("504 Unknown AUTH type.")
    });
    let e = ClientBuilder::new("127.0.0.1")
        .port(addr.port())
        .timeouts(short_timeouts())
        .connect(NoTls)
        .unwrap_err();
    assert!(matches!(e, Error::TlsUnavailable { .. }), "{e:?}");
    assert_eq!(e.reply_code(), Some(504));
    assert!(!e.connection_usable());
    let seen = server.join().unwrap();
    assert_eq!(seen, ["AUTH TLS"], "nothing but AUTH may be sent");
}

#[test]
fn timeouts_are_finite_and_zero_is_refused() {
    let t = Timeouts::default();
    for limit in [
        t.connect,
        t.reply_idle,
        t.reply_total,
        t.write,
        t.handshake,
        t.data_accept,
        t.data_idle,
    ] {
        assert!(limit > Duration::ZERO && limit <= Duration::from_secs(300));
    }
    let e = ClientBuilder::new("127.0.0.1")
        .port(9)
        .read_timeout(Duration::ZERO)
        .connect(NoTls)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig(_)), "{e:?}");
}

#[test]
fn a_silent_server_times_out_instead_of_hanging() {
    let (addr, server) = fake_server(|_| {
        thread::sleep(Duration::from_secs(4));
        Ok(())
    });
    let started = std::time::Instant::now();
    let e = ClientBuilder::new("127.0.0.1")
        .port(addr.port())
        .timeouts(short_timeouts())
        .connect(NoTls)
        .unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
    drop(server);
}

#[test]
fn pasv_connects_to_the_control_peer_not_the_reply_address() {
    let data = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = data.local_addr().unwrap().port();
    let (addr, server) = fake_server(move |s| {
        plain_login(s)?;
        s.expect("TYPE I")?;
        s.send("200 ok")?;
        s.expect("EPSV")?;
        s.send("500 EPSV not understood")?;
        s.expect("PASV")?;
        s.send(&format!(
            "227 Entering Passive Mode (10,99,0,7,{},{})",
            port / 256,
            port % 256
        ))?;
        let (mut conn, _) = data.accept()?;
        s.expect("RETR f")?;
        s.send("150 here it comes")?;
        conn.write_all(b"payload")?;
        drop(conn);
        s.send("226 done")
    });
    let mut client = plain_client(addr);
    let mut out = Vec::new();
    let outcome = client.download("f", &mut out).unwrap();
    assert_eq!(out, b"payload");
    assert_eq!(outcome.reply().code(), 226);
    assert_eq!(outcome.clean_tls_shutdown(), None);
    drop(client);
    server.join().unwrap();
}

#[test]
fn a_download_cut_without_a_final_reply_is_an_error() {
    let data = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = data.local_addr().unwrap().port();
    let (addr, server) = fake_server(move |s| {
        plain_login(s)?;
        s.expect("TYPE I")?;
        s.send("200 ok")?;
        s.expect("EPSV")?;
        s.send(&format!("229 Entering Extended Passive Mode (|||{port}|)"))?;
        let (mut conn, _) = data.accept()?;
        s.expect("RETR f")?;
        s.send("150 here it comes")?;
        conn.write_all(b"half of the fi")?;
        drop(conn);
        // The control connection closes without 226.
        s.writer.shutdown(std::net::Shutdown::Both)
    });
    let mut client = plain_client(addr);
    let mut out = Vec::new();
    let e = client.download("f", &mut out).unwrap_err();
    assert!(
        matches!(e, Error::Truncated { .. } | Error::ConnectionClosed { .. }),
        "{e:?}"
    );
    assert!(!e.connection_usable());
    assert!(matches!(client.noop(), Err(Error::Unusable)));
    server.join().unwrap();
}

#[test]
fn after_a_refused_transfer_the_next_command_gets_its_own_reply() {
    let data = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = data.local_addr().unwrap().port();
    let (addr, server) = fake_server(move |s| {
        plain_login(s)?;
        s.expect("TYPE I")?;
        s.send("200 ok")?;
        s.expect("EPSV")?;
        s.send(&format!("229 Entering Extended Passive Mode (|||{port}|)"))?;
        let (_conn, _) = data.accept()?;
        s.expect("RETR missing")?;
        s.send("550 No such file.")?;
        s.expect("NOOP")?;
        s.send("200 NOOP ok")
    });
    let mut client = plain_client(addr);
    let e = client.download("missing", &mut Vec::new()).unwrap_err();
    assert_eq!(e.reply_code(), Some(550));
    assert!(e.connection_usable());
    let reply = client.noop().unwrap();
    assert_eq!(reply.code(), 200);
    assert_eq!(reply.first_line(), "NOOP ok");
    drop(client);
    server.join().unwrap();
}

#[test]
fn arguments_with_cr_or_lf_send_nothing() {
    let (addr, server) = fake_server(|s| {
        plain_login(s)?;
        s.expect("NOOP")?;
        s.send("200 ok")
    });
    let mut client = plain_client(addr);
    for bad in ["a\r\nDELE b", "x\nPASS y", "a\0b"] {
        let e = client.retr(bad).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        assert!(e.connection_usable());
    }
    assert!(matches!(
        client.mkdir("a\0b"),
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(client.noop().unwrap().code(), 200);
    drop(client);
    let seen = server.join().unwrap();
    assert_eq!(seen, ["USER alice", "PASS secret", "NOOP"]);
}
