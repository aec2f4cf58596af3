//! Tests of the rustls backend against a tiny in-test rustls server on 127.0.0.1.
//!
//! Every wait is bounded: sockets get read and write time-outs, and `accept` polls against a
//! deadline, so a broken backend fails instead of hanging.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use ftps_core::{Capability, CloseState, SecureConnection, SecureStream, ServerName, TlsErrorKind};
use ftps_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use ftps_rustls::rustls::server::{ServerConfig, ServerConnection, ServerSessionMemoryCache};
use ftps_rustls::rustls::{self, HandshakeKind, StreamOwned, SupportedProtocolVersion};
use ftps_rustls::{RustlsConnector, RustlsStream};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

const TIMEOUT: Duration = Duration::from_secs(10);
const TLS12: &SupportedProtocolVersion = &rustls::version::TLS12;
const TLS13: &SupportedProtocolVersion = &rustls::version::TLS13;

// ---- test PKI -------------------------------------------------------------------------------

struct Pki {
    ca_der: Vec<u8>,
    leaf_der: Vec<u8>,
    leaf_key: Vec<u8>,
}

fn ca(name: &str) -> (CertificateParams, KeyPair, Vec<u8>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let der = params.self_signed(&key).unwrap().der().to_vec();
    (params, key, der)
}

fn pki() -> Pki {
    let (ca_params, ca_key, ca_der) = ca("ftps-rustls test ca");
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let leaf = params
        .signed_by(&key, &Issuer::from_params(&ca_params, &ca_key))
        .unwrap();
    Pki {
        ca_der,
        leaf_der: leaf.der().to_vec(),
        leaf_key: key.serialize_der(),
    }
}

fn server_config(pki: &Pki, version: &'static SupportedProtocolVersion) -> Arc<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(pki.leaf_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.leaf_key.clone())),
        )
        .unwrap();
    // Stateful resumption only: TLS 1.2 session IDs, TLS 1.3 tickets that are single-use
    // because rustls takes them out of this cache when they are redeemed.
    config.session_storage = ServerSessionMemoryCache::new(256);
    config.send_tls13_tickets = 2;
    Arc::new(config)
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

/// Accepts one connection and runs the server side of the handshake.
fn accept_tls(listener: &TcpListener, config: &Arc<ServerConfig>) -> io::Result<ServerStream> {
    let tcp = accept(listener);
    let conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Reads until the client's close_notify, its TCP FIN or an error, within the time limit.
fn drain(stream: &mut ServerStream) {
    let mut buf = [0u8; 256];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
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

fn read_exact_ok(stream: &mut RustlsStream) {
    let mut buf = [0u8; 2];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ok");
}

/// Reads a data connection to its clean end and answers the server's close_notify.
fn finish_data(mut stream: RustlsStream) {
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"ok");
    assert_eq!(stream.close_state(), CloseState::CleanClose);
    stream.send_close_notify().unwrap();
}

/// Reads a control connection to its clean end and answers the close_notify.
fn finish_control(stream: &mut RustlsStream) {
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"ok");
    stream.send_close_notify().unwrap();
}

// ---- (1) handshake and verification ---------------------------------------------------------

#[test]
fn declares_name_and_capabilities() {
    let connector = RustlsConnector::trusting(&pki().ca_der).unwrap();
    assert_eq!(connector.name(), "rustls");
    for capability in Capability::ALL {
        assert_eq!(
            connector.capabilities().supports(capability),
            capability != Capability::Tls13SessionReuse,
            "{capability}"
        );
    }
}

#[test]
fn handshake_verifies_chain_and_name() {
    let pki = pki();
    let config = server_config(&pki, TLS13);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        for _ in 0..4 {
            if let Ok(mut stream) = accept_tls(&listener, &config) {
                ok_and_close(&mut stream);
            }
        }
    });

    let trusted = RustlsConnector::trusting(&pki.ca_der).unwrap();
    // A DNS name, sent as SNI.
    let mut stream = trusted.secure_control(connect(addr), &localhost()).unwrap();
    let info = stream.session_info();
    assert_eq!(info.protocol_version(), Some("TLSv1.3"));
    assert_eq!(info.peer_certificate(), Some(pki.leaf_der.as_slice()));
    assert_eq!(stream.tcp().peer_addr().unwrap(), addr);
    finish_control(&mut stream);

    // An IP literal, matched against the IP SAN.
    let ip = ServerName::Ip("127.0.0.1".parse().unwrap());
    let mut stream = trusted.secure_control(connect(addr), &ip).unwrap();
    finish_control(&mut stream);

    let (_, _, other_ca) = ca("another ca");
    let untrusting = RustlsConnector::trusting(&other_ca).unwrap();
    let err = untrusting
        .secure_control(connect(addr), &localhost())
        .unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::CertificateInvalid, "{err:?}");
    assert!(std::error::Error::source(&err).is_some());

    let wrong = ServerName::Dns("wrong.example".to_owned());
    let err = trusted.secure_control(connect(addr), &wrong).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::NameMismatch, "{err:?}");

    server.join().unwrap();
}

#[test]
fn plaintext_reply_is_not_tls() {
    let pki = pki();
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut tcp = accept(&listener);
        tcp.write_all(b"200 OK\r\n").unwrap();
        let _ = tcp.read(&mut [0u8; 512]);
    });
    let connector = RustlsConnector::trusting(&pki.ca_der).unwrap();
    let err = connector
        .secure_control(connect(addr), &localhost())
        .unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::NotTls, "{err:?}");
    server.join().unwrap();
}

#[test]
fn silent_server_times_out() {
    let pki = pki();
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut tcp = accept(&listener);
        // Wait for the client to give up, without answering its ClientHello.
        let mut sink = Vec::new();
        let _ = tcp.read_to_end(&mut sink);
    });
    let connector = RustlsConnector::trusting(&pki.ca_der).unwrap();
    let tcp = connect(addr);
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let err = connector.secure_control(tcp, &localhost()).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::Timeout, "{err:?}");
    server.join().unwrap();
}

// ---- (2) data connections resume the control session ----------------------------------------

fn resumes_every_data_connection(version: &'static SupportedProtocolVersion, name: &str) {
    const DATA: usize = 30;
    let pki = pki();
    let config = server_config(&pki, version);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut control = accept_tls(&listener, &config).unwrap();
        control.write_all(b"ok").unwrap();
        let mut kinds = Vec::new();
        for _ in 0..DATA {
            let mut data = accept_tls(&listener, &config).unwrap();
            kinds.push(data.conn.handshake_kind());
            ok_and_close(&mut data);
        }
        drain(&mut control);
        kinds
    });

    let connector = RustlsConnector::trusting(&pki.ca_der).unwrap();
    let mut control = connector
        .secure_control(connect(addr), &localhost())
        .unwrap();
    // Reading a protected byte processes the TLS 1.3 tickets sent after the handshake.
    read_exact_ok(&mut control);
    let info = control.session_info();
    assert_eq!(info.protocol_version(), Some(name));
    assert_eq!(info.resumed(), Some(false));
    let prefix = if version == TLS13 {
        "TLS13_"
    } else {
        "TLS_ECDHE_"
    };
    assert!(info.cipher_suite().unwrap().starts_with(prefix), "{info:?}");

    for i in 0..DATA {
        let data = connector
            .secure_data(connect(addr), &localhost(), &control)
            .unwrap();
        let info = data.session_info();
        assert_eq!(info.resumed(), Some(true), "data connection {i}");
        assert_eq!(info.protocol_version(), Some(name));
        assert_eq!(info.peer_certificate(), Some(pki.leaf_der.as_slice()));
        finish_data(data);
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

// ---- (3) each control connection keeps its own sessions -------------------------------------

fn control_sessions_are_isolated(version: &'static SupportedProtocolVersion) {
    let pki = pki();
    // Each server control connection has its own config, hence its own session cache: a data
    // connection accepted with A's config resumes only a session of control A.
    let config_a = server_config(&pki, version);
    let config_b = server_config(&pki, version);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut control_b = accept_tls(&listener, &config_b).unwrap();
        control_b.write_all(b"ok").unwrap();
        let mut control_a = accept_tls(&listener, &config_a).unwrap();
        control_a.write_all(b"ok").unwrap();
        let mut kinds = Vec::new();
        for config in [&config_a, &config_b, &config_a] {
            let mut data = accept_tls(&listener, config).unwrap();
            kinds.push(data.conn.handshake_kind());
            ok_and_close(&mut data);
        }
        drain(&mut control_a);
        drain(&mut control_b);
        kinds
    });

    let connector = RustlsConnector::trusting(&pki.ca_der).unwrap();
    // B first, then A: with one store shared by both, A's session would be the newest, so B's
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
    finish_data(a_at_a);

    let b_at_b = connector
        .secure_data(connect(addr), &localhost(), &control_b)
        .unwrap();
    assert_eq!(b_at_b.session_info().resumed(), Some(true));
    finish_data(b_at_b);

    // B's ticket or session ID, offered to the server side of control A, cannot resume.
    let b_at_a = connector
        .secure_data(connect(addr), &localhost(), &control_b)
        .unwrap();
    assert_eq!(b_at_a.session_info().resumed(), Some(false));
    finish_data(b_at_a);

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
    let pki = pki();
    let config = server_config(&pki, version);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut clean = accept_tls(&listener, &config).unwrap();
        clean.write_all(b"all of it").unwrap();
        clean.conn.send_close_notify();
        clean.flush().unwrap();
        drain(&mut clean);

        let mut cut = accept_tls(&listener, &config).unwrap();
        cut.write_all(b"part of it").unwrap();
        cut.flush().unwrap();
        cut.sock.shutdown(Shutdown::Write).unwrap();
        drain(&mut cut);
    });

    let connector = RustlsConnector::trusting(&pki.ca_der).unwrap();
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
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(got, b"part of it");
    assert_eq!(cut.close_state(), CloseState::Truncated);
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

// ---- (5) unwrap after a close_notify exchange -----------------------------------------------

fn unwrap_keeps_cleartext(version: &'static SupportedProtocolVersion) {
    let pki = pki();
    let config = server_config(&pki, version);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut stream = accept_tls(&listener, &config).unwrap();
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

    let connector = RustlsConnector::trusting(&pki.ca_der).unwrap();
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
    unwrap_keeps_cleartext(TLS12);
}

#[test]
fn tls13_unwrap_keeps_cleartext_after_close_notify() {
    unwrap_keeps_cleartext(TLS13);
}

#[test]
fn unwrap_without_close_notify_exchange_is_refused() {
    let pki = pki();
    let config = server_config(&pki, TLS13);
    let (listener, addr) = listen();
    let server = thread::spawn(move || {
        let mut stream = accept_tls(&listener, &config).unwrap();
        stream.write_all(b"ok").unwrap();
        drain(&mut stream);
    });
    let connector = RustlsConnector::trusting(&pki.ca_der).unwrap();
    let mut stream = connector
        .secure_control(connect(addr), &localhost())
        .unwrap();
    read_exact_ok(&mut stream);
    // Our close_notify alone is not enough: the peer's has not arrived.
    stream.send_close_notify().unwrap();
    let err = stream.unwrap_tcp().unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::Other);
    server.join().unwrap();
}
