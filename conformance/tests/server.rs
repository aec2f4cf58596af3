//! Tests of the in-process test server, driven by a minimal rustls client over `std::net`
//! (deliberately not the project's client).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ftps_conformance::server::{
    shared_pki, CertChoice, ClientAuth, CloseSeen, DataEnd, MemFs, ServeOptions, ServerOptions,
    TestServer, TlsVersion,
};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

const T: Duration = Duration::from_secs(5);

fn client_config(version: Option<&'static rustls::SupportedProtocolVersion>) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(shared_pki().ca_der().to_vec()))
        .unwrap();
    let builder = ClientConfig::builder_with_provider(provider);
    let builder = match version {
        Some(v) => builder.with_protocol_versions(&[v]),
        None => builder.with_safe_default_protocol_versions(),
    }
    .unwrap();
    Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
}

fn tls_client(
    config: &Arc<ClientConfig>,
    name: &str,
    tcp: TcpStream,
) -> StreamOwned<ClientConnection, TcpStream> {
    let name = ServerName::try_from(name.to_owned()).unwrap();
    StreamOwned::new(ClientConnection::new(config.clone(), name).unwrap(), tcp)
}

/// The client side of a control connection.
struct Control {
    tcp: Option<TcpStream>,
    tls: Option<StreamOwned<ClientConnection, TcpStream>>,
}

impl Control {
    fn connect(addr: SocketAddr) -> Control {
        let tcp = TcpStream::connect_timeout(&addr, T).unwrap();
        tcp.set_read_timeout(Some(T)).unwrap();
        Control {
            tcp: Some(tcp),
            tls: None,
        }
    }

    fn stream(&mut self) -> &mut dyn ReadWrite {
        match (self.tls.as_mut(), self.tcp.as_mut()) {
            (Some(tls), _) => tls,
            (None, Some(tcp)) => tcp,
            (None, None) => unreachable!("no connection"),
        }
    }

    fn send(&mut self, line: &str) {
        let s = self.stream();
        s.write_all(format!("{line}\r\n").as_bytes()).unwrap();
        s.flush().unwrap();
    }

    /// Reads one line byte by byte, so no TLS byte is taken while in the clear.
    fn read_line(&mut self) -> std::io::Result<String> {
        let mut line = Vec::new();
        let mut b = [0u8; 1];
        loop {
            let n = self.stream().read(&mut b)?;
            if n == 0 {
                return Err(ErrorKind::UnexpectedEof.into());
            }
            line.push(b[0]);
            if line.ends_with(b"\r\n") {
                line.truncate(line.len() - 2);
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
        }
    }

    /// Reads a whole (possibly multi-line) reply and returns its last line.
    fn reply(&mut self) -> String {
        loop {
            let line = self.read_line().unwrap();
            if line.len() >= 4 && line.as_bytes()[3] == b' ' {
                return line;
            }
        }
    }

    fn cmd(&mut self, line: &str) -> String {
        self.send(line);
        self.reply()
    }

    fn start_tls(&mut self, config: &Arc<ClientConfig>, name: &str) -> std::io::Result<()> {
        let tcp = self.tcp.take().unwrap();
        let mut tls = tls_client(config, name, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        self.tls = Some(tls);
        Ok(())
    }

    fn login(&mut self, config: &Arc<ClientConfig>, prot: &str) {
        assert!(self.reply().starts_with("220"));
        assert!(self.cmd("AUTH TLS").starts_with("234"));
        self.start_tls(config, "localhost").unwrap();
        assert!(self.cmd("USER alice").starts_with("331"));
        assert!(self.cmd("PASS secret").starts_with("230"));
        assert!(self.cmd("PBSZ 0").starts_with("200"));
        assert!(self.cmd(&format!("PROT {prot}")).starts_with("200"));
    }

    /// Sends close_notify (when protected) and closes.
    fn close(mut self) {
        if let Some(tls) = self.tls.as_mut() {
            tls.conn.send_close_notify();
            let _ = tls.conn.complete_io(&mut tls.sock);
        }
    }

    /// Sends EPSV and connects to the announced port.
    fn epsv(&mut self, server: SocketAddr) -> TcpStream {
        let reply = self.cmd("EPSV");
        assert!(reply.starts_with("229 "), "{reply}");
        let port: u16 = reply
            .split("|||")
            .nth(1)
            .and_then(|r| r.split('|').next())
            .unwrap()
            .parse()
            .unwrap();
        let tcp = TcpStream::connect_timeout(&SocketAddr::new(server.ip(), port), T).unwrap();
        tcp.set_read_timeout(Some(T)).unwrap();
        tcp
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Reads a protected download to its end, answers the close_notify and closes.
fn tls_download(config: &Arc<ClientConfig>, tcp: TcpStream) -> (Vec<u8>, bool) {
    let mut data = tls_client(config, "localhost", tcp);
    let mut content = Vec::new();
    data.read_to_end(&mut content).unwrap();
    let resumed = data.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
    data.conn.send_close_notify();
    data.conn.complete_io(&mut data.sock).unwrap();
    (content, resumed)
}

/// Writes a protected upload, sends close_notify, half-closes and drains.
fn tls_upload(config: &Arc<ClientConfig>, tcp: TcpStream, content: &[u8]) {
    let mut data = tls_client(config, "localhost", tcp);
    data.write_all(content).unwrap();
    data.conn.send_close_notify();
    while data.conn.wants_write() {
        data.conn.write_tls(&mut data.sock).unwrap();
    }
    data.sock.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    let _ = data.sock.read_to_end(&mut rest);
}

#[test]
fn auth_tls_then_a_protected_command_records_cleartext_exactly() {
    for (server_version, client_version, name) in [
        (TlsVersion::Tls12, &rustls::version::TLS12, "TLSv1.2"),
        (TlsVersion::Tls13, &rustls::version::TLS13, "TLSv1.3"),
    ] {
        let options = ServerOptions {
            tls_version: server_version,
            ..ServerOptions::default()
        };
        let server = TestServer::start(options, |conn| {
            conn.send("220 ready")?;
            conn.expect("AUTH TLS")?;
            conn.send("234 Proceed with negotiation.")?;
            conn.start_tls()?;
            if !conn.protected() {
                return Err("not protected after start_tls".into());
            }
            conn.expect("NOOP")?;
            conn.send("200 ok")
        });
        let config = client_config(Some(client_version));
        let mut c = Control::connect(server.addr());
        assert_eq!(c.reply(), "220 ready");
        assert_eq!(c.cmd("AUTH TLS"), "234 Proceed with negotiation.");
        c.start_tls(&config, "localhost").unwrap();
        assert_eq!(c.cmd("NOOP"), "200 ok");
        let record = server.finish().unwrap();
        assert_eq!(record.cleartext, b"AUTH TLS\r\n");
        assert_eq!(record.first_after_234, Some(0x16));
        assert_eq!(
            record.commands,
            vec![(false, "AUTH TLS".to_owned()), (true, "NOOP".to_owned())]
        );
        assert_eq!(record.control_version.as_deref(), Some(name));
        assert!(record.control_cipher.is_some());
        assert!(record.control_tls_error.is_none());
    }
}

#[test]
fn serve_retr_over_tls13_resumes_every_data_connection() {
    let options = ServerOptions {
        tls_version: TlsVersion::Tls13,
        require_resumption: true,
        ..ServerOptions::default()
    };
    let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let served = content.clone();
    let server = TestServer::start(options, move |conn| {
        conn.send("220 ready")?;
        let mut fs = MemFs::new();
        fs.insert("f", served);
        conn.serve(&mut fs, &ServeOptions::default())
    });
    let config = client_config(None);
    let mut c = Control::connect(server.addr());
    c.login(&config, "P");

    // Three downloads and one upload, each resuming with a fresh single-use ticket.
    for _ in 0..3 {
        let tcp = c.epsv(server.addr());
        assert!(c.cmd("RETR f").starts_with("150"));
        let (got, resumed) = tls_download(&config, tcp);
        assert!(resumed);
        assert_eq!(got, content);
        assert_eq!(c.reply(), "226 Transfer complete.");
    }
    let tcp = c.epsv(server.addr());
    assert!(c.cmd("STOR up").starts_with("150"));
    tls_upload(&config, tcp, b"uploaded bytes");
    assert_eq!(c.reply(), "226 Transfer complete.");
    let tcp = c.epsv(server.addr());
    assert!(c.cmd("RETR up").starts_with("150"));
    assert_eq!(tls_download(&config, tcp).0, b"uploaded bytes");
    assert_eq!(c.reply(), "226 Transfer complete.");

    // A data handshake without this session is refused with 522.
    let fresh = client_config(None);
    let tcp = c.epsv(server.addr());
    assert!(c.cmd("RETR f").starts_with("150"));
    let mut data = tls_client(&fresh, "localhost", tcp);
    let mut sink = Vec::new();
    let _ = data.read_to_end(&mut sink);
    assert_eq!(
        c.reply(),
        "522 SSL connection failed; session reuse required"
    );
    assert!(c.cmd("QUIT").starts_with("221"));
    c.close();

    let record = server.finish().unwrap();
    assert_eq!(
        record.control_close,
        Some(CloseSeen {
            close_notify: true,
            end: DataEnd::Fin
        })
    );
    assert_eq!(record.control_version.as_deref(), Some("TLSv1.3"));
    assert_eq!(record.data.len(), 6);
    for d in &record.data[..5] {
        assert_eq!(d.first_byte, Some(0x16));
        assert!(d.tls);
        assert_eq!(d.resumed, Some(true));
        assert!(d.client_close_notify);
    }
    assert_eq!(record.data[3].bytes_received, 14);
    assert_eq!(record.data[3].ended, Some(DataEnd::Fin));
    assert_eq!(record.data[0].bytes_sent, 100_000);
    assert_eq!(record.data[5].resumed, Some(false));
    assert!(record.cleartext == b"AUTH TLS\r\n");
}

#[test]
fn serve_tls12_resumes_by_session_id_and_clear_data_is_recorded() {
    let options = ServerOptions {
        tls_version: TlsVersion::Tls12,
        require_resumption: true,
        ..ServerOptions::default()
    };
    let server = TestServer::start(options, |conn| {
        conn.send("220 ready")?;
        let mut fs = MemFs::with_files([("a", &b"alpha"[..]), ("b", &b"beta"[..])]);
        conn.serve(&mut fs, &ServeOptions::default())
    });
    let config = client_config(None);
    let mut c = Control::connect(server.addr());
    c.login(&config, "P");
    let tcp = c.epsv(server.addr());
    assert!(c.cmd("NLST").starts_with("150"));
    let (listing, resumed) = tls_download(&config, tcp);
    assert!(resumed);
    assert_eq!(listing, b"a\r\nb\r\n");
    assert!(c.reply().starts_with("226"));

    assert!(c.cmd("PROT C").starts_with("200"));
    let mut tcp = c.epsv(server.addr());
    assert!(c.cmd("MLSD").starts_with("150"));
    let mut listing = Vec::new();
    tcp.read_to_end(&mut listing).unwrap();
    assert_eq!(listing, b"type=file;size=5; a\r\ntype=file;size=4; b\r\n");
    assert!(c.reply().starts_with("226"));
    assert_eq!(c.cmd("SIZE b"), "213 4");
    assert!(c.cmd("XYZZY").starts_with("502"));
    assert!(c.cmd("QUIT").starts_with("221"));

    let record = server.finish().unwrap();
    assert_eq!(record.control_version.as_deref(), Some("TLSv1.2"));
    assert_eq!(record.data[0].resumed, Some(true));
    assert!(!record.data[1].tls);
    assert_eq!(record.data[1].first_byte, None);
}

#[test]
fn finish_reports_a_failed_script_with_both_lines() {
    let server = TestServer::start(ServerOptions::default(), |conn| {
        conn.send("220 ready")?;
        conn.expect("USER alice")
    });
    let mut c = Control::connect(server.addr());
    c.reply();
    c.send("USER bob");
    let err = server.finish().unwrap_err();
    assert!(err.contains("\"USER alice\""), "{err}");
    assert!(err.contains("\"USER bob\""), "{err}");
}

#[test]
fn finish_reports_a_panicking_script() {
    let server = TestServer::start(ServerOptions::default(), |conn| {
        conn.send("220 ready")?;
        panic!("script bug 42");
    });
    let mut c = Control::connect(server.addr());
    c.reply();
    let err = server.finish().unwrap_err();
    assert!(err.contains("script bug 42"), "{err}");
}

#[test]
fn waiting_for_a_silent_client_fails_within_the_bound() {
    let options = ServerOptions {
        accept_timeout: Duration::from_millis(300),
        ..ServerOptions::default()
    };
    let server = TestServer::start(options.clone(), |conn| {
        conn.send("220 ready")?;
        conn.expect("AUTH TLS")
    });
    let _c = Control::connect(server.addr());
    let started = Instant::now();
    let err = server.finish().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "{err}");
    assert!(err.contains("no command from the client"), "{err}");

    // No client at all.
    let server = TestServer::start(options, |_| Ok(()));
    let started = Instant::now();
    let err = server.finish().unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2), "{err}");
    assert!(err.contains("no control connection"), "{err}");
}

#[test]
fn dropping_the_server_stops_a_waiting_script() {
    let options = ServerOptions {
        accept_timeout: Duration::from_secs(30),
        ..ServerOptions::default()
    };
    let server = TestServer::start(options, |conn| conn.expect("NEVER"));
    let _c = Control::connect(server.addr());
    std::thread::sleep(Duration::from_millis(50));
    let started = Instant::now();
    drop(server);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn certificates_are_verified_as_the_choice_says() {
    let cases = [
        (CertChoice::Valid, "localhost", true),
        (CertChoice::Valid, "127.0.0.1", true),
        (CertChoice::AltValid, "localhost", true),
        (CertChoice::WrongName, "localhost", false),
        (CertChoice::SelfSigned, "localhost", false),
        (CertChoice::Expired, "localhost", false),
        (CertChoice::DnsOnly, "localhost", true),
        (CertChoice::DnsOnly, "127.0.0.1", false),
    ];
    let config = client_config(None);
    for (cert, name, ok) in cases {
        let options = ServerOptions {
            cert,
            ..ServerOptions::default()
        };
        let server = TestServer::start(options, |conn| {
            conn.send("220 ready")?;
            conn.expect("AUTH TLS")?;
            conn.send("234 go")?;
            conn.start_tls()
        });
        let mut c = Control::connect(server.addr());
        c.reply();
        c.cmd("AUTH TLS");
        let client = c.start_tls(&config, name);
        let result = server.finish_with_record();
        assert_eq!(client.is_ok(), ok, "{cert:?} as {name}: {client:?}");
        assert_eq!(result.0.is_ok(), ok, "{cert:?} as {name}: {:?}", result.0);
        let record = result.1.unwrap();
        assert_eq!(record.control_tls_error.is_none(), ok);
    }
    assert_ne!(
        shared_pki().cert_der(CertChoice::Valid),
        shared_pki().cert_der(CertChoice::AltValid)
    );
    assert!(shared_pki()
        .ca_pem()
        .starts_with("-----BEGIN CERTIFICATE-----\n"));
}

#[test]
fn an_alert_in_place_of_the_handshake_reaches_the_client() {
    let server = TestServer::start(ServerOptions::default(), |conn| {
        conn.send("220 ready")?;
        conn.expect("AUTH TLS")?;
        conn.send("234 go")?;
        conn.send_alert(40)?;
        conn.fin();
        Ok(())
    });
    let mut c = Control::connect(server.addr());
    c.reply();
    c.cmd("AUTH TLS");
    let err = c.start_tls(&client_config(None), "localhost").unwrap_err();
    assert!(err.to_string().contains("HandshakeFailure"), "{err}");
    let record = server.finish().unwrap();
    assert_eq!(record.first_after_234, Some(0x16));
    assert_eq!(record.cleartext, b"AUTH TLS\r\n");
}

#[test]
fn cleartext_after_234_is_recorded_and_fails_start_tls() {
    let server = TestServer::start(ServerOptions::default(), |conn| {
        conn.send("220 ready")?;
        conn.expect("AUTH TLS")?;
        conn.send("234 go")?;
        conn.start_tls()
    });
    let mut c = Control::connect(server.addr());
    c.reply();
    c.cmd("AUTH TLS");
    c.send("USER alice");
    let (result, record) = server.finish_with_record();
    assert!(result.unwrap_err().contains("USER alice"));
    let record = record.unwrap();
    assert_eq!(record.first_after_234, Some(b'U'));
    assert!(record.cleartext_has_verb("USER"));
}

#[test]
fn split_replies_and_data_resets_reach_the_client() {
    let server = TestServer::start(ServerOptions::default(), |conn| {
        conn.send_split(b"220-first\r\n220 second\r\n", 3, Duration::from_millis(2))?;
        let listener = conn.epsv()?;
        let mut data = listener.accept(conn)?;
        conn.expect("RETR f")?;
        conn.send("150 go")?;
        data.write_all(b"partial")?;
        std::thread::sleep(Duration::from_millis(50));
        data.rst();
        conn.send("426 aborted")
    });
    let mut c = Control::connect(server.addr());
    assert_eq!(c.reply(), "220 second");
    let mut tcp = c.epsv(server.addr());
    assert_eq!(c.cmd("RETR f"), "150 go");
    let mut got = Vec::new();
    let err = tcp.read_to_end(&mut got).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    assert_eq!(got, b"partial");
    assert_eq!(c.reply(), "426 aborted");
    let record = server.finish().unwrap();
    assert_eq!(record.data.len(), 1);
    assert_eq!(record.data[0].bytes_sent, 7);
}

#[test]
fn protection_fixed_at_accept_and_active_mode() {
    let server = TestServer::start(ServerOptions::default(), |conn| {
        conn.send("220 ready")?;
        let mut fs = MemFs::with_files([("f", &b"content"[..])]);
        let opts = ServeOptions {
            prot_at_accept: true,
            ..ServeOptions::default()
        };
        conn.serve(&mut fs, &opts)
    });
    let config = client_config(None);
    let mut c = Control::connect(server.addr());
    c.login(&config, "P");
    // Connected while PROT P was in force: still TLS after PROT C.
    let tcp = c.epsv(server.addr());
    assert!(c.cmd("PROT C").starts_with("200"));
    assert!(c.cmd("NLST").starts_with("150"));
    assert_eq!(tls_download(&config, tcp).0, b"f\r\n");
    assert!(c.reply().starts_with("226"));

    // Active mode under PROT C: the server connects, and sends in the clear.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let port_arg = format!("PORT 127,0,0,1,{},{}", port >> 8, port & 0xff);
    assert!(c.cmd(&port_arg).starts_with("200"));
    assert!(c.cmd("RETR f").starts_with("150"));
    let (mut tcp, _) = listener.accept().unwrap();
    let mut got = Vec::new();
    tcp.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"content");
    assert!(c.reply().starts_with("226"));
    assert!(c.cmd("EPRT |9|x|1|").starts_with("522"));
    c.close();
    let record = server.finish().unwrap();
    assert_eq!(record.data.len(), 2);
    assert!(record.data[0].tls);
    assert!(!record.data[1].tls);
    assert_eq!(
        record.data[1].peer.map(|p| p.port()),
        Some(port),
        "active connection goes to the PORT address"
    );
}

#[test]
fn a_fatal_alert_on_a_protected_connection_reaches_the_client() {
    let server = TestServer::start(ServerOptions::default(), |conn| {
        conn.send("220 ready")?;
        conn.expect("AUTH TLS")?;
        conn.send("234 go")?;
        conn.start_tls()?;
        conn.expect("NOOP")?;
        conn.send_alert(20)?;
        conn.fin();
        Ok(())
    });
    let mut c = Control::connect(server.addr());
    c.reply();
    c.cmd("AUTH TLS");
    c.start_tls(&client_config(None), "localhost").unwrap();
    c.send("NOOP");
    let err = c.read_line().unwrap_err();
    assert!(err.to_string().contains("BadRecordMac"), "{err}");
    server.finish().unwrap();
}

#[test]
fn client_certificates_are_required_and_recorded() {
    let pki = shared_pki();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(pki.ca_der().to_vec()))
        .unwrap();
    let with_cert = Arc::new(
        ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(
                vec![CertificateDer::from(pki.client_cert_der().to_vec())],
                rustls::pki_types::PrivateKeyDer::try_from(pki.client_key_der().to_vec()).unwrap(),
            )
            .unwrap(),
    );
    for (config, ok) in [(with_cert, true), (client_config(None), false)] {
        let options = ServerOptions {
            client_auth: ClientAuth::Require,
            ..ServerOptions::default()
        };
        let server = TestServer::start(options, |conn| {
            conn.send("220 ready")?;
            conn.expect("AUTH TLS")?;
            conn.send("234 go")?;
            conn.start_tls()?;
            conn.expect("NOOP")?;
            conn.send("200 ok")
        });
        let mut c = Control::connect(server.addr());
        c.reply();
        c.cmd("AUTH TLS");
        // With TLS 1.3 the client learns of a refusal only when it reads.
        let worked = c.start_tls(&config, "localhost").is_ok() && {
            c.send("NOOP");
            c.read_line().is_ok()
        };
        assert_eq!(worked, ok);
        let (result, record) = server.finish_with_record();
        assert_eq!(result.is_ok(), ok, "{result:?}");
        let record = record.unwrap();
        if ok {
            assert_eq!(
                record.control_client_cert.as_deref(),
                Some(pki.client_cert_der())
            );
        } else {
            assert!(record.control_tls_error.is_some());
        }
    }
}

fn one_download(c: &mut Control, config: &Arc<ClientConfig>, server: SocketAddr) -> String {
    let tcp = c.epsv(server);
    assert!(c.cmd("RETR f").starts_with("150"));
    let mut data = tls_client(config, "localhost", tcp);
    let mut sink = Vec::new();
    let _ = data.read_to_end(&mut sink);
    data.conn.send_close_notify();
    let _ = data.conn.complete_io(&mut data.sock);
    c.reply()
}

#[test]
fn several_control_connections_each_resume_only_their_own_session() {
    let options = ServerOptions {
        tls_version: TlsVersion::Tls13,
        require_resumption: true,
        ..ServerOptions::default()
    };
    let script = |conn: &mut ftps_conformance::server::Conn| {
        conn.send("220 ready")?;
        let mut fs = MemFs::with_files([("f", &b"x"[..])]);
        conn.serve(&mut fs, &ServeOptions::default())
    };

    // Each client with its own session store: every data connection resumes.
    let server = TestServer::start_many(options.clone(), 2, script);
    let (ca, cb) = (client_config(None), client_config(None));
    let mut a = Control::connect(server.addr());
    a.login(&ca, "P");
    let mut b = Control::connect(server.addr());
    b.login(&cb, "P");
    for _ in 0..2 {
        assert_eq!(
            one_download(&mut a, &ca, server.addr()),
            "226 Transfer complete."
        );
        assert_eq!(
            one_download(&mut b, &cb, server.addr()),
            "226 Transfer complete."
        );
    }
    a.close();
    b.close();
    let records = server.finish_all().unwrap();
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r.data.len(), 2);
        assert!(r.data.iter().all(|d| d.resumed == Some(true)));
    }

    // One shared store holding both sessions' tickets: some data connection offers the other
    // control connection's ticket, and the server refuses it.
    let server = TestServer::start_many(options, 2, script);
    let shared = client_config(None);
    let mut a = Control::connect(server.addr());
    a.login(&shared, "P");
    let mut b = Control::connect(server.addr());
    b.login(&shared, "P");
    let replies = [
        one_download(&mut a, &shared, server.addr()),
        one_download(&mut b, &shared, server.addr()),
    ];
    assert!(replies.iter().any(|r| r.starts_with("522")), "{replies:?}");
    a.close();
    b.close();
    let records = server.finish_all().unwrap();
    assert!(records
        .iter()
        .flat_map(|r| &r.data)
        .any(|d| d.resumed == Some(false)));
}

#[test]
fn ccc_goes_back_to_cleartext_without_losing_bytes() {
    // a) the server's close_notify first; b) the server waits for the client's first;
    // c) the 200 and the close_notify in one write; d) as c, and the client's close_notify and
    // its next cleartext command arrive in one TCP segment.
    for variant in ['a', 'b', 'c', 'd'] {
        let server = TestServer::start(ServerOptions::default(), move |conn| {
            conn.secure_login()?;
            conn.expect("CCC")?;
            match variant {
                'a' => {
                    conn.send("200 Clearing control channel protection")?;
                    conn.close_notify()?;
                    conn.wait_close_notify(T)?;
                }
                'b' => {
                    conn.send("200 Clearing control channel protection")?;
                    conn.wait_close_notify(T)?;
                    conn.close_notify()?;
                }
                _ => {
                    conn.send_then_close_notify("200 Clearing control channel protection")?;
                    conn.wait_close_notify(T)?;
                }
            }
            conn.end_tls()?;
            if conn.protected() {
                return Err("still protected".into());
            }
            conn.expect("PWD")?;
            conn.send("257 \"/\"")
        });
        let config = client_config(None);
        let mut c = Control::connect(server.addr());
        c.login(&config, "P");
        assert!(c.cmd("CCC").starts_with("200"));
        let mut tls = c.tls.take().unwrap();
        tls.conn.send_close_notify();
        if variant == 'd' {
            let mut segment = Vec::new();
            tls.conn.write_tls(&mut segment).unwrap();
            segment.extend_from_slice(b"PWD\r\n");
            tls.sock.write_all(&segment).unwrap();
        } else {
            tls.conn.complete_io(&mut tls.sock).unwrap();
        }
        let mut rest = Vec::new();
        tls.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        c.tcp = Some(tls.sock);
        if variant != 'd' {
            c.send("PWD");
        }
        assert_eq!(c.reply(), "257 \"/\"");
        let record = server.finish().unwrap();
        assert_eq!(
            record.cleartext, b"AUTH TLS\r\nPWD\r\n",
            "variant {variant}"
        );
        assert_eq!(record.commands.last(), Some(&(false, "PWD".to_owned())));
    }
}

#[test]
fn implicit_tls_and_a_partial_upload() {
    let server = TestServer::start(ServerOptions::default(), |conn| {
        conn.start_tls()?;
        conn.send("220 ready")?;
        let listener = conn.epsv()?;
        let mut data = listener.accept(conn)?;
        conn.expect("STOR f")?;
        conn.send("150 go")?;
        data.accept_tls()?;
        let (got, end) = data.read_at_least(1000)?;
        if got.len() < 1000 || end.is_some() {
            return Err(format!("short read: {} {end:?}", got.len()));
        }
        data.rst();
        conn.send("552 Exceeded storage allocation")
    });
    let config = client_config(None);
    let mut c = Control::connect(server.addr());
    c.start_tls(&config, "localhost").unwrap();
    assert_eq!(c.reply(), "220 ready");
    let tcp = c.epsv(server.addr());
    assert_eq!(c.cmd("STOR f"), "150 go");
    let mut data = tls_client(&config, "localhost", tcp);
    let mut failed = false;
    for _ in 0..200 {
        if data.write_all(&[7u8; 8192]).is_err() {
            failed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(failed, "writes kept succeeding after the server's RST");
    assert_eq!(c.reply(), "552 Exceeded storage allocation");
    let record = server.finish().unwrap();
    assert!(record.cleartext.is_empty());
    assert_eq!(record.first_after_234, None);
    assert!(record.data[0].bytes_received >= 1000);
    assert!(!record.data[0].client_close_notify);
}
