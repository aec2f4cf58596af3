//! The in-process scriptable FTPS test server.
//!
//! A [`TestServer`] binds `127.0.0.1:0`, accepts one control connection on its own thread and
//! runs a script over it: a closure that drives a [`Conn`] step by step, in the notation of
//! `SCENARIOS.md` §1.1 (`S:` is [`Conn::send`], `C:` is [`Conn::expect`], `~ctl handshake` is
//! [`Conn::start_tls`], `D tcp` is [`DataListener::accept`], and so on), or hands the
//! connection to [`Conn::serve`], a small standard FTPS server over a [`Store`]: a [`MemFs`]
//! in memory or a [`DiskFs`] directory. [`Standalone`] runs `Conn::serve` for any number of
//! clients as a long-running server (`ftps-conformance serve`).
//!
//! The server records what the client sent ([`Record`]): the cleartext control bytes (A1), the
//! commands, the first byte of every data connection (A2), TLS versions, resumption, and how
//! each connection ended.
//!
//! Its TLS side always uses rustls with the ring provider, whatever backend is under test, and
//! its certificates are made by rcgen when a run starts ([`Pki`]). Each control connection gets
//! its own rustls `ServerConfig` and session cache (stateful, no ticketer, so TLS 1.3 tickets
//! are single-use), shared only with its own data connections: a data connection can resume
//! the session of its own control connection and no other.
//!
//! Every wait is bounded by [`ServerOptions::accept_timeout`], and dropping the
//! [`TestServer`] stops the waits, so a broken client fails a scenario instead of hanging it.
//!
//! This module is a helper of the conformance suite, not a stable API.
//!
//! ```no_run
//! use ftps_conformance::server::{ServerOptions, TestServer};
//!
//! let server = TestServer::start(ServerOptions::default(), |conn| {
//!     conn.secure_login()?;
//!     conn.expect("NOOP")?;
//!     conn.send("200 ok")
//! });
//! // ... run the client against server.addr() ...
//! let record = server.finish().expect("the script failed");
//! assert!(!record.cleartext_has_verb("USER"));
//! ```

mod control;
mod data;
mod disk;
mod fs;
mod net;
mod options;
mod pki;
mod record;
mod serve;
mod standalone;
mod store;
mod tls;

use std::any::Any;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use control::Conn;
pub use data::{DataConn, DataListener};
pub use disk::DiskFs;
pub use fs::MemFs;
pub use options::{ClientAuth, ServerOptions, TlsVersion};
pub use pki::{shared_pki, CertChoice, Pki};
pub use record::{CloseSeen, DataEnd, DataRecord, Record};
pub use serve::ServeOptions;
pub use standalone::{Standalone, StandaloneOptions, MAX_SESSIONS};
pub use store::{resolve, Entry, Store, WriteAt};

/// The longest [`TestServer::finish`] waits for the script.
const FINISH_CAP: Duration = Duration::from_secs(20);

/// How long [`Drop`] waits for a stopped script thread.
const DROP_WAIT: Duration = Duration::from_secs(2);

/// What one control connection's script left: its result and its record (`None` if the
/// script never ran or panicked).
type Outcome = (Result<(), String>, Option<Record>);

/// A running test server: one control connection and one script, or several control
/// connections each running a copy of the script ([`TestServer::start_many`]).
pub struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: Option<Result<JoinHandle<Vec<Outcome>>, String>>,
    timeout: Duration,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Starts a server with the process' [`shared_pki`]. It binds
    /// [`ServerOptions::bind_ip`] (`127.0.0.1`) port 0; its thread accepts one control
    /// connection within [`ServerOptions::accept_timeout`] and runs `script` on it.
    pub fn start<F>(options: ServerOptions, script: F) -> TestServer
    where
        F: FnOnce(&mut Conn) -> Result<(), String> + Send + 'static,
    {
        TestServer::start_with(options, shared_pki(), script)
    }

    /// [`TestServer::start`] with a given PKI.
    pub fn start_with<F>(options: ServerOptions, pki: &'static Pki, script: F) -> TestServer
    where
        F: FnOnce(&mut Conn) -> Result<(), String> + Send + 'static,
    {
        TestServer::spawn(options, move |listener, options, stop| {
            vec![run_one(&listener, options, pki, stop, script)]
        })
    }

    /// Starts a server that accepts `count` control connections, one after the other (each
    /// within [`ServerOptions::accept_timeout`]), and runs `script` on each at the same time,
    /// on its own thread. Each control connection has its own TLS session cache, so a data
    /// connection can resume only its own control connection's session (SESS-07). Read the
    /// records with [`TestServer::finish_all`].
    pub fn start_many<F>(options: ServerOptions, count: usize, script: F) -> TestServer
    where
        F: Fn(&mut Conn) -> Result<(), String> + Send + Sync + 'static,
    {
        let pki = shared_pki();
        TestServer::spawn(options, move |listener, options, stop| {
            run_many(&listener, options, pki, stop, count, Arc::new(script))
        })
    }

    fn spawn<R>(options: ServerOptions, body: R) -> TestServer
    where
        R: FnOnce(TcpListener, ServerOptions, Arc<AtomicBool>) -> Vec<Outcome> + Send + 'static,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let timeout = options.accept_timeout;
        let requested = SocketAddr::new(options.bind_ip, 0);
        let (addr, handle) = match TcpListener::bind(requested) {
            Ok(listener) => {
                let addr = listener.local_addr().unwrap_or(requested);
                let thread_stop = stop.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("ftps-test-server-{}", addr.port()))
                    .spawn(move || body(listener, options, thread_stop));
                let handle = spawned.map_err(|e| format!("cannot start the server thread: {e}"));
                (addr, handle)
            }
            Err(e) => (requested, Err(format!("cannot bind {requested}: {e}"))),
        };
        TestServer {
            addr,
            stop,
            handle: Some(handle),
            timeout,
        }
    }

    /// The control connection's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for the script (at most three times [`ServerOptions::accept_timeout`], and at
    /// most 20 s) and returns the record. `Err` if the script returned an error, panicked
    /// (the message is included) or did not end in time. With several control connections,
    /// returns the first one's record.
    pub fn finish(self) -> Result<Record, String> {
        self.finish_all()
            .and_then(|records| records.into_iter().next().ok_or_else(no_record))
    }

    /// Like [`TestServer::finish`], for every control connection, in the order they were
    /// accepted. `Err` if any script failed.
    pub fn finish_all(self) -> Result<Vec<Record>, String> {
        self.finish_outcomes()?
            .into_iter()
            .map(|(result, record)| result.and_then(|()| record.ok_or_else(no_record)))
            .collect()
    }

    /// Like [`TestServer::finish`], but also returns the record when the script failed
    /// (`None` if it panicked, never ran or did not end in time).
    pub fn finish_with_record(self) -> (Result<(), String>, Option<Record>) {
        match self.finish_outcomes() {
            Ok(outcomes) => outcomes
                .into_iter()
                .next()
                .unwrap_or_else(|| (Err(no_record()), None)),
            Err(e) => (Err(e), None),
        }
    }

    fn finish_outcomes(mut self) -> Result<Vec<Outcome>, String> {
        let handle = match self.handle.take() {
            Some(Ok(handle)) => handle,
            Some(Err(e)) => return Err(e),
            None => return Err("the server was already finished".into()),
        };
        let bound = self.timeout.saturating_mul(3).min(FINISH_CAP);
        let deadline = Instant::now() + bound;
        while !handle.is_finished() {
            if Instant::now() >= deadline {
                self.stop.store(true, Ordering::Relaxed);
                return Err(format!("the server script did not end within {bound:?}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        handle
            .join()
            .map_err(|panic| format!("the server script panicked: {}", panic_message(&*panic)))
    }
}

fn no_record() -> String {
    "the server script left no record".to_owned()
}

impl Drop for TestServer {
    /// Stops the script's waits and waits a little for its thread. If that thread panicked,
    /// this panics too (unless the current thread is already panicking), so the test fails.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let Some(Ok(handle)) = self.handle.take() else {
            return;
        };
        let deadline = Instant::now() + DROP_WAIT;
        while !handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if !handle.is_finished() {
            log::warn!("the server script did not stop within {DROP_WAIT:?}; detaching it");
            return;
        }
        let panicked = match handle.join() {
            Err(panic) => Some(panic_message(&*panic)),
            Ok(outcomes) => outcomes.into_iter().find_map(|(result, _)| {
                result
                    .err()
                    .filter(|e| e.starts_with(PANICKED))
                    .map(|e| e[PANICKED.len()..].to_owned())
            }),
        };
        if let Some(message) = panicked {
            if std::thread::panicking() {
                log::error!("the server script panicked: {message}");
            } else {
                panic!("the server script panicked: {message}");
            }
        }
    }
}

/// The prefix of an outcome whose script thread panicked ([`TestServer::start_many`]).
const PANICKED: &str = "the server script panicked: ";

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// Accepts one control connection.
fn accept_control(
    listener: &TcpListener,
    timeout: Duration,
    stop: &AtomicBool,
) -> Result<(std::net::TcpStream, SocketAddr), String> {
    match net::accept(listener, net::Bound::after(timeout, stop)) {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(format!("no control connection within {timeout:?}")),
        Err(e) => Err(e),
    }
}

/// Runs `script` on an accepted control connection.
fn run_script<F>(
    tcp: std::net::TcpStream,
    peer: SocketAddr,
    options: ServerOptions,
    pki: &'static Pki,
    stop: Arc<AtomicBool>,
    script: F,
) -> Outcome
where
    F: FnOnce(&mut Conn) -> Result<(), String>,
{
    let mut conn = match Conn::new(tcp, peer, options, pki, stop) {
        Ok(c) => c,
        Err(e) => return (Err(e), None),
    };
    let result = script(&mut conn);
    if let Err(e) = &result {
        log::debug!("server script failed: {e}");
    }
    let record = conn.record();
    (result, Some(record))
}

/// The server thread of [`TestServer::start`]: accept one control connection, run the script.
fn run_one<F>(
    listener: &TcpListener,
    options: ServerOptions,
    pki: &'static Pki,
    stop: Arc<AtomicBool>,
    script: F,
) -> Outcome
where
    F: FnOnce(&mut Conn) -> Result<(), String>,
{
    match accept_control(listener, options.accept_timeout, &stop) {
        Ok((tcp, peer)) => run_script(tcp, peer, options, pki, stop, script),
        Err(e) => (Err(e), None),
    }
}

/// The server thread of [`TestServer::start_many`].
fn run_many<F>(
    listener: &TcpListener,
    options: ServerOptions,
    pki: &'static Pki,
    stop: Arc<AtomicBool>,
    count: usize,
    script: Arc<F>,
) -> Vec<Outcome>
where
    F: Fn(&mut Conn) -> Result<(), String> + Send + Sync + 'static,
{
    let mut threads = Vec::with_capacity(count);
    let mut outcomes = Vec::with_capacity(count);
    for i in 0..count {
        let (tcp, peer) = match accept_control(listener, options.accept_timeout, &stop) {
            Ok(c) => c,
            Err(e) => {
                outcomes.push((Err(format!("control connection {}: {e}", i + 1)), None));
                break;
            }
        };
        let (options, stop, script) = (options.clone(), stop.clone(), script.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("ftps-test-server-conn-{}", i + 1))
            .spawn(move || run_script(tcp, peer, options, pki, stop, |c| script(c)));
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                outcomes.push((Err(format!("cannot start a script thread: {e}")), None));
                break;
            }
        }
    }
    let mut joined: Vec<Outcome> = threads
        .into_iter()
        .map(|t| {
            t.join().unwrap_or_else(|panic| {
                (Err(format!("{PANICKED}{}", panic_message(&*panic))), None)
            })
        })
        .collect();
    joined.append(&mut outcomes);
    joined
}
