//! What a scenario gets to work with: the backend under test, the test PKI, client builders
//! with the short time limits of SCENARIOS §1.2 (A4), and a bounded, panic-catching runner.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use ftps_core::{Capabilities, Client, ClientBuilder, SecureConnection, Timeouts};

use crate::scenario::{Outcome, Scenario};
use crate::server::{shared_pki, Pki, TestServer};

/// A scenario that takes longer than this has failed: "hang" (SCENARIOS A4).
pub const SCENARIO_LIMIT: Duration = Duration::from_secs(15);

/// A closure that makes a connector of the backend under test from the test PKI.
type Make<C> = Arc<dyn Fn(&Pki) -> C + Send + Sync>;

/// Makes the backend under test from the test PKI, so real certificate verification runs: a
/// connector that trusts the test CA and, for the client-certificate scenarios (CERT-01,
/// SESS-05 d), one that also presents the PKI's client certificate.
pub struct Factory<C> {
    trusting: Make<C>,
    with_client_cert: Option<Make<C>>,
}

impl<C> Factory<C> {
    /// A factory whose connectors trust the test CA ([`Pki::ca_der`]) and present no client
    /// certificate.
    pub fn new(trusting: impl Fn(&Pki) -> C + Send + Sync + 'static) -> Self {
        Factory {
            trusting: Arc::new(trusting),
            with_client_cert: None,
        }
    }

    /// Adds the maker of connectors that trust the test CA and present the client certificate
    /// [`Pki::client_cert_pem`] with its key [`Pki::client_key_pem`]. A backend that declares
    /// [`Capability::ClientCert`](ftps_core::Capability::ClientCert) without one fails the
    /// scenarios that need a client certificate.
    pub fn with_client_cert(
        mut self,
        with_client_cert: impl Fn(&Pki) -> C + Send + Sync + 'static,
    ) -> Self {
        self.with_client_cert = Some(Arc::new(with_client_cert));
        self
    }

    /// A connector that trusts the test CA.
    pub fn make(&self, pki: &Pki) -> C {
        (self.trusting)(pki)
    }

    /// A connector that trusts the test CA and presents the client certificate, if this
    /// factory can make one.
    pub fn make_with_client_cert(&self, pki: &Pki) -> Option<C> {
        self.with_client_cert.as_ref().map(|make| make(pki))
    }
}

impl<C> Clone for Factory<C> {
    fn clone(&self) -> Self {
        Factory {
            trusting: Arc::clone(&self.trusting),
            with_client_cert: self.with_client_cert.clone(),
        }
    }
}

/// The scenario's view of the backend under test.
pub struct Harness<C: SecureConnection> {
    factory: Factory<C>,
    pki: &'static Pki,
}

impl<C: SecureConnection> Harness<C> {
    /// A harness for the backend that `factory` makes.
    pub fn new(factory: Factory<C>) -> Self {
        Harness {
            factory,
            pki: shared_pki(),
        }
    }

    /// The test PKI the in-process server uses.
    pub fn pki(&self) -> &'static Pki {
        self.pki
    }

    /// A fresh connector of the backend under test, trusting the test CA.
    pub fn connector(&self) -> C {
        self.factory.make(self.pki)
    }

    /// A fresh connector that trusts the test CA and presents the PKI's client certificate.
    /// `Err` says why there is none: the backend's factory was given no client-certificate
    /// maker (see [`Factory::with_client_cert`]).
    pub fn connector_with_client_cert(&self) -> Result<C, String> {
        self.factory.make_with_client_cert(self.pki).ok_or_else(|| {
            "the backend declares client-cert, but its factory makes no connector with a \
             client certificate (conformance_main!(..., client_cert = ...))"
                .to_owned()
        })
    }

    /// The backend's declared capabilities.
    pub fn capabilities(&self) -> Capabilities {
        self.connector().capabilities()
    }

    /// The time limits of SCENARIOS A4: connect 2 s, reply 2 s idle and 4 s whole, data idle
    /// 2 s, TLS handshake 2 s.
    pub fn timeouts() -> Timeouts {
        let mut t = Timeouts::default();
        t.connect = Duration::from_secs(2);
        t.reply_idle = Duration::from_secs(2);
        t.reply_total = Duration::from_secs(4);
        t.write = Duration::from_secs(2);
        t.handshake = Duration::from_secs(2);
        t.data_accept = Duration::from_secs(2);
        t.data_idle = Duration::from_secs(2);
        t
    }

    /// A client builder for `server`: host `localhost` (a DNS name, so SNI is sent), its port,
    /// the A4 time limits.
    pub fn builder(&self, server: &TestServer) -> ClientBuilder {
        ClientBuilder::new("localhost")
            .port(server.addr().port())
            .timeouts(Self::timeouts())
    }

    /// Connects to `server` with the default settings.
    pub fn connect(&self, server: &TestServer) -> ftps_core::Result<Client<C>> {
        self.builder(server).connect(self.connector())
    }

    /// Connects and logs in as `alice`/`secret` (the `[secure-login]` of SCENARIOS §1.1).
    pub fn connect_login(&self, server: &TestServer) -> ftps_core::Result<Client<C>> {
        let mut client = self.connect(server)?;
        client.login("alice", "secret")?;
        Ok(client)
    }
}

/// Runs one scenario: unsupported if the backend lacks a capability, otherwise in its own
/// thread, with panics caught (A5) and the [`SCENARIO_LIMIT`] enforced (A4).
pub fn run_scenario<C: SecureConnection>(scenario: &Scenario<C>, factory: &Factory<C>) -> Outcome {
    let harness = Harness::new(factory.clone());
    let capabilities = harness.capabilities();
    if let Some(missing) = scenario.needs.iter().find(|c| !capabilities.supports(**c)) {
        return Outcome::Unsupported(*missing);
    }
    let run = scenario.run;
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let spawned = std::thread::Builder::new()
        .name(scenario.id.to_owned())
        .spawn(move || {
            let mut harness = harness;
            let outcome = catch_unwind(AssertUnwindSafe(|| Outcome::from(run(&mut harness))));
            let _ = tx.send(outcome);
        });
    if let Err(e) = spawned {
        return Outcome::Fail(format!("could not start the scenario thread: {e}"));
    }
    match rx.recv_timeout(SCENARIO_LIMIT) {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(panic)) => Outcome::Fail(format!("panic: {}", panic_message(&panic))),
        Err(_) => Outcome::Fail(format!("hang: no outcome after {:?}", started.elapsed())),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(not a string)".to_owned()
    }
}
