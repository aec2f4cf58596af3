//! A fault-injecting TCP proxy for loopback: it sits between a client and an FTPS server (the
//! embedded one, or a real one), on the control connection and on the data connections, and
//! breaks one of them in a chosen way at a chosen byte.
//!
//! The server listens on one loopback address ([`SERVER_IP`], `127.0.0.2`) and the proxy on
//! another (`127.0.0.1`, which the test certificates name): the client connects its control
//! connection to the proxy, and, since a client connects its passive data connections to the
//! control peer's address (SCENARIOS DATA-02), its data connections too, to the port the server
//! announced. So the proxy listens on the server's whole passive port range (a real server's
//! `pasv_min`..`pasv_max`, or the embedded server's
//! [`ServerOptions::passive_ports`](crate::server::ServerOptions::passive_ports)) and forwards
//! each connection to the same port on the server's address. It never reads inside TLS: it
//! counts bytes, which is all a fault needs.
//!
//! ```no_run
//! use std::net::{IpAddr, Ipv4Addr, SocketAddr};
//! use ftps_conformance::fault::{Direction, Fault, FaultKind, FaultProxy, Target, SERVER_IP};
//!
//! let server = SocketAddr::new(SERVER_IP, 2121);
//! let fault = Fault {
//!     target: Target::Control,
//!     kind: FaultKind::Cut { direction: Direction::ToClient, after: 700 },
//! };
//! let proxy =
//!     FaultProxy::start(Ipv4Addr::LOCALHOST.into(), server, 30000..=30007, Some(fault)).unwrap();
//! // connect the client to proxy.addr() ...
//! let counts = proxy.stop();
//! # let _ = counts;
//! ```
//!
//! Every thread the proxy starts is joined, and every socket closed, by [`FaultProxy::stop`]
//! (or on drop), so a test can count the process's threads and descriptors around it.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use socket2::SockRef;

/// Where a server behind the proxy listens: loopback, but not `127.0.0.1`, where the proxy
/// listens.
pub const SERVER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// How often blocked accepts and reads look at the stop flag.
const POLL: Duration = Duration::from_millis(25);

/// The longest a data connection's upstream connect may take.
const CONNECT_LIMIT: Duration = Duration::from_secs(2);

/// Which connection a fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// The control connection.
    Control,
    /// The data connection accepted `n`-th (0 is the first) during the session.
    Data(usize),
}

/// Which way the bytes go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the client to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

/// What goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// After `after` bytes in `direction`, the connection is closed both ways (FIN to both
    /// peers); later bytes are lost.
    Cut {
        /// The direction counted.
        direction: Direction,
        /// Bytes forwarded before the cut.
        after: u64,
    },
    /// After `after` bytes in `direction`, that direction stops for `pause`, then goes on.
    Stall {
        /// The direction stalled.
        direction: Direction,
        /// Bytes forwarded before the stall.
        after: u64,
        /// How long.
        pause: Duration,
    },
    /// After `after` bytes in `direction`, the receiver gets a FIN in that direction only (a
    /// half-close); the sender's later bytes are discarded; the other direction goes on.
    HalfClose {
        /// The direction closed.
        direction: Direction,
        /// Bytes forwarded before the FIN.
        after: u64,
    },
    /// After `after` bytes in `direction`, both peers get a TCP reset (close with linger 0).
    Reset {
        /// The direction counted.
        direction: Direction,
        /// Bytes forwarded before the reset.
        after: u64,
    },
    /// The first `bytes` bytes in `direction` are forwarded one byte per write, 100 µs apart.
    Trickle {
        /// The direction slowed.
        direction: Direction,
        /// How many bytes go one at a time.
        bytes: u64,
    },
    /// Byte number `at` (0 is the first) in `direction` has its lowest bit flipped.
    Corrupt {
        /// The direction corrupted.
        direction: Direction,
        /// The position of the byte.
        at: u64,
    },
    /// The data connection is accepted and reset at once, never forwarded (only for
    /// [`Target::Data`]).
    RefuseData,
    /// The data connection is forwarded only after `delay` (only for [`Target::Data`]).
    DelayData {
        /// How long the upstream connect waits.
        delay: Duration,
    },
}

impl FaultKind {
    /// The direction this fault acts on, if it acts on one.
    fn direction(self) -> Option<Direction> {
        match self {
            FaultKind::Cut { direction, .. }
            | FaultKind::Stall { direction, .. }
            | FaultKind::HalfClose { direction, .. }
            | FaultKind::Reset { direction, .. }
            | FaultKind::Trickle { direction, .. }
            | FaultKind::Corrupt { direction, .. } => Some(direction),
            FaultKind::RefuseData | FaultKind::DelayData { .. } => None,
        }
    }
}

/// One fault: where, and what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The connection hit.
    pub target: Target,
    /// What happens to it.
    pub kind: FaultKind,
}

/// The bytes one connection carried through the proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Carried {
    /// From the client to the server.
    pub to_server: u64,
    /// From the server to the client.
    pub to_client: u64,
}

impl Carried {
    /// The count for `direction`.
    pub fn get(&self, direction: Direction) -> u64 {
        match direction {
            Direction::ToServer => self.to_server,
            Direction::ToClient => self.to_client,
        }
    }
}

/// What the proxy saw: the control connection's bytes, and each data connection's in the
/// order they were accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// The control connection (the first one, if the client made several).
    pub control: Carried,
    /// The data connections, in order.
    pub data: Vec<Carried>,
}

/// State shared by the proxy's threads.
struct Shared {
    upstream_ip: IpAddr,
    fault: Option<Fault>,
    stop: AtomicBool,
    data_accepted: AtomicUsize,
    control_accepted: AtomicUsize,
    counts: Mutex<Counts>,
    links: Mutex<Vec<Arc<Link>>>,
    pumps: Mutex<Vec<JoinHandle<()>>>,
}

/// The proxy; see the module docs. Stopped, and all its threads joined, by
/// [`FaultProxy::stop`] or on drop.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptors: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("fault", &self.shared.fault)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// Starts a proxy on `listen` in front of the server whose control connection listens on
    /// `upstream` and whose passive data connections use `data_ports` (on the same address).
    /// It listens on a free port for the control connection and on every port of
    /// `data_ports`; it fails if one of those is taken.
    pub fn start(
        listen: IpAddr,
        upstream: SocketAddr,
        data_ports: RangeInclusive<u16>,
        fault: Option<Fault>,
    ) -> io::Result<FaultProxy> {
        let control = TcpListener::bind(SocketAddr::new(listen, 0))?;
        let addr = control.local_addr()?;
        let mut data = Vec::new();
        for port in data_ports {
            data.push((TcpListener::bind(SocketAddr::new(listen, port))?, port));
        }
        let shared = Arc::new(Shared {
            upstream_ip: upstream.ip(),
            fault,
            stop: AtomicBool::new(false),
            data_accepted: AtomicUsize::new(0),
            control_accepted: AtomicUsize::new(0),
            counts: Mutex::new(Counts::default()),
            links: Mutex::new(Vec::new()),
            pumps: Mutex::new(Vec::new()),
        });
        let mut acceptors = Vec::new();
        let upstream_port = upstream.port();
        acceptors.push(spawn_acceptor(control, Arc::clone(&shared), move |s| {
            // A second control connection is forwarded, but neither counted nor faulted.
            let first = s.control_accepted.fetch_add(1, Ordering::SeqCst) == 0;
            (first.then_some(Target::Control), upstream_port)
        })?);
        for (listener, port) in data {
            acceptors.push(spawn_acceptor(listener, Arc::clone(&shared), move |s| {
                let n = s.data_accepted.fetch_add(1, Ordering::SeqCst);
                (Some(Target::Data(n)), port)
            })?);
        }
        Ok(FaultProxy {
            addr,
            shared,
            acceptors,
        })
    }

    /// The address the client connects its control connection to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bytes carried so far.
    pub fn counts(&self) -> Counts {
        self.shared.counts.lock().expect("counts").clone()
    }

    /// Stops the proxy: closes every listener and connection and joins every thread. Returns
    /// the bytes carried.
    pub fn stop(mut self) -> Counts {
        self.shutdown();
        self.counts()
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for acceptor in self.acceptors.drain(..) {
            let _ = acceptor.join();
        }
        // Wakes pumps blocked in a write to a peer that does not read.
        for link in self.shared.links.lock().expect("links").drain(..) {
            link.close_both();
        }
        loop {
            let pumps: Vec<JoinHandle<()>> =
                std::mem::take(&mut *self.shared.pumps.lock().expect("pumps"));
            if pumps.is_empty() {
                break;
            }
            for pump in pumps {
                let _ = pump.join();
            }
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Accepts connections on `listener` until the stop flag; `which` says, for each, the target
/// it is (`None`: forwarded but not counted) and the upstream port.
fn spawn_acceptor(
    listener: TcpListener,
    shared: Arc<Shared>,
    which: impl Fn(&Shared) -> (Option<Target>, u16) + Send + 'static,
) -> io::Result<JoinHandle<()>> {
    SockRef::from(&listener).set_read_timeout(Some(POLL))?;
    thread::Builder::new()
        .name("fault-proxy-accept".into())
        .spawn(move || {
            while !shared.stop.load(Ordering::SeqCst) {
                if let Ok((client, _)) = listener.accept() {
                    let (target, port) = which(&shared);
                    start_connection(&shared, client, target, port);
                }
            }
        })
}

/// Connects upstream and starts the two pumps of one proxied connection, applying the fault if
/// it targets this connection.
fn start_connection(shared: &Arc<Shared>, client: TcpStream, target: Option<Target>, port: u16) {
    let fault = shared.fault.filter(|f| Some(f.target) == target);
    if let Some(Target::Data(n)) = target {
        let mut counts = shared.counts.lock().expect("counts");
        if counts.data.len() <= n {
            counts.data.resize(n + 1, Carried::default());
        }
    }
    match fault.map(|f| f.kind) {
        Some(FaultKind::RefuseData) => {
            let _ = SockRef::from(&client).set_linger(Some(Duration::ZERO));
            return;
        }
        Some(FaultKind::DelayData { delay }) => sleep_unless_stopped(shared, delay),
        _ => {}
    }
    let upstream = SocketAddr::new(shared.upstream_ip, port);
    let Ok(server) = TcpStream::connect_timeout(&upstream, CONNECT_LIMIT) else {
        let _ = SockRef::from(&client).set_linger(Some(Duration::ZERO));
        return;
    };
    let link = Arc::new(Link {
        client,
        server,
        reset: AtomicBool::new(false),
    });
    shared.links.lock().expect("links").push(Arc::clone(&link));
    let mut pumps = shared.pumps.lock().expect("pumps");
    for direction in [Direction::ToServer, Direction::ToClient] {
        let link = Arc::clone(&link);
        let shared_for_pump = Arc::clone(shared);
        let fault = fault
            .map(|f| f.kind)
            .filter(|k| k.direction() == Some(direction));
        let spawned = thread::Builder::new()
            .name("fault-proxy-pump".into())
            .spawn(move || pump(&shared_for_pump, &link, target, direction, fault));
        if let Ok(handle) = spawned {
            pumps.push(handle);
        }
    }
}

/// Both sockets of one proxied connection.
struct Link {
    client: TcpStream,
    server: TcpStream,
    /// Set by a `Reset` fault: the other pump must not send a FIN.
    reset: AtomicBool,
}

impl Link {
    /// (from, to) for a direction.
    fn ends(&self, direction: Direction) -> (&TcpStream, &TcpStream) {
        match direction {
            Direction::ToServer => (&self.client, &self.server),
            Direction::ToClient => (&self.server, &self.client),
        }
    }

    /// Both peers get a FIN; both pumps end.
    fn close_both(&self) {
        for s in [&self.client, &self.server] {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Both peers get a reset once the last handle is dropped.
    fn reset_both(&self) {
        self.reset.store(true, Ordering::SeqCst);
        for s in [&self.client, &self.server] {
            let _ = SockRef::from(s).set_linger(Some(Duration::ZERO));
            // Wakes the other pump's read without sending anything.
            let _ = s.shutdown(Shutdown::Read);
        }
    }
}

/// Forwards one direction of one connection until either end closes or the proxy stops.
fn pump(
    shared: &Shared,
    link: &Link,
    target: Option<Target>,
    direction: Direction,
    fault: Option<FaultKind>,
) {
    let (mut from, mut to) = link.ends(direction);
    let _ = from.set_read_timeout(Some(POLL));
    let _ = to.set_nodelay(true);
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos: u64 = 0;
    let mut discarding = false;
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            link.close_both();
            return;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => {
                if !link.reset.load(Ordering::SeqCst) {
                    let _ = to.shutdown(Shutdown::Write);
                }
                return;
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                // The sender reset: pass the reset on.
                link.reset_both();
                return;
            }
        };
        if discarding {
            continue;
        }
        let chunk = &mut buf[..n];
        let end = pos + n as u64;
        count(shared, target, direction, n as u64);
        let keep = |after: u64| (after.saturating_sub(pos)).min(n as u64) as usize;
        let result = match fault {
            Some(FaultKind::Cut { after, .. }) if end > after => {
                let _ = to.write_all(&chunk[..keep(after)]);
                link.close_both();
                return;
            }
            Some(FaultKind::Reset { after, .. }) if end > after => {
                let _ = to.write_all(&chunk[..keep(after)]);
                link.reset_both();
                return;
            }
            Some(FaultKind::HalfClose { after, .. }) if end > after => {
                let _ = to.write_all(&chunk[..keep(after)]);
                let _ = to.shutdown(Shutdown::Write);
                discarding = true;
                Ok(())
            }
            Some(FaultKind::Stall { after, pause, .. }) if pos <= after && end > after => {
                let split = keep(after);
                to.write_all(&chunk[..split]).and_then(|()| {
                    sleep_unless_stopped(shared, pause);
                    to.write_all(&chunk[split..])
                })
            }
            Some(FaultKind::Trickle { bytes, .. }) if pos < bytes => {
                let slow = keep(bytes);
                trickle(shared, to, &chunk[..slow]).and_then(|()| to.write_all(&chunk[slow..]))
            }
            Some(FaultKind::Corrupt { at, .. }) if pos <= at && at < end => {
                chunk[(at - pos) as usize] ^= 1;
                to.write_all(chunk)
            }
            _ => to.write_all(chunk),
        };
        pos = end;
        if result.is_err() {
            // The receiver is gone: end this connection.
            link.close_both();
            return;
        }
    }
}

fn count(shared: &Shared, target: Option<Target>, direction: Direction, n: u64) {
    let mut counts = shared.counts.lock().expect("counts");
    let carried = match target {
        Some(Target::Control) => &mut counts.control,
        Some(Target::Data(i)) => match counts.data.get_mut(i) {
            Some(c) => c,
            None => return,
        },
        None => return,
    };
    match direction {
        Direction::ToServer => carried.to_server += n,
        Direction::ToClient => carried.to_client += n,
    }
}

/// Writes `bytes` one per write, 100 µs apart.
fn trickle(shared: &Shared, mut to: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    for byte in bytes {
        if shared.stop.load(Ordering::SeqCst) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        to.write_all(std::slice::from_ref(byte))?;
        thread::sleep(Duration::from_micros(100));
    }
    Ok(())
}

/// Sleeps `pause`, in slices, unless the proxy is stopped first.
fn sleep_unless_stopped(shared: &Shared, pause: Duration) {
    let until = Instant::now() + pause;
    while !shared.stop.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        thread::sleep(left.min(POLL));
    }
}
