//! Tests of the native-tls backend: against the conformance crate's in-process rustls server for
//! TLS behaviour, and against a bare TCP listener for handshakes that go wrong before TLS does.
//!
//! Every wait is bounded: client sockets get read and write time-outs, the test server bounds
//! its own waits, and the bare listener polls `accept` against a deadline.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use ftps_conformance::server::{
    shared_pki, CertChoice, ClientAuth, Conn, DataEnd, Record, ServerOptions, TestServer,
    TlsVersion,
};
use ftps_core::{
    Capability, CloseState, SecureConnection, SecureStream, ServerName, TlsError, TlsErrorKind,
};
use ftps_native::native_tls::{Certificate, Identity, TlsConnector};
use ftps_native::{NativeTlsConnector, NativeTlsStream};

const TIMEOUT: Duration = Duration::from_secs(5);
const VERSIONS: [(TlsVersion, &str); 2] = [
    (TlsVersion::Tls12, "TLSv1.2"),
    (TlsVersion::Tls13, "TLSv1.3"),
];

fn localhost() -> ServerName {
    ServerName::Dns("localhost".to_owned())
}

fn connect(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
    tcp.set_write_timeout(Some(TIMEOUT)).unwrap();
    tcp
}

fn trusted() -> NativeTlsConnector {
    NativeTlsConnector::trusting(shared_pki().ca_der()).unwrap()
}

fn options(tls_version: TlsVersion) -> ServerOptions {
    ServerOptions {
        tls_version,
        ..ServerOptions::default()
    }
}

/// A test server whose script starts TLS at once, then runs `then`.
fn tls_server<F>(options: ServerOptions, then: F) -> TestServer
where
    F: FnOnce(&mut Conn) -> Result<(), String> + Send + 'static,
{
    TestServer::start(options, move |c| {
        c.start_tls()?;
        then(c)
    })
}

/// Waits for the client's close_notify and TCP end on the control connection.
fn expect_clean_client_close(c: &mut Conn) -> Result<(), String> {
    let seen = c.expect_eof(TIMEOUT)?;
    if seen.close_notify && seen.end == DataEnd::Fin {
        Ok(())
    } else {
        Err(format!("the client closed with {seen:?}"))
    }
}

/// The TLS error inside an `InvalidData` I/O error, as the core downcasts it.
fn tls_error(e: io::Error) -> TlsError {
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e:?}");
    *e.into_inner().unwrap().downcast::<TlsError>().unwrap()
}

// ---- capabilities ---------------------------------------------------------------------------

#[test]
fn declares_name_and_exactly_its_capabilities() {
    let connector = trusted();
    assert_eq!(connector.name(), "native-tls");
    let caps = connector.capabilities();
    assert!(!caps.supports(Capability::Resumption));
    assert!(!caps.supports(Capability::Unwrap));
    assert!(!caps.supports(Capability::Describe));
    assert!(caps.supports(Capability::ClientCert));
    let openssl = cfg!(not(any(target_os = "windows", target_vendor = "apple")));
    assert_eq!(caps.supports(Capability::Tls13), openssl);
}

#[test]
fn an_unusable_ca_is_refused() {
    let err = NativeTlsConnector::trusting(b"not a certificate").unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::Other);
    assert!(std::error::Error::source(&err).is_some());
}

// ---- verification ---------------------------------------------------------------------------

/// Connects to a server presenting `cert`; `Ok` means the handshake succeeded on both sides.
fn handshake_with(
    cert: CertChoice,
    connector: &NativeTlsConnector,
    name: &ServerName,
    bind: &str,
) -> (Result<NativeTlsStream, TlsError>, Record) {
    let options = ServerOptions {
        cert,
        bind_ip: bind.parse().unwrap(),
        ..ServerOptions::default()
    };
    let server = TestServer::start(options, |c| {
        if c.start_tls().is_ok() {
            expect_clean_client_close(c)?;
        }
        Ok(())
    });
    let mut result = connector.secure_control(connect(server.addr()), name);
    if let Ok(stream) = &mut result {
        stream.send_close_notify().unwrap();
        stream.tcp().shutdown(Shutdown::Write).unwrap();
    }
    let record = server.finish().unwrap();
    (result, record)
}

#[test]
fn a_trusted_certificate_is_accepted_by_dns_name_with_sni() {
    let pki = shared_pki();
    let (stream, record) = handshake_with(CertChoice::Valid, &trusted(), &localhost(), "127.0.0.1");
    let stream = stream.unwrap();
    assert_eq!(record.control_sni.as_deref(), Some("localhost"));
    let info = stream.session_info();
    assert_eq!(
        info.peer_certificate(),
        Some(pki.cert_der(CertChoice::Valid))
    );
    // native-tls reports nothing else: unknown, never guessed.
    assert_eq!(info.protocol_version(), None);
    assert_eq!(info.cipher_suite(), None);
    assert_eq!(info.resumed(), None);
}

#[test]
fn ip_literals_are_verified_against_ip_sans_without_sni() {
    for (ip, bind) in [("127.0.0.1", "127.0.0.1"), ("::1", "::1")] {
        let name = ServerName::Ip(ip.parse().unwrap());
        let (stream, record) = handshake_with(CertChoice::Valid, &trusted(), &name, bind);
        assert!(stream.is_ok(), "{ip}: {:?}", stream.err());
        assert_eq!(record.control_sni, None, "{ip}: no SNI for an IP literal");
    }
    // A certificate with only the DNS name does not match the IP.
    let name = ServerName::Ip("127.0.0.1".parse().unwrap());
    let (stream, _) = handshake_with(CertChoice::DnsOnly, &trusted(), &name, "127.0.0.1");
    assert_eq!(stream.unwrap_err().kind(), TlsErrorKind::NameMismatch);
}

#[test]
fn an_unknown_ca_is_certificate_invalid() {
    let other = NativeTlsConnector::trusting(shared_pki().other_ca_der()).unwrap();
    let (stream, _) = handshake_with(CertChoice::Valid, &other, &localhost(), "127.0.0.1");
    let err = stream.unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::CertificateInvalid, "{err:?}");
    assert!(std::error::Error::source(&err).is_some());

    for cert in [CertChoice::SelfSigned, CertChoice::Expired] {
        let (stream, _) = handshake_with(cert, &trusted(), &localhost(), "127.0.0.1");
        let err = stream.unwrap_err();
        assert_eq!(
            err.kind(),
            TlsErrorKind::CertificateInvalid,
            "{cert:?}: {err:?}"
        );
    }
}

#[test]
fn a_wrong_name_is_a_name_mismatch() {
    let wrong = ServerName::Dns("wrong.example".to_owned());
    let (stream, _) = handshake_with(CertChoice::Valid, &trusted(), &wrong, "127.0.0.1");
    assert_eq!(stream.unwrap_err().kind(), TlsErrorKind::NameMismatch);
    let (stream, _) = handshake_with(CertChoice::WrongName, &trusted(), &localhost(), "127.0.0.1");
    assert_eq!(stream.unwrap_err().kind(), TlsErrorKind::NameMismatch);
}

// ---- handshakes that fail before TLS does ---------------------------------------------------

/// A bare TCP server: accepts one connection (within the time limit) and hands it to `serve`.
fn raw_server(
    serve: impl FnOnce(TcpStream) + Send + 'static,
) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let deadline = Instant::now() + TIMEOUT;
        let tcp = loop {
            match listener.accept() {
                Ok((tcp, _)) => break tcp,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(2));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        tcp.set_nonblocking(false).unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        serve(tcp);
    });
    (addr, handle)
}

/// Reads the client's first TLS record (the ClientHello) completely.
fn read_client_hello(tcp: &mut TcpStream) {
    let mut header = [0u8; 5];
    tcp.read_exact(&mut header).unwrap();
    assert_eq!(header[0], 0x16, "a handshake record");
    let mut body = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
    tcp.read_exact(&mut body).unwrap();
}

fn failed_handshake(serve: impl FnOnce(TcpStream) + Send + 'static) -> TlsError {
    let (addr, server) = raw_server(serve);
    let err = trusted()
        .secure_control(connect(addr), &localhost())
        .unwrap_err();
    server.join().unwrap();
    err
}

#[test]
fn a_plaintext_answer_is_not_tls() {
    let err = failed_handshake(|mut tcp| {
        read_client_hello(&mut tcp);
        tcp.write_all(b"200 OK\r\n").unwrap();
        let _ = tcp.read(&mut [0u8; 512]);
    });
    assert_eq!(err.kind(), TlsErrorKind::NotTls, "{err:?}");
}

#[test]
fn a_fatal_alert_is_alert_received() {
    for description in [40u8, 70] {
        let err = failed_handshake(move |mut tcp| {
            read_client_hello(&mut tcp);
            tcp.write_all(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, description])
                .unwrap();
            let _ = tcp.read(&mut [0u8; 512]);
        });
        assert_eq!(
            err.kind(),
            TlsErrorKind::AlertReceived,
            "{description}: {err:?}"
        );
    }
}

#[test]
fn a_fin_during_the_handshake_is_unexpected_eof() {
    let err = failed_handshake(|mut tcp| {
        read_client_hello(&mut tcp);
        tcp.shutdown(Shutdown::Write).unwrap();
        let _ = tcp.read(&mut [0u8; 512]);
    });
    assert_eq!(err.kind(), TlsErrorKind::UnexpectedEof, "{err:?}");
}

#[test]
fn a_silent_server_is_a_timeout() {
    let (addr, server) = raw_server(|mut tcp| {
        read_client_hello(&mut tcp);
        // Wait for the client to give up, without answering.
        let _ = tcp.read_to_end(&mut Vec::new());
    });
    let tcp = connect(addr);
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let err = trusted().secure_control(tcp, &localhost()).unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::Timeout, "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    server.join().unwrap();
}

// ---- close_notify versus a bare TCP end ----------------------------------------------------

#[test]
fn close_notify_is_a_clean_close() {
    for (version, name) in VERSIONS {
        let server = tls_server(options(version), |c| {
            c.send_raw(b"all of it")?;
            c.close_notify()?;
            expect_clean_client_close(c)
        });
        let mut stream = trusted()
            .secure_control(connect(server.addr()), &localhost())
            .unwrap();
        assert_eq!(stream.close_state(), CloseState::Open);
        let mut got = Vec::new();
        stream.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"all of it", "{name}");
        assert_eq!(stream.close_state(), CloseState::CleanClose, "{name}");
        assert_eq!(
            stream.read(&mut [0u8; 8]).unwrap(),
            0,
            "{name}: stays at the end"
        );
        stream.send_close_notify().unwrap();
        let err = stream.write(b"late").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{name}");
        stream.tcp().shutdown(Shutdown::Write).unwrap();
        let record = server.finish().unwrap();
        assert_eq!(record.control_version.as_deref(), Some(name));
    }
}

#[test]
fn a_bare_fin_is_a_truncation() {
    for (version, name) in VERSIONS {
        let server = tls_server(options(version), |c| {
            c.send_raw(b"part of it")?;
            c.fin();
            Ok(())
        });
        let mut stream = trusted()
            .secure_control(connect(server.addr()), &localhost())
            .unwrap();
        let mut got = Vec::new();
        let err = stream.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{name}: {err:?}");
        assert_eq!(got, b"part of it", "{name}: every byte before the end");
        assert_eq!(stream.close_state(), CloseState::Truncated, "{name}");
        let again = stream.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::UnexpectedEof, "{name}");
        assert_eq!(stream.close_state(), CloseState::Truncated, "{name}");
        server.finish().unwrap();
    }
}

#[test]
fn a_fin_in_the_middle_of_a_record_is_a_truncation() {
    let server = tls_server(ServerOptions::default(), |c| {
        c.send_raw(b"whole")?;
        // The header of a 32-byte application data record, and 3 bytes of it.
        c.send_tcp_raw(&[0x17, 0x03, 0x03, 0x00, 0x20, 1, 2, 3])?;
        c.fin();
        Ok(())
    });
    let mut stream = trusted()
        .secure_control(connect(server.addr()), &localhost())
        .unwrap();
    let mut got = Vec::new();
    let err = stream.read_to_end(&mut got).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err:?}");
    assert_eq!(got, b"whole");
    assert_eq!(stream.close_state(), CloseState::Truncated);
    server.finish().unwrap();
}

#[test]
fn a_fatal_alert_inside_the_stream_is_a_tls_error() {
    let server = tls_server(ServerOptions::default(), |c| {
        c.send_raw(b"hello")?;
        c.send_alert(20)?;
        thread::sleep(Duration::from_millis(200));
        c.fin();
        Ok(())
    });
    let mut stream = trusted()
        .secure_control(connect(server.addr()), &localhost())
        .unwrap();
    let mut hello = [0u8; 5];
    stream.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"hello");
    let err = tls_error(stream.read(&mut [0u8; 8]).unwrap_err());
    assert_eq!(err.kind(), TlsErrorKind::AlertReceived, "{err:?}");
    assert_eq!(stream.close_state(), CloseState::Open);
    server.finish().unwrap();
}

#[test]
fn a_read_time_out_is_a_socket_time_out() {
    let server = tls_server(ServerOptions::default(), |c| {
        c.send_raw(b"ok")?;
        c.expect_eof(TIMEOUT).map(drop)
    });
    let mut stream = trusted()
        .secure_control(connect(server.addr()), &localhost())
        .unwrap();
    let mut ok = [0u8; 2];
    stream.read_exact(&mut ok).unwrap();
    stream
        .tcp()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let err = stream.read(&mut [0u8; 8]).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    assert_eq!(stream.close_state(), CloseState::Open);
    stream.send_close_notify().unwrap();
    drop(stream);
    server.finish().unwrap();
}

// ---- unwrap ---------------------------------------------------------------------------------

#[test]
fn unwrap_is_unsupported_even_after_a_close_notify_exchange() {
    let server = tls_server(ServerOptions::default(), |c| {
        c.close_notify()?;
        c.wait_close_notify(TIMEOUT)
    });
    let mut stream = trusted()
        .secure_control(connect(server.addr()), &localhost())
        .unwrap();
    assert_eq!(stream.read(&mut [0u8; 8]).unwrap(), 0);
    stream.send_close_notify().unwrap();
    let err = stream.unwrap_tcp().unwrap_err();
    assert_eq!(err.kind(), TlsErrorKind::Unsupported);
    server.finish().unwrap();
}

// ---- data connections and client certificates -----------------------------------------------

/// A connector that presents the test client certificate.
fn with_client_cert() -> NativeTlsConnector {
    let pki = shared_pki();
    let identity = Identity::from_pkcs8(
        pki.client_cert_pem().as_bytes(),
        pki.client_key_pem().as_bytes(),
    )
    .unwrap();
    let connector = TlsConnector::builder()
        .identity(identity)
        .add_root_certificate(Certificate::from_der(pki.ca_der()).unwrap())
        .disable_built_in_roots(true)
        .build()
        .unwrap();
    NativeTlsConnector::from(connector)
}

#[test]
fn data_connections_make_full_handshakes_and_present_the_client_certificate() {
    for (version, name) in VERSIONS {
        let (tx, rx) = mpsc::channel();
        let options = ServerOptions {
            client_auth: ClientAuth::Require,
            ..options(version)
        };
        let server = tls_server(options, move |c| {
            c.send("200 ready")?;
            for _ in 0..2 {
                let listener = c.listen_data()?;
                tx.send(listener.addr()).map_err(|e| e.to_string())?;
                let mut data = listener.accept(c)?;
                data.accept_tls()?;
                data.write_all(b"data")?;
                data.close_notify()?;
                data.wait_client_close(TIMEOUT);
            }
            expect_clean_client_close(c)
        });
        let connector = with_client_cert();
        let mut control = connector
            .secure_control(connect(server.addr()), &localhost())
            .unwrap();
        let mut ready = [0u8; 11];
        control.read_exact(&mut ready).unwrap();
        assert_eq!(&ready, b"200 ready\r\n");
        for _ in 0..2 {
            let addr = rx.recv_timeout(TIMEOUT).unwrap();
            let mut data = connector
                .secure_data(connect(addr), &localhost(), &control)
                .unwrap();
            let mut got = Vec::new();
            data.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"data");
            assert_eq!(data.close_state(), CloseState::CleanClose);
            assert_eq!(data.session_info().resumed(), None, "never guessed");
            data.send_close_notify().unwrap();
            data.tcp().shutdown(Shutdown::Write).unwrap();
        }
        control.send_close_notify().unwrap();
        control.tcp().shutdown(Shutdown::Write).unwrap();
        let record = server.finish().unwrap();
        let client_cert = shared_pki().client_cert_der();
        assert_eq!(record.control_version.as_deref(), Some(name));
        assert_eq!(record.control_client_cert.as_deref(), Some(client_cert));
        assert_eq!(record.data.len(), 2, "{name}");
        for data in &record.data {
            assert_eq!(data.resumed, Some(false), "{name}: no resumption");
            assert_eq!(data.client_cert.as_deref(), Some(client_cert), "{name}");
            assert_eq!(data.sni.as_deref(), Some("localhost"), "{name}");
            assert!(data.client_close_notify, "{name}");
        }
    }
}
