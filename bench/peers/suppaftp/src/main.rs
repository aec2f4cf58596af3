//! `suppaftp-peer`: the suppaftp client (synchronous, rustls with the ring provider) measured
//! the way `ftps-bench` measures ftps, for `bench/compare.sh`. Same command line, same JSON line
//! (the keys op, backend, tls, cipher, bytes, files, wall_s, mib_s, files_s, user_s, sys_s,
//! peak_rss_kib, data_connections, resumed).
//!
//! ```text
//! suppaftp-peer get  --server ftp://U:P@127.0.0.1:2121 --ca ca.pem [--tls 1.3] --path big.bin [--file out]
//! suppaftp-peer put  --server ... --ca ca.pem --file local.bin --path remote.bin
//! suppaftp-peer many --server ... --ca ca.pem --dir small/ --path remote-dir
//! ```
//!
//! Explicit FTPS only: AUTH TLS, PBSZ 0, PROT P (suppaftp's `into_secure`), then USER/PASS,
//! TYPE I and passive (PASV) data connections. Every transfer streams through one fixed buffer.
//! Errors go to stderr and the exit status is 1.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, ClientConnection, HandshakeKind, RootCertStore, StreamOwned};
use serde_json::{json, Value};
use suppaftp::types::FileType;
use suppaftp::{
    DataStream, FtpError, Mode, RustlsConnector, RustlsFtpStream, TlsStream, TransferStream,
};

/// The size of the one buffer every transfer streams through.
const BUFFER: usize = 64 * 1024;

/// Clock ticks per second of the times in `/proc/self/stat` (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// Times one FTPS run of suppaftp and prints ftps-bench's JSON line.
#[derive(Debug, Parser)]
#[command(name = "suppaftp-peer", version)]
struct Cli {
    /// The operation to measure.
    #[command(subcommand)]
    op: Op,
}

/// The operations (as in ftps-bench).
#[derive(Debug, Subcommand)]
enum Op {
    /// Download one remote file (into --file, or into a sink that only counts the bytes).
    Get {
        /// The remote file.
        #[arg(long, value_name = "REMOTE")]
        path: String,
        /// Write the download to this local file instead of discarding it.
        #[arg(long, value_name = "LOCAL")]
        file: Option<PathBuf>,
        /// Server and connection options.
        #[command(flatten)]
        common: Common,
    },
    /// Upload one local file.
    Put {
        /// The local file to upload.
        #[arg(long, value_name = "LOCAL")]
        file: PathBuf,
        /// The remote file to write.
        #[arg(long, value_name = "REMOTE")]
        path: String,
        /// Server and connection options.
        #[command(flatten)]
        common: Common,
    },
    /// Upload every regular file of a local directory, then download each back, over one
    /// control connection and one login (files counts both directions).
    Many {
        /// The local directory whose regular files are uploaded.
        #[arg(long, value_name = "LOCAL_DIR")]
        dir: PathBuf,
        /// The remote directory to upload into (made if missing).
        #[arg(long, value_name = "REMOTE_DIR")]
        path: String,
        /// Server and connection options.
        #[command(flatten)]
        common: Common,
    },
}

/// The options every operation takes.
#[derive(Debug, Args)]
struct Common {
    /// The server: ftp://USER:PASS@HOST:PORT (explicit FTPS).
    #[arg(long, value_name = "URL")]
    server: String,
    /// The CA certificate to trust (PEM or DER).
    #[arg(long, value_name = "FILE")]
    ca: PathBuf,
    /// Pin the TLS version (1.2 or 1.3); by default either is offered.
    #[arg(long, value_name = "1.2|1.3", value_parser = ["1.2", "1.3"])]
    tls: Option<String>,
}

/// A parsed `ftp://USER:PASS@HOST:PORT` URL.
#[derive(Debug, PartialEq)]
struct Server {
    user: String,
    pass: String,
    host: String,
    port: u16,
}

/// What the transfers of one run added up to.
#[derive(Debug, Default)]
struct Tally {
    bytes: u64,
    files: u64,
    data_connections: u64,
    /// Data connections whose handshake was a resumption; None if one was not known.
    resumed: Option<u64>,
    wall: Duration,
    tls: Option<String>,
    cipher: Option<String>,
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("suppaftp-peer: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the operation and renders its JSON line.
fn run(cli: Cli) -> Result<String, String> {
    let (name, common) = match &cli.op {
        Op::Get { common, .. } => ("get", common),
        Op::Put { common, .. } => ("put", common),
        Op::Many { common, .. } => ("many", common),
    };
    let server = parse_url(&common.server)?;
    let config = client_config(&common.ca, common.tls.as_deref())?;
    let mut ftp = connect(&server, config)?;
    let mut tally = Tally {
        resumed: Some(0),
        ..Tally::default()
    };
    let start = Instant::now();
    match &cli.op {
        Op::Get { path, file, .. } => get(&mut ftp, path, file.as_deref(), &mut tally)?,
        Op::Put { file, path, .. } => {
            let size = file_size(file)?;
            put(&mut ftp, file, path, size, &mut tally)?
        }
        Op::Many { dir, path, .. } => many(&mut ftp, dir, path, &mut tally)?,
    }
    tally.wall = start.elapsed();
    ftp.quit().map_err(|e| format!("QUIT: {e}"))?;
    let (user_s, sys_s, peak_rss_kib) = usage()?;
    let wall_s = tally.wall.as_secs_f64();
    let per_second = |amount: f64| if wall_s > 0.0 { amount / wall_s } else { 0.0 };
    Ok(render(&[
        ("op", json!(name)),
        ("backend", json!("suppaftp-rustls")),
        ("tls", json!(tally.tls)),
        ("cipher", json!(tally.cipher)),
        ("bytes", json!(tally.bytes)),
        ("files", json!(tally.files)),
        ("wall_s", json!(wall_s)),
        ("mib_s", json!(per_second(tally.bytes as f64 / 1048576.0))),
        ("files_s", json!(per_second(tally.files as f64))),
        ("user_s", json!(user_s)),
        ("sys_s", json!(sys_s)),
        ("peak_rss_kib", json!(peak_rss_kib)),
        ("data_connections", json!(tally.data_connections)),
        ("resumed", json!(tally.resumed)),
    ]))
}

/// Parses `ftp://USER:PASS@HOST:PORT` (user and password may be percent-encoded).
fn parse_url(url: &str) -> Result<Server, String> {
    let bad = |why: &str| format!("bad server URL {url:?}: {why}");
    let rest = url
        .strip_prefix("ftp://")
        .ok_or_else(|| bad("want ftp://USER:PASS@HOST:PORT (explicit FTPS only)"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (login, address) = rest.rsplit_once('@').ok_or_else(|| bad("no USER:PASS@"))?;
    let (user, pass) = login.split_once(':').ok_or_else(|| bad("no :PASS"))?;
    let (host, port) = address.rsplit_once(':').ok_or_else(|| bad("no :PORT"))?;
    let port = port.parse().map_err(|_| bad("the port is not a number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("no host"));
    }
    Ok(Server {
        user: percent_decode(user).ok_or_else(|| bad("bad %-escape in the user"))?,
        pass: percent_decode(pass).ok_or_else(|| bad("bad %-escape in the password"))?,
        host: host.to_owned(),
        port,
    })
}

/// Decodes `%XX` escapes; None on a malformed escape or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A rustls client configuration (ring provider, rustls' default in-memory session cache, so
/// data connections resume the control session) trusting only the certificates in `ca`.
fn client_config(ca: &Path, tls: Option<&str>) -> Result<Arc<ClientConfig>, String> {
    let raw = fs::read(ca).map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
    let certs: Vec<CertificateDer<'static>> = if raw.starts_with(b"-----") {
        CertificateDer::pem_slice_iter(&raw)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("bad PEM in {}: {e:?}", ca.display()))?
    } else {
        vec![CertificateDer::from(raw)]
    };
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("bad CA certificate in {}: {e}", ca.display()))?;
    }
    let versions: &[&rustls::SupportedProtocolVersion] = match tls {
        Some("1.2") => &[&rustls::version::TLS12],
        Some("1.3") => &[&rustls::version::TLS13],
        _ => rustls::DEFAULT_VERSIONS,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects, secures the control connection (AUTH TLS, PBSZ 0, PROT P), logs in and selects
/// TYPE I and passive mode.
fn connect(server: &Server, config: Arc<ClientConfig>) -> Result<RustlsFtpStream, String> {
    let address = format!("{}:{}", server.host, server.port);
    let plain = RustlsFtpStream::connect((server.host.as_str(), server.port))
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let mut ftp = plain
        .into_secure(RustlsConnector::from(config), &server.host)
        .map_err(|e| format!("AUTH TLS with {address}: {e}"))?;
    ftp.set_mode(Mode::Passive);
    ftp.login(server.user.as_str(), server.pass.as_str())
        .map_err(|e| format!("cannot log in as {}: {e}", server.user))?;
    ftp.transfer_type(FileType::Binary)
        .map_err(|e| format!("TYPE I: {e}"))?;
    Ok(ftp)
}

/// Records one finished data connection: its TLS version and cipher (the first one's) and
/// whether its handshake resumed a session.
fn note_session<T>(stream: &mut TransferStream<T>, tally: &mut Tally)
where
    T: TlsStream<InnerStream = StreamOwned<ClientConnection, TcpStream>>,
{
    tally.data_connections += 1;
    tally.files += 1;
    let DataStream::Ssl(tls) = stream.get_mut() else {
        tally.resumed = None;
        return;
    };
    let conn = &tls.mut_ref().conn;
    if tally.tls.is_none() {
        tally.tls = conn.protocol_version().map(|v| match v {
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_owned(),
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_owned(),
            other => format!("{other:?}"),
        });
        tally.cipher = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
    }
    match conn.handshake_kind() {
        Some(HandshakeKind::Resumed) => {
            if let Some(n) = tally.resumed.as_mut() {
                *n += 1;
            }
        }
        Some(_) => {}
        None => tally.resumed = None,
    }
}

/// `RETR path` into `sink` through one fixed buffer; returns the bytes.
fn download(
    ftp: &mut RustlsFtpStream,
    path: &str,
    sink: &mut dyn Write,
    buf: &mut [u8],
    tally: &mut Tally,
) -> Result<u64, String> {
    let mut stream = ftp
        .retr_as_stream(path)
        .map_err(|e| format!("RETR {path}: {e}"))?;
    let mut total = 0u64;
    loop {
        let n = match stream.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("RETR {path}: read: {e}")),
        };
        sink.write_all(&buf[..n])
            .map_err(|e| format!("RETR {path}: write: {e}"))?;
        total += n as u64;
    }
    note_session(&mut stream, tally);
    stream
        .finish()
        .map_err(|e| format!("RETR {path}: {}", first_line(&e)))?;
    tally.bytes += total;
    Ok(total)
}

/// `STOR path` from `source` through one fixed buffer; returns the bytes.
fn upload(
    ftp: &mut RustlsFtpStream,
    path: &str,
    source: &mut dyn Read,
    buf: &mut [u8],
    tally: &mut Tally,
) -> Result<u64, String> {
    let mut stream = ftp
        .put_with_stream(path)
        .map_err(|e| format!("STOR {path}: {e}"))?;
    let mut total = 0u64;
    loop {
        let n = match source.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("STOR {path}: read: {e}")),
        };
        stream
            .write_all(&buf[..n])
            .map_err(|e| format!("STOR {path}: write: {e}"))?;
        total += n as u64;
    }
    stream
        .flush()
        .map_err(|e| format!("STOR {path}: flush: {e}"))?;
    note_session(&mut stream, tally);
    stream
        .finish()
        .map_err(|e| format!("STOR {path}: {}", first_line(&e)))?;
    tally.bytes += total;
    Ok(total)
}

/// The first line of an error's text.
fn first_line(e: &FtpError) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

fn file_size(file: &Path) -> Result<u64, String> {
    Ok(fs::metadata(file)
        .map_err(|e| format!("cannot stat {}: {e}", file.display()))?
        .len())
}

/// Downloads `path` into `file` or a counting sink.
fn get(
    ftp: &mut RustlsFtpStream,
    path: &str,
    file: Option<&Path>,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut buf = vec![0u8; BUFFER];
    match file {
        Some(local) => {
            let mut sink = File::create(local)
                .map_err(|e| format!("cannot create {}: {e}", local.display()))?;
            download(ftp, path, &mut sink, &mut buf, tally)?;
        }
        None => {
            download(ftp, path, &mut io::sink(), &mut buf, tally)?;
        }
    }
    Ok(())
}

/// Uploads the local `file` (of `size` bytes) to `path`; every byte must have gone.
fn put(
    ftp: &mut RustlsFtpStream,
    file: &Path,
    path: &str,
    size: u64,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut buf = vec![0u8; BUFFER];
    let mut source =
        File::open(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let sent = upload(ftp, path, &mut source, &mut buf, tally)?;
    expect(sent, size, &file.display().to_string())
}

/// Uploads every regular file of `dir` into the remote directory `path`, then downloads each
/// back, on the one control connection.
fn many(
    ftp: &mut RustlsFtpStream,
    dir: &Path,
    path: &str,
    tally: &mut Tally,
) -> Result<(), String> {
    let files = regular_files(dir)?;
    if files.is_empty() {
        return Err(format!("no regular files in {}", dir.display()));
    }
    if ftp.cwd(path).is_err() {
        ftp.mkdir(path)
            .map_err(|e| format!("cannot make the remote directory {path}: {e}"))?;
        ftp.cwd(path)
            .map_err(|e| format!("cannot enter the remote directory {path}: {e}"))?;
    }
    let mut buf = vec![0u8; BUFFER];
    for (local, name, size) in &files {
        let mut source =
            File::open(local).map_err(|e| format!("cannot open {}: {e}", local.display()))?;
        let sent = upload(ftp, name, &mut source, &mut buf, tally)?;
        expect(sent, *size, name)?;
    }
    for (_, name, size) in &files {
        let got = download(ftp, name, &mut io::sink(), &mut buf, tally)?;
        expect(got, *size, name)?;
    }
    Ok(())
}

/// Fails unless `moved` equals the local file's `size`.
fn expect(moved: u64, size: u64, what: &str) -> Result<(), String> {
    if moved == size {
        Ok(())
    } else {
        Err(format!(
            "{what}: {moved} bytes transferred, the local file has {size}"
        ))
    }
}

/// The regular files directly in `dir`: path, name and size, sorted by name.
fn regular_files(dir: &Path) -> Result<Vec<(PathBuf, String, u64)>, String> {
    let cannot = |e: io::Error| format!("cannot list {}: {e}", dir.display());
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        let meta = entry.metadata().map_err(cannot)?;
        if meta.is_file() {
            let name = entry
                .file_name()
                .into_string()
                .map_err(|n| format!("file name is not UTF-8: {n:?}"))?;
            files.push((entry.path(), name, meta.len()));
        }
    }
    files.sort();
    Ok(files)
}

/// User and system CPU seconds and peak RSS (KiB) of this process, from `/proc/self/stat`
/// (utime and stime, fields 14 and 15, counted after the `)` closing the command name) and
/// `/proc/self/status` (`VmHWM`).
fn usage() -> Result<(f64, f64, u64), String> {
    let stat = fs::read_to_string("/proc/self/stat")
        .map_err(|e| format!("cannot read /proc/self/stat: {e}"))?;
    let status = fs::read_to_string("/proc/self/status")
        .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
    let (user, sys) =
        cpu_ticks(&stat).ok_or_else(|| format!("unexpected /proc/self/stat: {stat:?}"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmHWM line in /proc/self/status")?;
    Ok((user as f64 / USER_HZ, sys as f64 / USER_HZ, rss))
}

/// utime and stime ticks of a `/proc/<pid>/stat` line.
fn cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace().skip(11);
    Some((fields.next()?.parse().ok()?, fields.next()?.parse().ok()?))
}

/// One compact JSON object with the keys in the given order.
fn render(fields: &[(&str, Value)]) -> String {
    let members: Vec<String> = fields
        .iter()
        .map(|(key, value)| format!("{}:{value}", Value::from(*key)))
        .collect();
    format!("{{{}}}", members.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_server_url() {
        assert_eq!(
            parse_url("ftp://ftpstest:p%40ss@127.0.0.1:2121"),
            Ok(Server {
                user: "ftpstest".into(),
                pass: "p@ss".into(),
                host: "127.0.0.1".into(),
                port: 2121
            })
        );
        assert!(parse_url("ftps://u:p@h:1").is_err());
        assert!(parse_url("ftp://u:p@h").is_err());
    }

    #[test]
    fn reads_cpu_ticks_after_a_name_with_spaces() {
        let line = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 731 29 0 0 20 0 1 0 5 0 0";
        assert_eq!(cpu_ticks(line), Some((731, 29)));
    }

    #[test]
    fn renders_the_keys_in_order() {
        let line = render(&[("op", json!("get")), ("resumed", json!(null))]);
        assert_eq!(line, r#"{"op":"get","resumed":null}"#);
    }
}
