//! Every conformance scenario against the native-tls backend, one test per scenario ID.

ftps_conformance::conformance_main!(|pki| {
    ftps_native::NativeTlsConnector::trusting(pki.ca_der()).expect("the test CA is valid")
});
