//! Every conformance scenario against the rustls backend, one test per scenario ID.

ftps_conformance::conformance_main!(|pki| {
    ftps_rustls::RustlsConnector::trusting(pki.ca_der()).expect("the test CA is valid")
});
