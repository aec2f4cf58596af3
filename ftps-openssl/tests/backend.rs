//! Tests of the OpenSSL backend against a tiny in-test rustls server on 127.0.0.1, with the
//! conformance suite's test PKI.
//!
//! Every wait is bounded: sockets get read and write time-outs, and `accept` polls against a
//! deadline, so a broken backend fails instead of hanging.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ftps_conformance::server::{shared_pki, CertChoice, Pki};
use ftps_core::{Capability, CloseState, SecureConnection, SecureStream, ServerName, TlsErrorKind};
use ftps_openssl::openssl::pkey::PKey;
use ftps_openssl::openssl::ssl::{SslConnector, SslMethod, SslVersion};
use ftps_openssl::openssl::x509::store::X509StoreBuilder;
use ftps_openssl::openssl::x509::X509;
use ftps_openssl::{OpenSslConnector, OpenSslStream};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{
    ServerConfig, ServerConnection, ServerSessionMemoryCache, WebPkiClientVerifier,
};
use rustls::{HandshakeKind, RootCertStore, StreamOwned, SupportedProtocolVersion};

const TIMEOUT: Duration = Duration::from_secs(10);
const TLS12: &SupportedProtocolVersion = &rustls::version::TLS12;
const TLS13: &SupportedProtocolVersion = &rustls::version::TLS13;

// ---- server configurations ------------------------------------------------------------------

/// The server side of one control connection: control and data configurations that share one
/// session cache (stateful, so TLS 1.3 tickets are single-use), as the conformance server does.
struct Configs {
    control: Arc<ServerConfig>,
    data: Arc<ServerConfig>,
}

fn server_config(
    pki: &Pki,
    cert: CertChoice,
    version: &'static SupportedProtocolVersion,
    tickets: usize,
    cache: &Arc<ServerSessionMemoryCache>,
    client_auth: bool,
) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[version])
        .unwrap();
    let builder = if client_auth {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(pki.ca_der().to_vec()))
            .unwrap();
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder
        .with_single_cert(
            vec![CertificateDer::from(pki.cert_der(cert).to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der(cert).to_vec())),
        )
        .unwrap();
    config.session_storage = Arc::clone(cache) as _;
    config.send_tls13_tickets = tickets;
    Arc::new(config)
}

/// 2 tickets after the control handshake, 1 after each data handshake (what OpenSSL servers do).
fn configs(version: &'static SupportedProtocolVersion) -> Configs {
    let cache = ServerSessionMemoryCache::new(256);
    let pki = shared_pki();
    Configs {
        control: server_config(pki, CertChoice::Valid, version, 2, &cache, false),
        data: server_config(pki, CertChoice::Valid, version, 1, &cache, false),
    }
}

// ---- tiny server ----------------------------------------------------------------------------

type ServerStream = StreamOwned<ServerConnection, TcpStream>;

fn set_timeouts(tcp: &TcpStream, limit: Duration) {
    tcp.set_read_timeout(Some(limit)).unwrap();
    tcp.set_write_timeout(Some(limit)).unwrap();
}

fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

fn accept(listener: &TcpListener) -> TcpStream {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match listener.accept() {
            Ok((tcp, _)) => {
                tcp.set_nonblocking(false).unwrap();
                set_timeouts(&tcp, TIMEOUT);
                return tcp;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Accepts one connection, runs the server side of the handshake and sends the tickets.
fn accept_tls(listener: &TcpListener, config: &Arc<ServerConfig>) -> io::Result<ServerStream> {
    let tcp = accept(listener);
    let conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    while stream.conn.wants_write() {
        stream.conn.write_tls(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Reads until the client's close_notify, its TCP FIN or an error; returns what was read.
fn drain(stream: &mut ServerStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got
}

/// Sends "ok", then close_notify, then waits for the client to finish.
fn ok_and_close(stream: &mut ServerStream) {
    stream.write_all(b"ok").unwrap();
    stream.conn.send_close_notify();
    stream.flush().unwrap();
    drain(stream);
}

// ---- client side ----------------------------------------------------------------------------

fn localhost() -> ServerName {
    ServerName::Dns("localhost".to_owned())
}

fn connect(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).unwrap();
    set_timeouts(&tcp, TIMEOUT);
    tcp
}

fn trusted() -> OpenSslConnector {
    OpenSslConnector::trusting(shared_pki().ca_der()).unwrap()
}

fn read_exact_ok(stream: &mut OpenSslStream) {
    let mut buf = [0u8; 2];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ok");
}

/// Reads a stream to its clean end ("ok" then close_notify) and answers the close_notify.
fn finish(mut stream: OpenSslStream) {
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"ok");
    assert_eq!(stream.close_state(), CloseState::CleanClose);
    stream.send_close_notify().unwrap();
}

// ---- (1) handshake and verification ---------------------------------------------------------

#[test]
fn declares_name_and_capabilities() {
    let connector = trusted();
    assert_eq!(connector.name(), "openssl");
    for capability in Capability::ALL {
        assert!(
            connector.capabilities().supports(capability),
            "{capability}"
        );
    }
}

#[test]
fn handshake_verifies_chain_and_name() {
    let pki = shared_pki();
    let cache = ServerSessionMemoryCache::new(16);
    let valid = server_config(pki, CertChoice::Valid, TLS13, 0, &cache, false);
    let dns_only = server_config(pki, CertChoice::DnsOnly, TLS13, 0, &cache, false);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut snis = Vec::new();
        for config in [&valid, &valid, &valid, &valid, &dns_only] {
            if let Ok(mut stream) = accept_tls(&listener, config) {
                snis.push(stream.conn.server_name().map(str::to_owned));
                ok_and_close(&mut stream);
            }
        }
        snis
    });

    let connector = trusted();
    // A DNS name: sent as SNI, matched against the DNS SAN.
    let stream = connector
        .secure_control(connect(addr), &localhost())
        .unwrap();
    let info = stream.session_info();
    assert_eq!(info.protocol_version(), Some("TLSv1.3"));
    assert_eq!(info.resumed(), Some(false));
    assert!(
        info.cipher_suite().unwrap().starts_with("TLS_AES_")
            || info.cipher_suite() == Some("TLS_CHACHA20_POLY1305_SHA256"),
        "{info:?}"
    );
    assert_eq!(
        info.peer_certificate(),
        Some(pki.cert_der(CertChoice::Valid))
    );
    assert_eq!(stream.tcp().peer_addr().unwrap(), addr);
    finish(stream);

    // An IP literal: no SNI, matched against the IP SAN.
    let ip = ServerName::Ip("127.0.0.1".parse().unwrap());
    finish(connector.secure_control(connect(addr), &ip).unwrap());

    let untrusting = OpenSslConnector::trusting(pki.other_ca_der()).unwrap();
    let err = untrusting
        .secure_control(connect(addr), &localhost())
        .unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::CertificateInvalid, "{err:?}");
    assert!(std::error::Error::source(&err).is_some());

    let wrong = ServerName::Dns("wrong.example".to_owned());
    let err = connector.secure_control(connect(addr), &wrong).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::NameMismatch, "{err:?}");

    // A certificate without the IP SAN does not pass for the IP.
    let err = connector.secure_control(connect(addr), &ip).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::NameMismatch, "{err:?}");

    let snis = server.join().unwrap();
    assert_eq!(snis[0].as_deref(), Some("localhost"));
    assert_eq!(snis[1], None, "no SNI for an IP literal");
}

#[test]
fn plaintext_reply_is_not_tls() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut tcp = accept(&listener);
        tcp.write_all(b"200 OK\r\n").unwrap();
        let _ = tcp.read(&mut [0u8; 512]);
    });
    let err = trusted()
        .secure_control(connect(addr), &localhost())
        .unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::NotTls, "{err:?}");
    server.join().unwrap();
}

#[test]
fn silent_server_times_out() {
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut tcp = accept(&listener);
        // Wait for the client to give up, without answering its ClientHello.
        let mut sink = Vec::new();
        let _ = tcp.read_to_end(&mut sink);
    });
    let tcp = connect(addr);
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let err = trusted().secure_control(tcp, &localhost()).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::Timeout, "{err:?}");
    server.join().unwrap();
}

#[test]
fn client_certificate_is_presented() {
    let pki = shared_pki();
    let cache = ServerSessionMemoryCache::new(16);
    let config = server_config(pki, CertChoice::Valid, TLS12, 0, &cache, true);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut stream = accept_tls(&listener, &config).unwrap();
        let cert = stream.conn.peer_certificates().unwrap()[0].to_vec();
        ok_and_close(&mut stream);
        // The second client has no certificate: the handshake fails with certificate_required.
        assert!(accept_tls(&listener, &config).is_err());
        cert
    });

    let mut store = X509StoreBuilder::new().unwrap();
    store
        .add_cert(X509::from_der(pki.ca_der()).unwrap())
        .unwrap();
    let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
    builder.set_cert_store(store.build());
    builder
        .set_certificate(&X509::from_der(pki.client_cert_der()).unwrap())
        .unwrap();
    builder
        .set_private_key(&PKey::private_key_from_der(pki.client_key_der()).unwrap())
        .unwrap();
    let with_cert = OpenSslConnector::from(builder.build());
    finish(
        with_cert
            .secure_control(connect(addr), &localhost())
            .unwrap(),
    );

    let err = trusted()
        .secure_control(connect(addr), &localhost())
        .unwrap_err();
    assert_eq!(
        err.kind(),
        TlsErrorKind::ClientCertificateRequired,
        "{err:?}"
    );
    assert_eq!(server.join().unwrap(), pki.client_cert_der());
}

// ---- (2) data connections resume the control session (the `unsafe` set_session) -------------

/// 30 data connections in a row, downloads and uploads alternating; each must resume. Under
/// TLS 1.3 each one needs a fresh single-use ticket: the control connection's two, then the
/// one each resumed data connection brings (after the client's close_notify, on uploads).
fn resumes_every_data_connection(version: &'static SupportedProtocolVersion, name: &str) {
    const DATA: usize = 30;
    let configs = configs(version);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut control = accept_tls(&listener, &configs.control).unwrap();
        control.write_all(b"ok").unwrap();
        let mut kinds = Vec::new();
        for i in 0..DATA {
            let mut data = accept_tls(&listener, &configs.data).unwrap();
            kinds.push(data.conn.handshake_kind());
            if i % 2 == 0 {
                ok_and_close(&mut data);
            } else {
                assert_eq!(drain(&mut data), format!("upload {i}").as_bytes());
                data.conn.send_close_notify();
                data.flush().unwrap();
            }
        }
        drain(&mut control);
        kinds
    });

    let connector = trusted();
    let mut control = connector
        .secure_control(connect(addr), &localhost())
        .unwrap();
    // Reading a protected byte processes the TLS 1.3 tickets sent after the handshake.
    read_exact_ok(&mut control);
    let info = control.session_info();
    assert_eq!(info.protocol_version(), Some(name));
    assert_eq!(info.resumed(), Some(false));

    for i in 0..DATA {
        let mut data = connector
            .secure_data(connect(addr), &localhost(), &control)
            .unwrap();
        let info = data.session_info();
        assert_eq!(info.resumed(), Some(true), "data connection {i}");
        assert_eq!(info.protocol_version(), Some(name));
        assert_eq!(
            info.peer_certificate(),
            Some(shared_pki().cert_der(CertChoice::Valid))
        );
        if i % 2 == 0 {
            finish(data);
        } else {
            // An upload: close_notify, then a drain until the server's close_notify, as the
            // client core does.
            data.write_all(format!("upload {i}").as_bytes()).unwrap();
            data.send_close_notify().unwrap();
            assert_eq!(data.read(&mut [0u8; 16]).unwrap(), 0);
            assert_eq!(data.close_state(), CloseState::CleanClose);
        }
    }
    control.send_close_notify().unwrap();

    let kinds = server.join().unwrap();
    assert_eq!(kinds, vec![Some(HandshakeKind::Resumed); DATA]);
}

#[test]
fn tls12_data_connections_resume() {
    resumes_every_data_connection(TLS12, "TLSv1.2");
}

#[test]
fn tls13_data_connections_resume_with_single_use_tickets() {
    resumes_every_data_connection(TLS13, "TLSv1.3");
}

/// A data connection dropped in the middle (a transfer ended by `ABOR`) does not cost the next
/// one its resumption: OpenSSL would mark the session of a connection freed without a
/// close_notify as not resumable, and the client would then offer nothing (vsftpd: `522`).
fn resumes_after_a_dropped_data_connection(version: &'static SupportedProtocolVersion) {
    let configs = configs(version);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut control = accept_tls(&listener, &configs.control).unwrap();
        control.write_all(b"ok").unwrap();
        let mut aborted = accept_tls(&listener, &configs.data).unwrap();
        aborted.write_all(b"partial").unwrap();
        aborted.flush().unwrap();
        drain(&mut aborted);
        let mut next = accept_tls(&listener, &configs.data).unwrap();
        let kind = next.conn.handshake_kind();
        ok_and_close(&mut next);
        drain(&mut control);
        kind
    });

    let connector = trusted();
    let mut control = connector
        .secure_control(connect(addr), &localhost())
        .unwrap();
    read_exact_ok(&mut control);
    let mut aborted = connector
        .secure_data(connect(addr), &localhost(), &control)
        .unwrap();
    let mut partial = [0u8; 7];
    aborted.read_exact(&mut partial).unwrap();
    assert_eq!(&partial, b"partial");
    drop(aborted);
    let next = connector
        .secure_data(connect(addr), &localhost(), &control)
        .unwrap();
    assert_eq!(next.session_info().resumed(), Some(true));
    finish(next);
    control.send_close_notify().unwrap();
    assert_eq!(server.join().unwrap(), Some(HandshakeKind::Resumed));
}

#[test]
fn tls12_resumes_after_a_dropped_data_connection() {
    resumes_after_a_dropped_data_connection(TLS12);
}

#[test]
fn tls13_resumes_after_a_dropped_data_connection() {
    resumes_after_a_dropped_data_connection(TLS13);
}

/// The guard in front of `set_session`: a session is offered only to the context that made it.
/// A clone of the connector shares its context and resumes; an equal but separate connector has
/// another context and makes a full handshake instead.
#[test]
fn only_the_same_context_resumes() {
    for version in [TLS12, TLS13] {
        let configs = configs(version);
        let (listener, addr) = listen();
        let server = thread::spawn(move || {
            let mut control = accept_tls(&listener, &configs.control).unwrap();
            control.write_all(b"ok").unwrap();
            let mut kinds = Vec::new();
            for _ in 0..2 {
                let mut data = accept_tls(&listener, &configs.data).unwrap();
                kinds.push(data.conn.handshake_kind());
                ok_and_close(&mut data);
            }
            drain(&mut control);
            kinds
        });
        let connector = trusted();
        let mut control = connector
            .secure_control(connect(addr), &localhost())
            .unwrap();
        read_exact_ok(&mut control);

        let other = trusted();
        let data = other
            .secure_data(connect(addr), &localhost(), &control)
            .unwrap();
        assert_eq!(data.session_info().resumed(), Some(false));
        finish(data);

        let clone = connector.clone();
        let data = clone
            .secure_data(connect(addr), &localhost(), &control)
            .unwrap();
        assert_eq!(data.session_info().resumed(), Some(true));
        finish(data);

        control.send_close_notify().unwrap();
        let kinds = server.join().unwrap();
        assert_eq!(
            kinds,
            vec![Some(HandshakeKind::Full), Some(HandshakeKind::Resumed)]
        );
    }
}

// ---- (3) each control connection keeps its own sessions -------------------------------------

fn control_sessions_are_isolated(version: &'static SupportedProtocolVersion) {
    // Each server control connection has its own session cache: a data connection accepted
    // with A's configuration resumes only a session of control A.
    let a = configs(version);
    let b = configs(version);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut control_b = accept_tls(&listener, &b.control).unwrap();
        control_b.write_all(b"ok").unwrap();
        let mut control_a = accept_tls(&listener, &a.control).unwrap();
        control_a.write_all(b"ok").unwrap();
        let mut kinds = Vec::new();
        for config in [&a.data, &b.data, &a.data] {
            let mut data = accept_tls(&listener, config).unwrap();
            kinds.push(data.conn.handshake_kind());
            ok_and_close(&mut data);
        }
        drain(&mut control_a);
        drain(&mut control_b);
        kinds
    });

    let connector = trusted();
    // B first, then A: with one cache shared by both, A's session would be the newest, so B's
    // data connection would offer it to B's server and fail to resume.
    let mut control_b = connector
        .secure_control(connect(addr), &localhost())
        .unwrap();
    read_exact_ok(&mut control_b);
    let mut control_a = connector
        .secure_control(connect(addr), &localhost())
        .unwrap();
    read_exact_ok(&mut control_a);

    let a_at_a = connector
        .secure_data(connect(addr), &localhost(), &control_a)
        .unwrap();
    assert_eq!(a_at_a.session_info().resumed(), Some(true));
    finish(a_at_a);

    let b_at_b = connector
        .secure_data(connect(addr), &localhost(), &control_b)
        .unwrap();
    assert_eq!(b_at_b.session_info().resumed(), Some(true));
    finish(b_at_b);

    // B's session, offered to the server side of control A, cannot resume.
    let b_at_a = connector
        .secure_data(connect(addr), &localhost(), &control_b)
        .unwrap();
    assert_eq!(b_at_a.session_info().resumed(), Some(false));
    finish(b_at_a);

    control_a.send_close_notify().unwrap();
    control_b.send_close_notify().unwrap();
    let kinds = server.join().unwrap();
    assert_eq!(
        kinds,
        vec![
            Some(HandshakeKind::Resumed),
            Some(HandshakeKind::Resumed),
            Some(HandshakeKind::Full)
        ]
    );
}

#[test]
fn tls12_control_sessions_are_isolated() {
    control_sessions_are_isolated(TLS12);
}

#[test]
fn tls13_control_sessions_are_isolated() {
    control_sessions_are_isolated(TLS13);
}

// ---- (4) clean close versus truncation ------------------------------------------------------

fn clean_close_and_truncation(version: &'static SupportedProtocolVersion) {
    let configs = configs(version);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut clean = accept_tls(&listener, &configs.control).unwrap();
        clean.write_all(b"all of it").unwrap();
        clean.conn.send_close_notify();
        clean.flush().unwrap();
        drain(&mut clean);

        let mut cut = accept_tls(&listener, &configs.control).unwrap();
        cut.write_all(b"part of it").unwrap();
        cut.flush().unwrap();
        cut.sock.shutdown(Shutdown::Write).unwrap();
        drain(&mut cut);
    });

    let connector = trusted();
    let mut clean = connector
        .secure_control(connect(addr), &localhost())
        .unwrap();
    assert_eq!(clean.close_state(), CloseState::Open);
    let mut got = Vec::new();
    clean.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"all of it");
    assert_eq!(clean.close_state(), CloseState::CleanClose);
    assert_eq!(clean.read(&mut [0u8; 8]).unwrap(), 0);
    clean.send_close_notify().unwrap();
    let err = clean.write(b"late").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    drop(clean);

    let mut cut = connector
        .secure_control(connect(addr), &localhost())
        .unwrap();
    let mut got = Vec::new();
    let err = cut.read_to_end(&mut got).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err:?}");
    assert_eq!(got, b"part of it");
    assert_eq!(cut.close_state(), CloseState::Truncated);
    // It stays truncated, it never turns into a clean end.
    let err = cut.read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    drop(cut);

    server.join().unwrap();
}

#[test]
fn tls12_clean_close_and_truncation() {
    clean_close_and_truncation(TLS12);
}

#[test]
fn tls13_clean_close_and_truncation() {
    clean_close_and_truncation(TLS13);
}

/// Under TLS 1.3 the client's handshake is over before the server checks the client
/// certificate, so the server's fatal `certificate_required` alert arrives on the first read.
#[test]
fn a_fatal_alert_on_read_is_a_tls_error() {
    let pki = shared_pki();
    let cache = ServerSessionMemoryCache::new(16);
    let config = server_config(pki, CertChoice::Valid, TLS13, 0, &cache, true);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        // The handshake fails on the server side: no client certificate.
        assert!(accept_tls(&listener, &config).is_err());
    });
    let mut stream = trusted()
        .secure_control(connect(addr), &localhost())
        .unwrap();
    let err = stream.read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err:?}");
    let tls = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<ftps_core::TlsError>())
        .expect("a TlsError inside the io::Error");
    assert_eq!(
        tls.kind(),
        TlsErrorKind::ClientCertificateRequired,
        "{tls:?}"
    );
    assert_eq!(stream.close_state(), CloseState::Open);
    drop(stream);
    server.join().unwrap();
}

// ---- (5) unwrap after a close_notify exchange -----------------------------------------------

fn unwrap_keeps_cleartext(
    version: &'static SupportedProtocolVersion,
    connector: &OpenSslConnector,
) {
    let configs = configs(version);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut stream = accept_tls(&listener, &configs.control).unwrap();
        // A protected reply, the close_notify and the first cleartext reply in one TCP write.
        stream.conn.writer().write_all(b"200 clearing\r\n").unwrap();
        stream.conn.send_close_notify();
        let mut wire = Vec::new();
        while stream.conn.wants_write() {
            stream.conn.write_tls(&mut wire).unwrap();
        }
        wire.extend_from_slice(b"200 ok\r\n");
        stream.sock.write_all(&wire).unwrap();
        // Wait for the client's close_notify, then end the TCP connection.
        drain(&mut stream);
        let closed = stream.conn.process_new_packets().unwrap().peer_has_closed();
        stream.sock.shutdown(Shutdown::Both).unwrap();
        closed
    });

    let mut stream = connector
        .secure_control(connect(addr), &localhost())
        .unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"200 clearing\r\n");
    stream.send_close_notify().unwrap();
    let (mut tcp, leftover) = stream.unwrap_tcp().unwrap();
    let mut clear = leftover;
    tcp.read_to_end(&mut clear).unwrap();
    assert_eq!(clear, b"200 ok\r\n");
    assert!(
        server.join().unwrap(),
        "server saw the client's close_notify"
    );
}

#[test]
fn tls12_unwrap_keeps_cleartext_after_close_notify() {
    unwrap_keeps_cleartext(TLS12, &trusted());
}

#[test]
fn tls13_unwrap_keeps_cleartext_after_close_notify() {
    unwrap_keeps_cleartext(TLS13, &trusted());
}

/// With OpenSSL's read-ahead on, OpenSSL asks the socket for as much as it can hold; the record
/// framing under it still stops at the close_notify.
#[test]
fn unwrap_keeps_cleartext_with_read_ahead() {
    let mut store = X509StoreBuilder::new().unwrap();
    store
        .add_cert(X509::from_der(shared_pki().ca_der()).unwrap())
        .unwrap();
    let mut builder = SslConnector::builder(SslMethod::tls_client()).unwrap();
    builder.set_cert_store(store.build());
    builder.set_read_ahead(true);
    builder
        .set_min_proto_version(Some(SslVersion::TLS1_2))
        .unwrap();
    let connector = OpenSslConnector::new(builder.build());
    unwrap_keeps_cleartext(TLS12, &connector);
    unwrap_keeps_cleartext(TLS13, &connector);
}

#[test]
fn unwrap_without_close_notify_exchange_is_refused() {
    let configs = configs(TLS13);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut stream = accept_tls(&listener, &configs.control).unwrap();
        stream.write_all(b"ok").unwrap();
        drain(&mut stream);
    });
    let mut stream = trusted()
        .secure_control(connect(addr), &localhost())
        .unwrap();
    read_exact_ok(&mut stream);
    // Our close_notify alone is not enough: the peer's has not arrived.
    stream.send_close_notify().unwrap();
    let err = stream.unwrap_tcp().unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::Other);
    server.join().unwrap();
}
