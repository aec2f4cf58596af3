//! The watchdog over real sockets.

use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::{bounded_handshake, Watchdog};
use crate::tls::TlsErrorKind;

/// A connected pair of loopback sockets: (client side, server side).
pub(crate) fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

#[test]
fn a_passed_deadline_ends_a_blocked_read() {
    let (mut client, _server) = pair();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let armed = Watchdog::arm(&client, started + Duration::from_millis(100));
    let mut buf = [0u8; 16];
    let n = client.read(&mut buf).unwrap_or(0);
    let took = started.elapsed();
    assert_eq!(n, 0);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(armed.disarm(), "the watchdog must say it fired");
}

#[test]
fn an_earlier_deadline_armed_while_the_watchdog_waits_for_a_later_one_still_fires() {
    // The watchdog sleeps until the far deadline; arming a nearer one must wake it.
    let (far_client, _far_server) = pair();
    let far = Watchdog::arm(&far_client, Instant::now() + Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(20));
    let (mut client, _server) = pair();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let near = Watchdog::arm(&client, started + Duration::from_millis(100));
    let n = client.read(&mut [0u8; 16]).unwrap_or(0);
    let took = started.elapsed();
    assert_eq!(n, 0);
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(near.disarm(), "the near deadline must have fired");
    assert!(!far.disarm(), "the far deadline must not have fired");
}

#[test]
fn a_disarmed_deadline_leaves_the_socket_alone() {
    let (mut client, mut server) = pair();
    let armed = Watchdog::arm(&client, Instant::now() + Duration::from_millis(50));
    assert!(!armed.disarm());
    std::thread::sleep(Duration::from_millis(150));
    std::io::Write::write_all(&mut server, b"still here").unwrap();
    server.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"still here");
}

#[test]
fn a_handshake_past_its_limit_is_a_timeout() {
    let (client, _server) = pair();
    let result = bounded_handshake(client, Duration::from_millis(100), |mut tcp| {
        // A "handshake" that waits on a silent server, each read bounded far above the limit.
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 1];
        let _ = tcp.read(&mut buf);
        Ok::<(), crate::tls::TlsError>(())
    });
    let e = result.expect_err("the handshake must time out");
    assert_eq!(e.kind(), TlsErrorKind::Timeout);
}

#[test]
fn many_deadlines_fire_independently() {
    let pairs: Vec<_> = (0..4).map(|_| pair()).collect();
    let now = Instant::now();
    let armed: Vec<_> = pairs
        .iter()
        .enumerate()
        .map(|(i, (c, _))| {
            let after = if i % 2 == 0 { 100 } else { 60_000 };
            Watchdog::arm(c, now + Duration::from_millis(after))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    let fired: Vec<bool> = armed.into_iter().map(|a| a.disarm()).collect();
    assert_eq!(fired, [true, false, true, false]);
}
