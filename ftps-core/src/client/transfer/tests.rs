//! The end of an upload's data connection, over real sockets: after the server's close_notify
//! the client reads on to the server's FIN, and no longer than its limit.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::drain;
use crate::client::control::tests::pair;
use crate::client::data::DataStream;
use crate::tls::{CloseState, SecureStream, SessionInfo, TlsError};

/// A TLS stream whose peer's close_notify has already been read: every read is `Ok(0)`.
struct PeerClosedTls {
    tcp: TcpStream,
}

impl Read for PeerClosedTls {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
}

impl Write for PeerClosedTls {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl SecureStream for PeerClosedTls {
    fn send_close_notify(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn close_state(&self) -> CloseState {
        CloseState::CleanClose
    }

    fn unwrap_tcp(&mut self) -> Result<(TcpStream, Vec<u8>), TlsError> {
        Err(TlsError::from_io(io::ErrorKind::Unsupported.into()))
    }

    fn session_info(&self) -> SessionInfo {
        SessionInfo::new()
    }

    fn tcp(&self) -> &TcpStream {
        &self.tcp
    }
}

#[test]
fn drain_reads_past_close_notify_to_the_servers_fin() {
    let (client, mut server) = pair();
    let peer = thread::spawn(move || {
        // The FIN comes a while after the close_notify (already read by the fake stream),
        // with a stray byte before it.
        thread::sleep(Duration::from_millis(150));
        server.write_all(b"x").unwrap();
        server.shutdown(std::net::Shutdown::Write).unwrap();
        server
    });
    let mut stream = DataStream::Tls(PeerClosedTls { tcp: client });
    drain(&mut stream, Duration::from_secs(10));
    // The FIN was consumed: a read that cannot wait finds end-of-stream, not "no data yet".
    let tcp = stream.tcp();
    tcp.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    assert_eq!((&*tcp).read(&mut byte).unwrap(), 0);
    drop(peer.join().unwrap());
}

#[test]
fn drain_gives_up_at_its_limit_when_the_server_never_closes() {
    let (client, server) = pair();
    let (done, wait) = mpsc::channel::<()>();
    let peer = thread::spawn(move || {
        // Keeps the connection open until the test is over.
        let _ = wait.recv_timeout(Duration::from_secs(30));
        drop(server);
    });
    let mut stream = DataStream::Tls(PeerClosedTls { tcp: client });
    let started = Instant::now();
    drain(&mut stream, Duration::from_millis(300));
    let took = started.elapsed();
    done.send(()).unwrap();
    peer.join().unwrap();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(5),
        "drain took {took:?}"
    );
}

#[test]
fn the_size_a_preliminary_reply_announces() {
    use super::announced_size;
    let vsftpd = "150 Opening BINARY mode data connection for big.bin (1073741824 bytes).";
    assert_eq!(announced_size(vsftpd), Some(1_073_741_824));
    let proftpd = "150 Opening BINARY mode data connection for a (b).bin (0 bytes)";
    assert_eq!(announced_size(proftpd), Some(0));
    for none in [
        "150 Opening BINARY mode data connection for f",
        "150 File status okay. About to open data connection.",
        "150 Opening data connection for f (12 kbytes).",
        "150 Opening data connection for f ( bytes).",
        "150 Opening data connection for f (-1 bytes).",
        "150 Opening data connection for f (99999999999999999999999 bytes).",
        "150 Opening data connection for f (12 bytes) now.",
    ] {
        assert_eq!(announced_size(none), None, "{none}");
    }
}

/// Decision D4 leaves a bare FIN after a 226 to the caller's flag; when the preliminary reply
/// announced more bytes than arrived, it is a truncation whatever the strictness.
#[test]
fn a_bare_fin_short_of_the_announced_size_is_a_truncation() {
    use super::{judge_download, End};
    use crate::error::Error;
    use crate::reply::Reply;
    use crate::session::Action;
    let judge = |bytes: u64, end: End, strict: bool, announced: Option<u64>| {
        let done = Ok(Action::Done(Reply::new(226, "Transfer complete.")));
        judge_download(
            "RETR", bytes, end, None, done, true, strict, false, None, announced,
        )
    };
    for strict in [false, true] {
        match judge(500, End::Truncated, strict, Some(1000)) {
            Err(Error::Truncated {
                bytes: 500,
                reply: Some(reply),
                usable: true,
            }) => assert_eq!(reply.code(), 226),
            other => panic!("strict={strict}: {other:?}"),
        }
    }
    // All the announced bytes (or no announcement): D4's Ok, flagged unclean.
    for announced in [Some(1000), Some(999), None] {
        let outcome = judge(1000, End::Truncated, false, announced).unwrap();
        assert_eq!(outcome.clean_tls_shutdown(), Some(false), "{announced:?}");
    }
    // close_notify vouches for the end whatever was announced (the file may have shrunk).
    let outcome = judge(500, End::Clean, false, Some(1000)).unwrap();
    assert_eq!(outcome.clean_tls_shutdown(), Some(true));
}
