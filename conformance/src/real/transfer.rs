//! The client's side of a real-server trial: connecting and logging in with bounded waits,
//! moving files up and down with every byte count checked, round trips compared by SHA-256,
//! deterministic file contents, and a `QUIT` that must be answered.
//!
//! Every function returns `Err` with a reason that names the command that failed.

use std::io::{self, Read, Write};
use std::time::Duration;

use ftps_core::{Client, ClientBuilder, SecureConnection, TransferOutcome};
use sha2::{Digest, Sha256};

use super::RealServer;
use crate::checks::ensure;

/// Makes a backend that trusts the given CA (DER), e.g.
/// `|ca| ftps_rustls::RustlsConnector::trusting(ca).expect("valid CA")`.
pub type Make<C> = fn(&[u8]) -> C;

/// Connects to `server` on `localhost` with a backend made by `make` from the server's test CA,
/// and logs in with the credentials the start script printed. `tweak` adjusts the builder
/// (implicit mode, active data connections, ...). Every wait is bounded: 10 s to connect,
/// 15 s per TLS handshake, 30 s of silence on a read or a blocked write.
pub fn connect<C: SecureConnection>(
    server: &RealServer,
    make: impl FnOnce(&[u8]) -> C,
    tweak: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Result<Client<C>, String> {
    let connector = make(&server.ca_der()?);
    let mut client = tweak(
        ClientBuilder::new("localhost")
            .port(server.port())
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .write_timeout(Duration::from_secs(30))
            .handshake_timeout(Duration::from_secs(15)),
    )
    .connect(connector)
    .map_err(|e| format!("connect: {e:?}"))?;
    let (user, password) = server.credentials();
    client
        .login(user, password)
        .map_err(|e| format!("login: {e:?}"))?;
    Ok(client)
}

/// Sends `QUIT`, which must be answered with `221`.
pub fn quit<C: SecureConnection>(client: Client<C>) -> Result<(), String> {
    let bye = client.quit().map_err(|e| format!("QUIT: {e:?}"))?;
    ensure(bye.as_ref().map(|r| r.code()) == Some(221), || {
        format!("QUIT answered {bye:?}")
    })
}

/// `len` deterministic pseudo-random bytes from `seed` (xorshift64 started from the seed
/// times an odd constant, the generator of the remote runner's file contents), so neither
/// compression nor a cache can help; small seeds all give different contents.
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Fails unless `back` (what came back of `what`) is `sent`, by SHA-256 and byte for byte.
pub fn same_content(what: &str, back: &[u8], sent: &[u8]) -> Result<(), String> {
    ensure(sha256(back) == sha256(sent) && back == sent, || {
        format!(
            "{what} came back with another SHA-256 ({} bytes back of {})",
            back.len(),
            sent.len()
        )
    })
}

/// A [`Write`] sink that keeps only the SHA-256 and the length of what is written, for
/// downloads too large to hold.
#[derive(Clone, Debug, Default)]
pub struct HashSink {
    hasher: Sha256,
    len: u64,
}

impl HashSink {
    /// An empty sink.
    pub fn new() -> HashSink {
        HashSink::default()
    }

    /// How many bytes were written.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The SHA-256 of what was written.
    pub fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }
}

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hasher.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Fails unless the outcome of `what` counts `len` bytes, the bytes written or read.
pub fn counted(outcome: &TransferOutcome, what: &str, len: u64) -> Result<(), String> {
    ensure(outcome.bytes() == len, || {
        format!(
            "{what}: {len} bytes moved, the outcome says {}",
            outcome.bytes()
        )
    })
}

/// Uploads `body` as `name` through [`Client::stor`]'s stream (`STOR`, write, finish); the
/// outcome must count every byte.
pub fn store<C: SecureConnection>(
    client: &mut Client<C>,
    name: &str,
    body: &[u8],
) -> Result<TransferOutcome, String> {
    let mut upload = client
        .stor(name)
        .map_err(|e| format!("STOR {name}: {e:?}"))?;
    upload
        .write_all(body)
        .map_err(|e| format!("write {name}: {e}"))?;
    let outcome = upload
        .finish()
        .map_err(|e| format!("finish STOR {name}: {e:?}"))?;
    counted(&outcome, &format!("STOR {name}"), body.len() as u64)?;
    Ok(outcome)
}

/// Uploads `body` as `name` through [`Client::upload`] (from a reader); the outcome must count
/// every byte.
pub fn upload<C: SecureConnection>(
    client: &mut Client<C>,
    name: &str,
    body: &[u8],
) -> Result<TransferOutcome, String> {
    let outcome = client
        .upload(name, &mut &body[..])
        .map_err(|e| format!("STOR {name}: {e:?}"))?;
    counted(&outcome, &format!("STOR {name}"), body.len() as u64)?;
    Ok(outcome)
}

/// Downloads `name` into memory through [`Client::retr`]'s stream (`RETR`, read to the end,
/// finish); the outcome must count every byte read.
pub fn download<C: SecureConnection>(
    client: &mut Client<C>,
    name: &str,
) -> Result<(Vec<u8>, TransferOutcome), String> {
    let mut transfer = client
        .retr(name)
        .map_err(|e| format!("RETR {name}: {e:?}"))?;
    let mut back = Vec::new();
    transfer
        .read_to_end(&mut back)
        .map_err(|e| format!("read {name}: {e}"))?;
    let outcome = transfer
        .finish()
        .map_err(|e| format!("finish RETR {name}: {e:?}"))?;
    counted(&outcome, &format!("RETR {name}"), back.len() as u64)?;
    Ok((back, outcome))
}

/// [`store`] `body` as `name`, [`download`] it back and compare ([`same_content`]); `verify`
/// checks each data connection's outcome, with `STOR name` or `RETR name` as what it names.
pub fn round_trip<C: SecureConnection>(
    client: &mut Client<C>,
    name: &str,
    body: &[u8],
    verify: impl Fn(&TransferOutcome, &str) -> Result<(), String>,
) -> Result<(), String> {
    let outcome = store(client, name, body)?;
    verify(&outcome, &format!("STOR {name}"))?;
    let (back, outcome) = download(client, name)?;
    verify(&outcome, &format!("RETR {name}"))?;
    same_content(name, &back, body)
}

/// A large file: `len` bytes of [`content`] from `seed` uploaded as `name` through
/// [`Client::upload`], then downloaded through [`Client::download`] into a [`HashSink`] (never
/// held in memory) and compared by length and SHA-256. `verify` checks each data connection's
/// outcome (`STOR name`, `RETR name`); the download's outcome is returned for further checks.
pub fn big_round_trip<C: SecureConnection>(
    client: &mut Client<C>,
    name: &str,
    len: usize,
    seed: u64,
    verify: impl Fn(&TransferOutcome, &str) -> Result<(), String>,
) -> Result<TransferOutcome, String> {
    let sent = {
        let big = content(len, seed);
        let outcome = upload(client, name, &big)?;
        verify(&outcome, &format!("STOR {name}"))?;
        sha256(&big)
    };
    let mut sink = HashSink::new();
    let outcome = client
        .download(name, &mut sink)
        .map_err(|e| format!("RETR {name}: {e:?}"))?;
    verify(&outcome, &format!("RETR {name}"))?;
    ensure(sink.len() == len as u64, || {
        format!("RETR {name}: downloaded {} bytes of {len}", sink.len())
    })?;
    ensure(sink.digest() == sent, || {
        format!("SHA-256 of {name} differs after the round trip")
    })?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_deterministic_and_seeded() {
        assert_eq!(content(1001, 5), content(1001, 5));
        assert_eq!(content(1001, 5).len(), 1001);
        for seed in 0..64 {
            assert_ne!(content(64, seed), content(64, seed + 1));
        }
        let mut sink = HashSink::new();
        sink.write_all(&content(70_000, 9)).unwrap();
        assert_eq!(sink.len(), 70_000);
        assert_eq!(sink.digest(), sha256(&content(70_000, 9)));
        assert!(same_content("x", b"ab", b"ab").is_ok());
        assert!(same_content("x", b"ab", b"ac").is_err());
    }
}
