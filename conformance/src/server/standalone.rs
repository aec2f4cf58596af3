//! [`Standalone`]: the test server as a long-running FTPS server over a directory, for any
//! client (`ftps-conformance serve --root DIR`, the benchmarks, soak tests): many control
//! connections at once, each on its own thread, each running [`Conn::serve`] over a
//! [`DiskFs`] until QUIT, until the client goes, or until the server stops.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::disk::DiskFs;
use super::net::{self, Bound};
use super::pki::Pki;
use super::{Conn, ServeOptions, ServerOptions};

/// The most control connections served at once; more get `421` and are closed.
pub const MAX_SESSIONS: usize = 256;

/// How [`Standalone`] runs.
#[derive(Clone, Debug)]
pub struct StandaloneOptions {
    /// The TLS and network settings; `accept_timeout` also bounds how long a control
    /// connection may stay idle.
    pub server: ServerOptions,
    /// How each session behaves (its login, close_notify strictness, ...).
    pub serve: ServeOptions,
    /// The port to listen on (0: any free port).
    pub port: u16,
    /// Implicit FTPS: TLS from the first byte of every control connection.
    pub implicit: bool,
    /// The directory served.
    pub root: PathBuf,
}

/// A running standalone server. Dropping it (or [`Standalone::stop`]) stops it: the accept
/// loop ends and every session's waits end within a fraction of a second.
pub struct Standalone {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Standalone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Standalone")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Standalone {
    /// Binds `options.server.bind_ip` and `options.port`, checks the root, and starts
    /// accepting control connections on a thread of its own, with the certificates of `pki`.
    pub fn start(options: StandaloneOptions, pki: &'static Pki) -> Result<Standalone, String> {
        let root = DiskFs::new(&options.root)
            .map_err(|e| format!("cannot serve {}: {e}", options.root.display()))?;
        let requested = SocketAddr::new(options.server.bind_ip, options.port);
        let listener =
            TcpListener::bind(requested).map_err(|e| format!("cannot bind {requested}: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("local_addr failed: {e}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("ftps-serve-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &options, &root, pki, &thread_stop))
            .map_err(|e| format!("cannot start the accept thread: {e}"))?;
        Ok(Standalone {
            addr,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// The address control connections go to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until the accept loop ends (it ends only when stopped, or if accepting fails).
    pub fn wait(mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }

    /// Stops the server and waits for its accept loop and its sessions.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Accepts control connections until stopped; each gets a session thread.
fn accept_loop(
    listener: &TcpListener,
    options: &StandaloneOptions,
    root: &DiskFs,
    pki: &'static Pki,
    stop: &Arc<AtomicBool>,
) {
    let active = Arc::new(AtomicUsize::new(0));
    let forever = Duration::from_secs(365 * 24 * 3600);
    let mut sessions: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        sessions.retain(|s| !s.is_finished());
        let (tcp, peer) = match net::accept(listener, Bound::after(forever, stop)) {
            Ok(Some(accepted)) => accepted,
            Ok(None) => continue,
            Err(e) if e == net::STOPPED => break,
            Err(e) => {
                log::error!("accepting a control connection: {e}");
                break;
            }
        };
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_SESSIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            refuse(tcp);
            continue;
        }
        let (options, mut fs) = (options.clone(), root.clone());
        let (stop, session_count) = (stop.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("ftps-serve-{peer}"))
            .spawn(move || {
                if let Err(e) = session(tcp, peer, &options, &mut fs, pki, stop) {
                    log::info!("session {peer}: {e}");
                }
                session_count.fetch_sub(1, Ordering::SeqCst);
            });
        match spawned {
            Ok(handle) => sessions.push(handle),
            Err(e) => {
                log::error!("cannot start a session thread: {e}");
                active.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
    // Every wait of a session sees the stop flag: they all end promptly.
    for session in sessions {
        let _ = session.join();
    }
}

/// One control connection: greeting (after the handshake with implicit FTPS), then
/// [`Conn::serve`].
fn session(
    tcp: TcpStream,
    peer: SocketAddr,
    options: &StandaloneOptions,
    fs: &mut DiskFs,
    pki: &'static Pki,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut conn = Conn::new(tcp, peer, options.server.clone(), pki, stop)?;
    if options.implicit {
        conn.start_tls()?;
    }
    conn.send("220 ftps-conformance test server ready.")?;
    let result = conn.serve(fs, &options.serve);
    if result.is_err() {
        let _ = conn.send("421 Closing the control connection.");
        conn.fin();
    }
    result
}

/// Turns a control connection away with `421`.
fn refuse(tcp: TcpStream) {
    use std::io::Write;
    let _ = (&tcp).write_all(b"421 Too many connections, try again later.\r\n");
    let _ = tcp.shutdown(std::net::Shutdown::Write);
}
