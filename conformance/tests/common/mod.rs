//! What the test targets share that is no library API: the backends made from the CA a start
//! script printed, the `main` of a data-modes target, temporary directories and test content.

#![allow(dead_code)] // each target uses a part

use ftps_conformance::real::modes::ModesSuite;
use libtest_mimic::{Arguments, Trial};

/// The TLS versions a server is pinned to: the trial name's part and the name backends report.
pub(crate) const TLS_VERSIONS: [(&str, &str); 2] = [("tls13", "TLSv1.3"), ("tls12", "TLSv1.2")];

/// rustls trusting the test CA.
pub(crate) fn rustls(ca: &[u8]) -> ftps_rustls::RustlsConnector {
    ftps_rustls::RustlsConnector::trusting(ca).expect("valid CA")
}

/// OpenSSL trusting the test CA.
#[cfg(feature = "openssl")]
pub(crate) fn openssl(ca: &[u8]) -> ftps_openssl::OpenSslConnector {
    ftps_openssl::OpenSslConnector::trusting(ca).expect("valid CA")
}

/// native-tls trusting the test CA.
#[cfg(feature = "native-tls")]
pub(crate) fn native(ca: &[u8]) -> ftps_native::NativeTlsConnector {
    ftps_native::NativeTlsConnector::trusting(ca).expect("valid CA")
}

/// Runs `suite`'s trials for every backend compiled in and each TLS version.
pub(crate) fn modes_main(suite: ModesSuite) -> std::process::ExitCode {
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = Vec::new();
    for (tls, version) in TLS_VERSIONS {
        trials.extend(suite.trials("rustls", tls, version, rustls));
        #[cfg(feature = "openssl")]
        trials.extend(suite.trials("openssl", tls, version, openssl));
        #[cfg(feature = "native-tls")]
        trials.extend(suite.trials("native_tls", tls, version, native));
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// A directory under the system's temporary directory (`ftps-TAG-NAME-PID`), removed on drop.
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str, name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ftps-{tag}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes that differ at every position for a while (not a repeated block).
pub(crate) fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}
