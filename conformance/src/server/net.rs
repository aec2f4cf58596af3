//! Bounded socket waits. Every blocking call waits in short slices, so that a deadline or the
//! server's stop flag ends it (R13: a broken client fails a scenario instead of hanging it).

use std::io::{self, Read};
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

/// The longest single blocking call; the stop flag is checked between calls.
const SLICE: Duration = Duration::from_millis(20);

/// The error text of every wait interrupted by the server's stop flag.
pub(crate) const STOPPED: &str = "server stopped";

/// What one bounded read saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Got {
    /// `n > 0` bytes.
    Data(usize),
    /// TCP EOF (a FIN).
    Eof,
    /// The connection was reset.
    Reset,
    /// The deadline passed.
    Timeout,
}

/// A wait's deadline and the server's stop flag.
#[derive(Clone, Copy)]
pub(crate) struct Bound<'a> {
    pub(crate) deadline: Instant,
    pub(crate) stop: &'a AtomicBool,
}

impl<'a> Bound<'a> {
    pub(crate) fn after(d: Duration, stop: &'a AtomicBool) -> Bound<'a> {
        Bound {
            deadline: Instant::now() + d,
            stop,
        }
    }

    /// The next slice to block for, `None` once the deadline passed; `Err` once stopped.
    fn slice(&self) -> Result<Option<Duration>, String> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(STOPPED.to_owned());
        }
        let now = Instant::now();
        if now >= self.deadline {
            return Ok(None);
        }
        Ok(Some(
            (self.deadline - now)
                .min(SLICE)
                .max(Duration::from_millis(1)),
        ))
    }
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
    )
}

fn is_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Runs `op` (a read or peek) until it returns something, the deadline passes or the stop flag
/// is set.
fn wait_op(
    tcp: &TcpStream,
    bound: Bound<'_>,
    mut op: impl FnMut(&TcpStream) -> io::Result<usize>,
) -> Result<Got, String> {
    loop {
        let Some(slice) = bound.slice()? else {
            return Ok(Got::Timeout);
        };
        tcp.set_read_timeout(Some(slice))
            .map_err(|e| format!("set_read_timeout failed: {e}"))?;
        match op(tcp) {
            Ok(0) => return Ok(Got::Eof),
            Ok(n) => return Ok(Got::Data(n)),
            Err(e) if is_retry(&e) => continue,
            Err(e) if is_reset(&e) => return Ok(Got::Reset),
            Err(e) => return Err(format!("read failed: {e}")),
        }
    }
}

/// Reads into `buf` within the bound.
pub(crate) fn read(tcp: &TcpStream, buf: &mut [u8], bound: Bound<'_>) -> Result<Got, String> {
    wait_op(tcp, bound, |mut t| t.read(buf))
}

/// Peeks at the first byte within the bound, without consuming it.
pub(crate) fn peek(tcp: &TcpStream, bound: Bound<'_>) -> Result<(Got, Option<u8>), String> {
    let mut b = [0u8; 1];
    let got = wait_op(tcp, bound, |t| t.peek(&mut b))?;
    let byte = matches!(got, Got::Data(_)).then_some(b[0]);
    Ok((got, byte))
}

/// Reads whatever has already arrived, without waiting. Returns the bytes and whether the
/// connection ended (EOF or reset).
pub(crate) fn read_available(tcp: &TcpStream) -> (Vec<u8>, Option<Got>) {
    let mut out = Vec::new();
    if tcp.set_nonblocking(true).is_err() {
        return (out, None);
    }
    let mut buf = [0u8; 4096];
    let end = loop {
        match (&*tcp).read(&mut buf) {
            Ok(0) => break Some(Got::Eof),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > 1 << 20 {
                    break None;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if is_reset(&e) => break Some(Got::Reset),
            Err(_) => break None,
        }
    };
    let _ = tcp.set_nonblocking(false);
    (out, end)
}

/// Accepts one connection within the bound; `Ok(None)` when the deadline passed. The accept
/// blocks (in slices, through `SO_RCVTIMEO`, which Linux applies to `accept`), so a
/// connection is taken the moment it arrives.
pub(crate) fn accept(
    listener: &TcpListener,
    bound: Bound<'_>,
) -> Result<Option<(TcpStream, SocketAddr)>, String> {
    listener
        .set_nonblocking(false)
        .map_err(|e| format!("set_nonblocking failed: {e}"))?;
    let socket = SockRef::from(listener);
    loop {
        let Some(slice) = bound.slice()? else {
            return Ok(None);
        };
        socket
            .set_read_timeout(Some(slice))
            .map_err(|e| format!("set_read_timeout failed: {e}"))?;
        match listener.accept() {
            Ok((tcp, peer)) => {
                // Accepted sockets do not inherit the listener's timeout on Linux; clear it
                // anyway, every later wait sets its own.
                tcp.set_read_timeout(None)
                    .map_err(|e| format!("set_read_timeout failed: {e}"))?;
                return Ok(Some((tcp, peer)));
            }
            Err(e) if is_retry(&e) || is_reset(&e) => {}
            Err(e) => return Err(format!("accept failed: {e}")),
        }
    }
}

/// Accepts a connection that is already waiting, without blocking.
pub(crate) fn accept_now(listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
    listener.set_nonblocking(true).ok()?;
    let accepted = listener.accept();
    let _ = listener.set_nonblocking(false);
    let (tcp, peer) = accepted.ok()?;
    tcp.set_nonblocking(false).ok()?;
    Some((tcp, peer))
}

/// Connects to `addr` within `timeout`, from `from` (port 0) when given.
pub(crate) fn connect(
    addr: SocketAddr,
    from: Option<IpAddr>,
    timeout: Duration,
) -> Result<TcpStream, String> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(|e| format!("socket failed: {e}"))?;
    if let Some(ip) = from {
        socket
            .bind(&SocketAddr::new(ip, 0).into())
            .map_err(|e| format!("bind to {ip} failed: {e}"))?;
    }
    socket
        .connect_timeout(&addr.into(), timeout.max(Duration::from_millis(1)))
        .map_err(|e| format!("connect to {addr} failed: {e}"))?;
    Ok(socket.into())
}

/// Makes every write its own TCP segment and bounds writes.
pub(crate) fn prepare(tcp: &TcpStream, write_timeout: Duration) -> Result<(), String> {
    tcp.set_nodelay(true)
        .map_err(|e| format!("set_nodelay failed: {e}"))?;
    tcp.set_write_timeout(Some(write_timeout.max(Duration::from_millis(1))))
        .map_err(|e| format!("set_write_timeout failed: {e}"))
}

/// Closes `tcp` with an RST (SO_LINGER 0, then close).
pub(crate) fn reset(tcp: TcpStream) {
    if let Err(e) = SockRef::from(&tcp).set_linger(Some(Duration::ZERO)) {
        log::warn!("SO_LINGER 0 failed, the close will be a FIN: {e}");
    }
    drop(tcp);
}

/// Bytes of TCP urgent data waiting on `tcp` (read and discarded), 0 when none.
pub(crate) fn take_urgent(tcp: &TcpStream) -> usize {
    let mut buf = [MaybeUninit::<u8>::uninit(); 8];
    SockRef::from(tcp).recv_out_of_band(&mut buf).unwrap_or(0)
}

/// Sleeps for `d` in slices; `Err` once the stop flag is set.
pub(crate) fn pause(d: Duration, stop: &AtomicBool) -> Result<(), String> {
    let bound = Bound::after(d, stop);
    while let Some(slice) = bound.slice()? {
        std::thread::sleep(slice);
    }
    Ok(())
}
