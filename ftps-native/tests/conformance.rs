//! Every conformance scenario against the native-tls backend, one test per scenario ID.

ftps_conformance::conformance_main!(
    |pki| ftps_native::NativeTlsConnector::trusting(pki.ca_der()).expect("the test CA is valid"),
    client_cert = |pki| ftps_native::NativeTlsConnector::trusting_with_client_cert(
        pki.ca_der(),
        pki.client_cert_pem().as_bytes(),
        pki.client_key_pem().as_bytes(),
    )
    .expect("the test client certificate is valid"),
);
