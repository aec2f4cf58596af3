//! # Writing a TLS backend for ftps, and proving it right
//!
//! A backend is a crate that implements [`SecureConnection`] and [`SecureStream`] for one TLS
//! library. It knows nothing about FTP: the core decides when to secure a connection, sets every
//! time limit on the [`TcpStream`](std::net::TcpStream) before the handshake, and judges transfers
//! from the TLS close state and the server's replies. `ftps-rustls` (about 300 lines) is the
//! model to read.
//!
//! ## The contract, point by point
//!
//! 1. **`secure_control(tcp, server)`** runs the client handshake on the control connection to
//!    completion before it returns. It verifies the certificate chain and the name `server`
//!    unless the user built the backend with an option named `danger`. SNI is sent for
//!    [`ServerName::Dns`] and never for [`ServerName::Ip`]; an IP literal is matched against IP
//!    subject alternative names.
//! 2. **`secure_data(tcp, server, control)`** runs the handshake on a data connection, verifying
//!    against the same name, and offers to resume *`control`'s own* session: never a session
//!    that another control connection obtained, even when the user shares one configuration
//!    (vsftpd's `require_ssl_reuse` and ProFTPD compare them). With TLS 1.3 the tickets arrive
//!    after the handshake and servers issue them for single use, so every session a data
//!    connection receives must become available to the next one.
//! 3. **Reads** after the peer's close_notify return `Ok(0)` and [`SecureStream::close_state`]
//!    becomes [`CloseState::CleanClose`]; a TCP EOF without close_notify fails with
//!    [`std::io::ErrorKind::UnexpectedEof`] and the state becomes [`CloseState::Truncated`].
//!    [`framing::CloseTracker`] does this bookkeeping. TLS failures inside `read`/`write` come
//!    out as `io::Error::new(ErrorKind::InvalidData, tls_error)` with a [`TlsError`] inside, so
//!    the core can report their [`TlsErrorKind`]; a socket time-out stays `WouldBlock` or
//!    `TimedOut`.
//! 4. **`send_close_notify`** queues and flushes the alert; later writes fail.
//! 5. **`unwrap_tcp`**, after a close_notify exchange, hands back the TCP stream and any bytes
//!    read past the peer's close_notify, losing none (for `CCC`). The stream object stays
//!    alive, untouched, as the session later data connections resume. Feeding the TLS library through
//!    [`framing::RecordFraming`] guarantees nothing past the record is read at all.
//! 6. **`session_info`** reports version, cipher, resumption and the peer certificate where the
//!    library tells them, and `None` where it does not. Never guess.
//! 7. **Errors** map into a [`TlsError`] with the kind the core acts on
//!    ([`TlsErrorKind::CertificateInvalid`], [`TlsErrorKind::NameMismatch`],
//!    [`TlsErrorKind::Timeout`] for a socket time-out during a handshake, ...), the library's
//!    own error kept as the source.
//!
//! ## Capabilities: declared, never inferred
//!
//! [`SecureConnection::capabilities`] promises what the backend can do in every configuration it
//! accepts. Say `false` rather than "usually":
//!
//! | capability | the promise | scenarios that need it |
//! |---|---|---|
//! | [`Capability::Resumption`] | data connections resume the control connection's own session (point 2) | SESS-01..07 |
//! | [`Capability::Unwrap`] | `unwrap_tcp` works and loses no byte (point 5) | CCC, REIN |
//! | [`Capability::ClientCert`] | a client certificate can be presented | CERT, SESS-05 d |
//! | [`Capability::Describe`] | version, cipher and resumption are reported (point 6) | SESS-06, AUTH-11 |
//! | [`Capability::Tls13`] | TLS 1.3 is negotiated when the server offers it | the TLS 1.3 variants |
//!
//! A scenario that needs a capability the backend lacks is reported as **unsupported**. That
//! is never a pass: it is a statement about which servers the backend cannot serve (a backend
//! without resumption cannot talk to vsftpd's default configuration, for instance), and the
//! backend's docs should say so.
//!
//! ## Running the suite
//!
//! Two additions to the backend crate:
//!
//! ```toml
//! [dev-dependencies]
//! ftps-conformance = "0.1"
//!
//! [[test]]
//! name = "conformance"
//! harness = false
//! ```
//!
//! and `tests/conformance.rs`, one line; the closure gets the test PKI, so the real certificate
//! checks run (never a `danger` mode):
//!
//! ```ignore
//! ftps_conformance::conformance_main!(|pki| my_tls::Connector::trusting(pki.ca_der()).unwrap());
//! ```
//!
//! A backend that declares `client-cert` adds a second closure whose connector also presents the
//! test client certificate (`pki.client_cert_pem()`, `pki.client_key_pem()`): CERT-01 and
//! SESS-05 d use it, and fail if it is missing.
//!
//! ```ignore
//! ftps_conformance::conformance_main!(
//!     |pki| my_tls::Connector::trusting(pki.ca_der()).unwrap(),
//!     client_cert = |pki| my_tls::Connector::trusting(pki.ca_der())
//!         .unwrap()
//!         .with_client_cert(&pki.client_cert_pem(), &pki.client_key_pem())
//!         .unwrap(),
//! );
//! ```
//!
//! `cargo test --test conformance` then runs one test per scenario, named by its ID
//! (`cargo test --test conformance -- SESS` runs a group). Each scenario runs against the
//! in-process server of [`crate::server`] on loopback, with short time limits, in its own
//! thread: a panic or a run over 15 s is a failure. The workspace's own example,
//! `examples/delegating-backend`, is exactly this.
//!
//! ## Reading the results
//!
//! * `ok`: the scenario's checks held: the error kind and reply code, whether the connection
//!   stayed usable (then a `NOOP` must get its own reply), the bytes, and what the server saw
//!   (no credential in the clear, TLS or not on each data connection as PROT says, ...).
//! * `FAILED`, with the reason: the first check that did not hold, often with what the server
//!   received. A scenario that fails on one backend and passes on another is a bug in that
//!   backend, or in the contract: do not skip it.
//! * `ignored` with kind `unsupported`: the backend declared the capability false.
//!
//! The `ftps-conformance` binary runs every scenario against every backend compiled into it
//! and prints a matrix (scenario x backend: pass, FAIL, unsupported) and per-backend counts;
//! `--format json` prints one object per line for tools:
//!
//! ```sh
//! cargo run --release -p ftps-conformance -- --scenario SESS --format json
//! ```
//!
//! The scenario IDs and their meaning are in the project's `SCENARIOS.md`; they are the stable
//! contract. Everything else in this crate is a helper for the scenarios and may change.
//!
//! [`SecureConnection`]: ftps_core::SecureConnection
//! [`SecureStream`]: ftps_core::SecureStream
//! [`SecureConnection::capabilities`]: ftps_core::SecureConnection::capabilities
//! [`SecureStream::close_state`]: ftps_core::SecureStream::close_state
//! [`ServerName::Dns`]: ftps_core::ServerName::Dns
//! [`ServerName::Ip`]: ftps_core::ServerName::Ip
//! [`CloseState::CleanClose`]: ftps_core::CloseState::CleanClose
//! [`CloseState::Truncated`]: ftps_core::CloseState::Truncated
//! [`TlsError`]: ftps_core::TlsError
//! [`TlsErrorKind`]: ftps_core::TlsErrorKind
//! [`TlsErrorKind::CertificateInvalid`]: ftps_core::TlsErrorKind::CertificateInvalid
//! [`TlsErrorKind::NameMismatch`]: ftps_core::TlsErrorKind::NameMismatch
//! [`TlsErrorKind::Timeout`]: ftps_core::TlsErrorKind::Timeout
//! [`Capability::Resumption`]: ftps_core::Capability::Resumption
//! [`Capability::Unwrap`]: ftps_core::Capability::Unwrap
//! [`Capability::ClientCert`]: ftps_core::Capability::ClientCert
//! [`Capability::Describe`]: ftps_core::Capability::Describe
//! [`Capability::Tls13`]: ftps_core::Capability::Tls13
//! [`framing::CloseTracker`]: ftps_core::tls::framing::CloseTracker
//! [`framing::RecordFraming`]: ftps_core::tls::framing::RecordFraming
