//! The standalone server (`ftps_conformance::server::Standalone`, `ftps-conformance serve`)
//! over a real directory, driven by the ftps client over loopback: transfers checked by
//! SHA-256 against the files on disk, directories, restarts, login checks, several clients at
//! once, and the `serve` binary's ready line.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{pattern, TempDir};
use ftps_conformance::server::{
    shared_pki, ServeOptions, ServerOptions, Standalone, StandaloneOptions,
};
use ftps_core::{Client, ClientBuilder, Error};
use ftps_rustls::RustlsConnector;
use sha2::{Digest, Sha256};

const USER: &str = "bench";
const PASS: &str = "s3cret";

fn start(root: &Path, require_reuse: bool) -> Standalone {
    let options = StandaloneOptions {
        server: ServerOptions {
            require_resumption: require_reuse,
            ..ServerOptions::default()
        },
        serve: ServeOptions {
            login: Some((USER.to_owned(), PASS.to_owned())),
            require_tls: true,
            close_wait: Duration::ZERO,
            ..ServeOptions::default()
        },
        port: 0,
        implicit: false,
        root: root.to_owned(),
    };
    Standalone::start(options, shared_pki()).expect("the server starts")
}

fn connect(port: u16) -> Client<RustlsConnector> {
    let connector = RustlsConnector::trusting(shared_pki().ca_der()).expect("CA");
    ClientBuilder::new("127.0.0.1")
        .port(port)
        .read_timeout(Duration::from_secs(10))
        .connect(connector)
        .expect("connect")
}

fn login(port: u16) -> Client<RustlsConnector> {
    let mut client = connect(port);
    client.login(USER, PASS).expect("login");
    client
}

fn sha(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

#[test]
fn files_go_to_disk_and_come_back_byte_for_byte() {
    let dir = TempDir::new("standalone", "roundtrip");
    let on_disk = pattern(5 * 1024 * 1024 + 17, 1);
    std::fs::write(dir.0.join("big.bin"), &on_disk).unwrap();
    let server = start(&dir.0, true);
    let mut client = login(server.addr().port());

    let mut got = Vec::new();
    let outcome = client.download("big.bin", &mut got).expect("download");
    assert_eq!(outcome.bytes(), on_disk.len() as u64);
    assert_eq!(sha(&got), sha(&on_disk));
    assert_eq!(outcome.data_session().and_then(|s| s.resumed()), Some(true));

    client.mkdir("sub").expect("MKD");
    client.cwd("sub").expect("CWD");
    assert_eq!(client.pwd().expect("PWD").as_bytes(), b"/sub");
    let upload = pattern(3 * 1024 * 1024 + 5, 2);
    client
        .upload("up.bin", &mut upload.as_slice())
        .expect("upload");
    assert_eq!(
        sha(&std::fs::read(dir.0.join("sub/up.bin")).unwrap()),
        sha(&upload)
    );
    assert_eq!(client.size("up.bin").expect("SIZE"), upload.len() as u64);

    // REST + RETR from the middle, APPE, and a listing of the directory.
    client.restart_at(1_000_000);
    let mut tail = Vec::new();
    client
        .download("up.bin", &mut tail)
        .expect("restarted download");
    assert_eq!(tail, upload[1_000_000..]);
    let mut appended = client.appe("up.bin").expect("APPE");
    appended.write_all(b"+tail").expect("APPE data");
    appended.finish().expect("APPE finished");
    let mut want = upload.clone();
    want.extend_from_slice(b"+tail");
    assert_eq!(std::fs::read(dir.0.join("sub/up.bin")).unwrap(), want);
    let names = client.nlst(None).expect("NLST");
    assert_eq!(
        names.iter().map(|n| n.as_bytes()).collect::<Vec<_>>(),
        vec![&b"up.bin"[..]]
    );

    client.rename("up.bin", "/moved.bin").expect("RNFR/RNTO");
    client.cdup().expect("CDUP");
    client.rmdir("sub").expect("RMD");
    client.delete("moved.bin").expect("DELE");
    let left: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, vec!["big.bin".to_owned()]);
    client.quit().expect("QUIT");
}

#[test]
fn paths_cannot_climb_out_of_the_root() {
    let outer = TempDir::new("standalone", "escape");
    std::fs::write(outer.0.join("secret"), b"outside").unwrap();
    let root = outer.0.join("root");
    std::fs::create_dir(&root).unwrap();
    let server = start(&root, false);
    let mut client = login(server.addr().port());
    let err = client.download("../secret", &mut Vec::new()).unwrap_err();
    assert!(
        matches!(&err, Error::Reply { reply, .. } if reply.code() == 550),
        "{err:?}"
    );
    client.cwd("../../..").expect("CWD .. stays at the root");
    assert_eq!(client.pwd().expect("PWD").as_bytes(), b"/");
    client
        .upload("../escaped", &mut &b"x"[..])
        .expect("upload lands in the root");
    assert!(root.join("escaped").exists());
    assert!(!outer.0.join("escaped").exists());
}

#[test]
fn a_wrong_password_is_refused() {
    let dir = TempDir::new("standalone", "login");
    let server = start(&dir.0, false);
    let mut client = connect(server.addr().port());
    let err = client.login(USER, "wrong").unwrap_err();
    assert!(
        matches!(&err, Error::Reply { reply, .. } if reply.code() == 530),
        "{err:?}"
    );
}

#[test]
fn several_clients_at_once_each_get_their_own_files() {
    let dir = TempDir::new("standalone", "concurrent");
    let server = start(&dir.0, true);
    let port = server.addr().port();
    let workers: Vec<_> = (0..4u32)
        .map(|i| {
            std::thread::spawn(move || {
                let mut client = login(port);
                let content = pattern(700_000 + i as usize, i + 10);
                for round in 0..3 {
                    let name = format!("c{i}-{round}");
                    client
                        .upload(&name, &mut content.as_slice())
                        .expect("upload");
                    let mut back = Vec::new();
                    client.download(&name, &mut back).expect("download");
                    assert_eq!(sha(&back), sha(&content), "{name}");
                }
                client.quit().expect("QUIT");
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a client failed");
    }
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 12);
}

/// The `serve` process, killed by its PID on drop.
struct ServeProcess(Child);

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_serve_command_prints_a_ready_line_clients_can_use() {
    let dir = TempDir::new("standalone", "binary");
    std::fs::write(dir.0.join("hello.txt"), b"hello from disk\n").unwrap();
    let ca_file = dir.0.join("ca.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftps-conformance"))
        .args(["serve", "--tls", "1.3", "--root"])
        .arg(&dir.0)
        .arg("--ca-file")
        .arg(&ca_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the serve binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let process = ServeProcess(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the ready line");
    let ready: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(ready["host"], "127.0.0.1");
    assert_eq!(ready["ca"], ca_file.display().to_string());
    assert_eq!(ready["user"], "ftps");
    let pass = ready["pass"].as_str().expect("a password");
    assert_eq!(pass.len(), 32);
    let port = u16::try_from(ready["port"].as_u64().expect("a port")).unwrap();

    let ca_pem = std::fs::read_to_string(&ca_file).expect("the CA file");
    assert!(
        ca_pem.starts_with("-----BEGIN CERTIFICATE-----\n"),
        "{ca_pem}"
    );
    let ca_der = ftps_conformance::remote::read_ca(&ca_file).expect("the CA parses");
    let connector = RustlsConnector::trusting(&ca_der).expect("a usable CA");
    let mut client = ClientBuilder::new("127.0.0.1")
        .port(port)
        .connect(connector)
        .expect("connect");
    client
        .login("ftps", pass)
        .expect("login with the printed password");
    let mut got = Vec::new();
    client.download("hello.txt", &mut got).expect("download");
    assert_eq!(got, b"hello from disk\n");
    let info = client.control_session_info().expect("session info");
    assert_eq!(info.protocol_version(), Some("TLSv1.3"));
    client.quit().expect("QUIT");
    drop(process);
}
