//! `ftps-conformance serve`: the embedded test server as a standalone process over a
//! directory, for measuring any client (ours or a peer) on a server that keeps up.

use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ftps_conformance::remote::TlsVersion;
use ftps_conformance::server::{
    self, ServeOptions, ServerOptions, Standalone, StandaloneOptions, TlsVersion as ServerTls,
};
use serde_json::Value;

/// The user name the server accepts unless `--user` says otherwise.
const DEFAULT_USER: &str = "ftps";

/// Runs the embedded FTPS server over a directory until the process is stopped. When it is
/// ready it prints one JSON line: {"host","port","ca","user","pass"}.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The directory served (read and written).
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// The port to listen on, on 127.0.0.1 (default: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Offer only this TLS version (default: 1.2 and 1.3).
    #[arg(long, value_name = "1.2|1.3")]
    tls: Option<TlsVersion>,
    /// Implicit FTPS: TLS from the first byte.
    #[arg(long)]
    implicit: bool,
    /// Refuse data connections that do not resume the control connection's TLS session
    /// (like vsftpd's require_ssl_reuse=YES).
    #[arg(long)]
    require_reuse: bool,
    /// Where to write the CA certificate (PEM) clients must trust (default: a file named after
    /// the port in the system's temporary directory).
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The user name to accept.
    #[arg(long, default_value = DEFAULT_USER)]
    user: String,
    /// The password to accept (default: a random one, printed in the ready line).
    #[arg(long)]
    pass: Option<String>,
    /// How long an idle control connection, or a wait for a data connection, may last, in
    /// seconds.
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
}

/// Starts the server, prints the ready line and serves until the process is stopped.
pub(crate) fn run(args: ServeArgs) -> Result<(), String> {
    let pki = server::shared_pki();
    let pass = args.pass.clone().unwrap_or_else(random_password);
    let server_options = ServerOptions {
        tls_version: match args.tls {
            None => ServerTls::Any,
            Some(TlsVersion::Tls12) => ServerTls::Tls12,
            Some(TlsVersion::Tls13) => ServerTls::Tls13,
        },
        require_resumption: args.require_reuse,
        accept_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        ..ServerOptions::default()
    };
    let serve_options = ServeOptions {
        login: Some((args.user.clone(), pass.clone())),
        require_tls: true,
        // Like vsftpd: no wait for the client's close after ours. Clients such as curl
        // close the data connection only once they have the final reply, so any wait here
        // would be added to every transfer.
        close_wait: Duration::ZERO,
        ..ServeOptions::default()
    };
    let standalone = Standalone::start(
        StandaloneOptions {
            server: server_options,
            serve: serve_options,
            port: args.port,
            implicit: args.implicit,
            root: args.root.clone(),
        },
        pki,
    )?;
    let addr = standalone.addr();
    let ca_file = args.ca_file.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("ftps-conformance-serve-{}-ca.pem", addr.port()))
    });
    std::fs::write(&ca_file, pki.ca_pem())
        .map_err(|e| format!("cannot write {}: {e}", ca_file.display()))?;
    let ready = [
        ("host", Value::from(addr.ip().to_string())),
        ("port", Value::from(addr.port())),
        ("ca", Value::from(ca_file.display().to_string())),
        ("user", Value::from(args.user)),
        ("pass", Value::from(pass)),
    ];
    let members: Vec<String> = ready.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    println!("{{{}}}", members.join(","));
    standalone.wait();
    Err("the server stopped accepting connections".into())
}

/// 128 random bits as hex, from the operating system's randomness (through the keys of std's
/// `RandomState`).
fn random_password() -> String {
    (0..2)
        .map(|_| {
            format!(
                "{:016x}",
                std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
            )
        })
        .collect()
}
