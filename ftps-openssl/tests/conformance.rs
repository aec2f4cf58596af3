//! Every conformance scenario against the OpenSSL backend, one test per scenario ID.

ftps_conformance::conformance_main!(|pki| {
    ftps_openssl::OpenSslConnector::trusting(pki.ca_der()).expect("the test CA is valid")
});
