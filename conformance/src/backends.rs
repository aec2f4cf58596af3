//! The backends compiled into the runner, by Cargo feature.

use crate::report::{Filter, Report, ReportEntry};

/// The names of the backends compiled in.
pub fn compiled_in() -> Vec<&'static str> {
    [
        #[cfg(feature = "rustls")]
        "rustls",
        #[cfg(feature = "openssl")]
        "openssl",
        #[cfg(feature = "native-tls")]
        "native-tls",
    ]
    .to_vec()
}

/// Runs the scenarios selected by `filter` against every compiled-in backend (or only `only`).
#[allow(unused_variables, unused_mut)]
pub fn run_all(
    report: &mut Report,
    only: Option<&str>,
    filter: &Filter,
    mut progress: impl FnMut(&ReportEntry),
) {
    #[cfg(feature = "rustls")]
    if only.is_none_or(|b| b == "rustls") {
        let factory = crate::__private::factory_with_client_cert(
            |pki| {
                ftps_rustls::RustlsConnector::trusting(pki.ca_der())
                    .expect("the test CA is a valid certificate")
            },
            |pki| {
                ftps_rustls::RustlsConnector::trusting_with_client_cert(
                    pki.ca_der(),
                    pki.client_cert_pem().as_bytes(),
                    pki.client_key_pem().as_bytes(),
                )
                .expect("the test client certificate is valid")
            },
        );
        report.run("rustls", &factory, filter, &mut progress);
    }
    #[cfg(feature = "openssl")]
    if only.is_none_or(|b| b == "openssl") {
        let factory = crate::__private::factory_with_client_cert(
            |pki| {
                ftps_openssl::OpenSslConnector::trusting(pki.ca_der())
                    .expect("the test CA is a valid certificate")
            },
            |pki| {
                ftps_openssl::OpenSslConnector::trusting_with_client_cert(
                    pki.ca_der(),
                    pki.client_cert_pem().as_bytes(),
                    pki.client_key_pem().as_bytes(),
                )
                .expect("the test client certificate is valid")
            },
        );
        report.run("openssl", &factory, filter, &mut progress);
    }
    #[cfg(feature = "native-tls")]
    if only.is_none_or(|b| b == "native-tls") {
        let factory = crate::__private::factory_with_client_cert(
            |pki| {
                ftps_native::NativeTlsConnector::trusting(pki.ca_der())
                    .expect("the test CA is a valid certificate")
            },
            |pki| {
                ftps_native::NativeTlsConnector::trusting_with_client_cert(
                    pki.ca_der(),
                    pki.client_cert_pem().as_bytes(),
                    pki.client_key_pem().as_bytes(),
                )
                .expect("the test client certificate is valid")
            },
        );
        report.run("native-tls", &factory, filter, &mut progress);
    }
}
