//! The whole conformance suite against the example backend: this one line is all it takes.

ftps_conformance::conformance_main!(|pki| ftps_example_backend::Delegating::new(
    ftps_rustls::RustlsConnector::trusting(pki.ca_der()).expect("the test CA is valid")
));
