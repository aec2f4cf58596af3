//! `CCC` and `REIN` against a fake TLS backend over real sockets.
//!
//! The fake "TLS" stream passes bytes through unchanged, except that a NUL byte stands for a
//! close_notify, in both directions. Unlike the real backends, which read one TLS record at a
//! time, it reads whatever the socket has: bytes the server sent right after its close_notify
//! end up in its buffer and must come back as `unwrap_tcp`'s leftover, so these tests show that
//! the client feeds them to the reply parser first, losing and repeating nothing.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::client::control::Control;
use crate::client::{ClientBuilder, Timeouts};
use crate::command::ProtectionLevel;
use crate::error::{Error, Phase};
use crate::reply::ReplyLimits;
use crate::session::ControlProtection;
use crate::tls::{
    Capabilities, Capability, CloseState, SecureConnection, SecureStream, ServerName, SessionInfo,
    TlsError, TlsErrorKind,
};

/// The byte that stands for a close_notify.
const CLOSE: u8 = 0;

/// The fake stream; see the module docs.
struct FakeTls {
    tcp: TcpStream,
    buf: Vec<u8>,
    peer_closed: bool,
    sent: bool,
    unwrapped: bool,
    leftover_seen: Arc<AtomicUsize>,
}

impl Read for FakeTls {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.peer_closed {
            return Ok(0);
        }
        loop {
            if let Some(0) = self.buf.iter().position(|b| *b == CLOSE) {
                self.buf.remove(0);
                self.peer_closed = true;
                return Ok(0);
            }
            if !self.buf.is_empty() {
                let end = self
                    .buf
                    .iter()
                    .position(|b| *b == CLOSE)
                    .unwrap_or(self.buf.len());
                let n = end.min(out.len());
                out[..n].copy_from_slice(&self.buf[..n]);
                self.buf.drain(..n);
                return Ok(n);
            }
            let mut chunk = [0u8; 4096];
            let n = (&self.tcp).read(&mut chunk)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

impl Write for FakeTls {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.sent {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        (&self.tcp).write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.tcp).flush()
    }
}

impl SecureStream for FakeTls {
    fn send_close_notify(&mut self) -> io::Result<()> {
        if !self.sent {
            self.sent = true;
            (&self.tcp).write_all(&[CLOSE])?;
        }
        Ok(())
    }

    fn close_state(&self) -> CloseState {
        if self.peer_closed {
            CloseState::CleanClose
        } else {
            CloseState::Open
        }
    }

    fn unwrap_tcp(&mut self) -> Result<(TcpStream, Vec<u8>), TlsError> {
        if self.unwrapped || !self.peer_closed || !self.sent {
            return Err(TlsError::new(
                TlsErrorKind::Other,
                "no close_notify exchange",
            ));
        }
        self.unwrapped = true;
        let tcp = self.tcp.try_clone().map_err(TlsError::from_io)?;
        let leftover = std::mem::take(&mut self.buf);
        self.leftover_seen.store(leftover.len(), Ordering::SeqCst);
        Ok((tcp, leftover))
    }

    fn session_info(&self) -> SessionInfo {
        SessionInfo::new()
    }

    fn tcp(&self) -> &TcpStream {
        &self.tcp
    }
}

/// The fake backend; `unwrap` says whether it declares [`Capability::Unwrap`].
#[derive(Clone, Default)]
struct FakeConnector {
    no_unwrap: bool,
    leftover_seen: Arc<AtomicUsize>,
}

impl SecureConnection for FakeConnector {
    type Stream = FakeTls;

    fn name(&self) -> &'static str {
        "fake"
    }

    fn capabilities(&self) -> Capabilities {
        if self.no_unwrap {
            Capabilities::none()
        } else {
            Capabilities::none().with(Capability::Unwrap)
        }
    }

    fn secure_control(&self, tcp: TcpStream, _: &ServerName) -> Result<FakeTls, TlsError> {
        Ok(FakeTls {
            tcp,
            buf: Vec::new(),
            peer_closed: false,
            sent: false,
            unwrapped: false,
            leftover_seen: Arc::clone(&self.leftover_seen),
        })
    }

    fn secure_data(
        &self,
        tcp: TcpStream,
        s: &ServerName,
        _: &FakeTls,
    ) -> Result<FakeTls, TlsError> {
        self.secure_control(tcp, s)
    }
}

/// The server's side of the control connection.
struct Srv {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    seen: Vec<String>,
}

impl Srv {
    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        if self.reader.read_until(b'\n', &mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        self.seen.push(text.clone());
        Ok(text)
    }

    fn expect(&mut self, wanted: &str) -> io::Result<()> {
        let got = self.line()?;
        if got == wanted {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "expected {wanted:?}, got {got:?}"
            )))
        }
    }

    fn send(&mut self, line: &str) -> io::Result<()> {
        self.send_raw(format!("{line}\r\n").as_bytes())
    }

    fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// The client's close_notify must be the next byte.
    fn expect_close_notify(&mut self) -> io::Result<()> {
        let mut byte = [0u8; 1];
        self.reader.read_exact(&mut byte)?;
        if byte[0] == CLOSE {
            self.seen.push("<close_notify>".into());
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "expected close_notify, got {byte:?}"
            )))
        }
    }

    /// Nothing may arrive for `d`.
    fn expect_silence(&mut self, d: Duration) -> io::Result<()> {
        if !self.reader.buffer().is_empty() {
            return Err(io::Error::other("bytes arrived during the silence"));
        }
        self.writer.set_read_timeout(Some(d))?;
        let result = match self.reader.fill_buf() {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(())
            }
            Ok(b) => Err(io::Error::other(format!("got {b:?} during the silence"))),
            Err(e) => Err(e),
        };
        self.writer.set_read_timeout(Some(Duration::from_secs(5)))?;
        result
    }

    /// `220` · `AUTH TLS` · `234`, then (fake) TLS.
    fn secure(&mut self) -> io::Result<()> {
        self.send("220 hi")?;
        self.expect("AUTH TLS")?;
        self.send("234 go")
    }

    /// `USER` · `331` · `PASS` · `230` · `PBSZ 0` · `200` · `PROT P` · `200`.
    fn login(&mut self) -> io::Result<()> {
        for (command, reply) in [
            ("USER alice", "331 pass"),
            ("PASS secret", "230 in"),
            ("PBSZ 0", "200 PBSZ=0"),
            ("PROT P", "200 private"),
        ] {
            self.expect(command)?;
            self.send(reply)?;
        }
        Ok(())
    }

    fn secure_login(&mut self) -> io::Result<()> {
        self.secure()?;
        self.login()
    }
}

/// The server thread: the script's result, and every line (and close_notify) the client sent.
type Served = JoinHandle<(io::Result<()>, Vec<String>)>;

/// A one-connection server running `script`; the handle gives the script's result and every
/// line (and close_notify) the client sent, up to its close.
fn server<F>(script: F) -> (SocketAddr, Served)
where
    F: FnOnce(&mut Srv) -> io::Result<()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut srv = Srv {
            reader: BufReader::new(tcp.try_clone().unwrap()),
            writer: tcp,
            seen: Vec::new(),
        };
        let result = script(&mut srv);
        while let Ok(line) = srv.line() {
            let _ = line;
        }
        (result, srv.seen)
    });
    (addr, handle)
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        reply_idle: Duration::from_secs(2),
        reply_total: Duration::from_secs(4),
        write: Duration::from_secs(2),
        handshake: Duration::from_secs(2),
        ..Timeouts::default()
    }
}

fn builder(addr: SocketAddr) -> ClientBuilder {
    ClientBuilder::new("127.0.0.1")
        .port(addr.port())
        .timeouts(timeouts())
}

fn finish(handle: Served) -> Vec<String> {
    let (result, seen) = handle.join().unwrap();
    if let Err(e) = result {
        panic!("server script failed: {e}; the client sent {seen:?}");
    }
    seen
}

#[test]
fn bytes_right_after_the_close_notify_start_the_next_reply() {
    // The server waits for the client's close_notify before it sends its own (CCC-02 b), then
    // sends the first two bytes of the next reply in the same write as its close_notify; the
    // rest comes only after the cleartext PWD.
    let (addr, handle) = server(|s| {
        s.secure()?;
        s.expect("CCC")?;
        s.send("200 clearing")?;
        s.expect_close_notify()?;
        // Nothing in the clear before the server's close_notify.
        s.expect_silence(Duration::from_millis(200))?;
        s.send_raw(&[CLOSE, b'2', b'5'])?;
        s.expect("PWD")?;
        s.send_raw(b"7 \"/\" is the current directory\r\n")
    });
    let connector = FakeConnector::default();
    let tcp = TcpStream::connect(addr).unwrap();
    let mut control = Control::<FakeTls>::new(tcp, timeouts(), ReplyLimits::default()).unwrap();
    assert_eq!(control.read_reply(Phase::Greeting).unwrap().code(), 220);
    control.send(b"AUTH TLS\r\n").unwrap();
    assert_eq!(control.read_reply(Phase::Control).unwrap().code(), 234);
    let name = ServerName::from_host("127.0.0.1");
    control.secure(&connector, &name, 234).unwrap();
    control.send(b"CCC\r\n").unwrap();
    assert_eq!(control.read_reply(Phase::Control).unwrap().code(), 200);
    control.clear().unwrap();
    assert_eq!(connector.leftover_seen.load(Ordering::SeqCst), 2);
    assert!(control.tls().is_some(), "the session stays for data");
    control.send(b"PWD\r\n").unwrap();
    let reply = control.read_reply(Phase::Control).unwrap();
    assert_eq!(reply.code(), 257);
    assert_eq!(reply.text(), "\"/\" is the current directory");
    drop(control);
    let seen = finish(handle);
    assert_eq!(seen, ["AUTH TLS", "CCC", "<close_notify>", "PWD"]);
}

#[test]
fn a_reply_sent_with_the_close_notify_reaches_the_client() {
    // The 200, the server's close_notify and an unsolicited 421 in one write (CCC-02 a and c).
    let (addr, handle) = server(|s| {
        s.secure_login()?;
        s.expect("CCC")?;
        s.send_raw(b"200 clearing\r\n\x00421 Service closing\r\n")?;
        s.expect_close_notify()
    });
    let connector = FakeConnector::default();
    let leftover = Arc::clone(&connector.leftover_seen);
    let mut client = builder(addr).connect(connector).unwrap();
    client.login("alice", "secret").unwrap();
    assert_eq!(client.ccc().unwrap().code(), 200);
    assert_eq!(client.control_protection(), ControlProtection::Cleared);
    assert!(!client.is_control_protected());
    assert_eq!(client.data_protection(), ProtectionLevel::Private);
    assert_eq!(leftover.load(Ordering::SeqCst), 21);
    match client.noop() {
        Err(Error::ServiceClosing { reply }) => {
            assert_eq!(reply.code(), 421);
            assert_eq!(reply.text(), "Service closing");
        }
        other => panic!("expected the 421, got {other:?}"),
    }
    let seen = finish(handle);
    assert_eq!(seen.last().map(String::as_str), Some("<close_notify>"));
    assert!(!seen.contains(&"NOOP".to_owned()));
}

#[test]
fn after_ccc_protection_commands_are_refused_and_nothing_is_sent() {
    let (addr, handle) = server(|s| {
        s.secure_login()?;
        s.expect("CCC")?;
        s.send("200 clearing")?;
        s.send_raw(&[CLOSE])?;
        s.expect_close_notify()?;
        s.expect("NOOP")?;
        s.send("200 ok")
    });
    let mut client = builder(addr).connect(FakeConnector::default()).unwrap();
    client.login("alice", "secret").unwrap();
    client.raw("CCC").unwrap();
    for line in ["PBSZ 0", "PROT C", "PROT P", "AUTH TLS", "CCC"] {
        let e = client.raw(line).unwrap_err();
        assert!(matches!(e, Error::InvalidState(_)), "{line}: {e:?}");
        assert!(e.connection_usable());
    }
    let e = client
        .set_data_protection_level(ProtectionLevel::Clear)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    assert_eq!(client.data_protection(), ProtectionLevel::Private);
    assert_eq!(client.noop().unwrap().code(), 200);
    drop(client);
    let seen = finish(handle);
    assert_eq!(seen[seen.len() - 3..], ["CCC", "<close_notify>", "NOOP"]);
}

#[test]
fn ccc_is_refused_locally_before_login_and_without_unwrap() {
    let (addr, handle) = server(|s| {
        s.secure()?;
        s.expect("NOOP")?;
        s.send("200 ok")?;
        s.login()?;
        s.expect("NOOP")?;
        s.send("200 ok")
    });
    let connector = FakeConnector {
        no_unwrap: true,
        ..FakeConnector::default()
    };
    let mut client = builder(addr).connect(connector).unwrap();
    let e = client.ccc().unwrap_err();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");
    assert_eq!(client.noop().unwrap().code(), 200);
    client.login("alice", "secret").unwrap();
    let e = client.ccc().unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
    assert!(e.connection_usable());
    let e = client.rein().unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
    assert_eq!(client.noop().unwrap().code(), 200);
    drop(client);
    let seen = finish(handle);
    assert!(!seen.iter().any(|l| l == "CCC" || l == "REIN"), "{seen:?}");
}

#[test]
fn rein_with_a_close_notify_secures_the_connection_again() {
    let (addr, handle) = server(|s| {
        s.secure_login()?;
        s.expect("REIN")?;
        s.send("120 in a moment")?;
        s.send_raw(b"220 Service ready for new user.\r\n\x00")?;
        s.expect_close_notify()?;
        s.expect("AUTH TLS")?;
        s.send("234 go")?;
        s.login()?;
        s.expect("NOOP")?;
        s.send("200 ok")
    });
    let mut client = builder(addr).connect(FakeConnector::default()).unwrap();
    client.login("alice", "secret").unwrap();
    assert_eq!(client.rein().unwrap().code(), 220);
    assert_eq!(client.control_protection(), ControlProtection::Protected);
    assert_eq!(client.data_protection(), ProtectionLevel::Clear);
    client.login("alice", "secret").unwrap();
    assert_eq!(client.data_protection(), ProtectionLevel::Private);
    assert_eq!(client.noop().unwrap().code(), 200);
    drop(client);
    let seen = finish(handle);
    assert_eq!(seen[5..8], ["REIN", "<close_notify>", "AUTH TLS"]);
}

#[test]
fn rein_without_a_close_notify_keeps_tls_and_resets_the_session() {
    let (addr, handle) = server(|s| {
        s.secure_login()?;
        s.expect("REIN")?;
        s.send("230 Ready for new user.")?;
        s.login()?;
        s.expect("NOOP")?;
        s.send("200 ok")
    });
    let mut client = builder(addr).connect(FakeConnector::default()).unwrap();
    client.login("alice", "secret").unwrap();
    let started = std::time::Instant::now();
    assert_eq!(client.rein().unwrap().code(), 230);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(client.control_protection(), ControlProtection::Protected);
    assert_eq!(client.data_protection(), ProtectionLevel::Clear);
    client.login("alice", "secret").unwrap();
    assert_eq!(client.noop().unwrap().code(), 200);
    drop(client);
    let seen = finish(handle);
    assert!(!seen.contains(&"<close_notify>".to_owned()), "{seen:?}");
}

#[test]
fn rein_refused_changes_nothing() {
    let (addr, handle) = server(|s| {
        s.secure_login()?;
        s.expect("REIN")?;
        s.send("502 REIN not implemented.")?;
        s.expect("REIN")?;
        s.send("530 not now")?;
        s.expect("NOOP")?;
        s.send("200 ok")
    });
    let mut client = builder(addr).connect(FakeConnector::default()).unwrap();
    client.login("alice", "secret").unwrap();
    let e = client.rein().unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
    assert!(e.connection_usable());
    let e = client.raw("REIN").unwrap_err();
    assert_eq!(e.reply_code(), Some(530));
    assert!(e.connection_usable());
    assert_eq!(client.control_protection(), ControlProtection::Protected);
    assert_eq!(client.data_protection(), ProtectionLevel::Private);
    assert_eq!(client.noop().unwrap().code(), 200);
    drop(client);
    finish(handle);
}

#[test]
fn rein_after_ccc_drops_the_kept_session_and_secures_again() {
    let (addr, handle) = server(|s| {
        s.secure_login()?;
        s.expect("CCC")?;
        s.send_raw(b"200 clearing\r\n\x00")?;
        s.expect_close_notify()?;
        s.expect("REIN")?;
        s.send("220 ready")?;
        s.expect("AUTH TLS")?;
        s.send("234 go")?;
        s.expect("NOOP")?;
        s.send("200 ok")
    });
    let mut client = builder(addr).connect(FakeConnector::default()).unwrap();
    client.login("alice", "secret").unwrap();
    client.ccc().unwrap();
    assert_eq!(client.rein().unwrap().code(), 220);
    assert_eq!(client.control_protection(), ControlProtection::Protected);
    assert_eq!(client.noop().unwrap().code(), 200);
    drop(client);
    finish(handle);
}

#[test]
fn rein_sends_host_again_where_the_connection_start_sends_it() {
    // An IP literal: HOST goes before AUTH TLS (decision D15), after REIN as at the start.
    let (addr, handle) = server(|s| {
        s.send("220 hi")?;
        s.expect("HOST 127.0.0.1")?;
        s.send("220 vhost")?;
        s.expect("AUTH TLS")?;
        s.send("234 go")?;
        s.login()?;
        s.expect("REIN")?;
        s.send_raw(b"220 ready\r\n\x00")?;
        s.expect_close_notify()?;
        s.expect("HOST 127.0.0.1")?;
        s.send("220 vhost")?;
        s.expect("AUTH TLS")?;
        s.send("234 go")?;
        // A server that keeps TLS after REIN: HOST again, inside TLS.
        s.expect("REIN")?;
        s.send("230 Ready for new user.")?;
        s.expect("HOST 127.0.0.1")?;
        s.send("220 vhost")
    });
    let mut client = builder(addr)
        .host_command(true)
        .connect(FakeConnector::default())
        .unwrap();
    client.login("alice", "secret").unwrap();
    client.rein().unwrap();
    assert_eq!(client.control_protection(), ControlProtection::Protected);
    client.rein().unwrap();
    assert_eq!(client.control_protection(), ControlProtection::Protected);
    drop(client);
    let seen = finish(handle);
    assert_eq!(
        seen[6..],
        [
            "REIN",
            "<close_notify>",
            "HOST 127.0.0.1",
            "AUTH TLS",
            "REIN",
            "HOST 127.0.0.1"
        ]
    );
}
