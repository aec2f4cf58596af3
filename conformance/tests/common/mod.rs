//! What the real-server test targets share that is no library API: the backends made from the
//! CA a start script printed, and the `main` of a data-modes target.

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
#[allow(dead_code)] // only the data-modes targets use it
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
