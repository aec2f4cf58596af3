//! The whole conformance suite against the example backend: this one macro call is all it takes
//! (the second factory presents the test client certificate, for the scenarios that need one).

use ftps_example_backend::Delegating;
use ftps_rustls::RustlsConnector;

ftps_conformance::conformance_main!(
    |pki| Delegating::new(RustlsConnector::trusting(pki.ca_der()).expect("the test CA is valid")),
    client_cert = |pki| Delegating::new(
        RustlsConnector::trusting_with_client_cert(
            pki.ca_der(),
            pki.client_cert_pem().as_bytes(),
            pki.client_key_pem().as_bytes(),
        )
        .expect("the test client certificate is valid")
    ),
);
