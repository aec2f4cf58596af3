//! Quickstart: connect, log in over TLS, download a file, list, upload, quit.
//!
//! It runs against the in-process FTPS test server of `ftps-conformance`, so it needs no
//! network; point `ClientBuilder::new` at your own server and drop the server lines to use it
//! for real.
//!
//! ```sh
//! cargo run -p ftps --example quickstart
//! ```

use ftps::{ClientBuilder, RustlsConnector};
use ftps_conformance::server::{MemFs, ServeOptions, ServerOptions, TestServer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // An embedded FTPS server on 127.0.0.1 holding one file; its test CA signs its certificate.
    let server = TestServer::start(ServerOptions::default(), |conn| {
        let mut fs = MemFs::with_files([("hello.txt", &b"Hello over FTPS!\n"[..])]);
        conn.send("220 ftps example server ready")?;
        conn.serve(&mut fs, &ServeOptions::default())
    });
    let ca_der = ftps_conformance::server::shared_pki().ca_der().to_vec();

    // The client: certificate and host name verified, USER/PASS only inside TLS.
    let connector = RustlsConnector::trusting(&ca_der)?;
    let mut client = ClientBuilder::new("localhost")
        .port(server.addr().port())
        .connect(connector)?;
    client.login("alice", "secret")?; // then PBSZ 0 and PROT P: the data is encrypted too

    let mut contents = Vec::new();
    let outcome = client.download("hello.txt", &mut contents)?;
    print!("{}", String::from_utf8_lossy(&contents));
    println!(
        "{} bytes; server said {:?}; clean TLS end: {:?}; data session resumed: {:?}",
        outcome.bytes(),
        outcome.reply().to_string(),
        outcome.clean_tls_shutdown(),
        outcome.data_session().and_then(|s| s.resumed()),
    );

    client.upload("copy.txt", &mut contents.as_slice())?;
    for name in client.nlst(None)? {
        println!("on the server: {name}");
    }
    client.quit()?;
    server.finish()?;
    Ok(())
}
