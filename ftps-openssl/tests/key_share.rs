//! The convenience constructors offer a TLS 1.3 key share for P-256 first
//! ([`ftps_openssl::KEY_EXCHANGE_GROUPS`]): servers that accept P-256 alone, such as vsftpd,
//! then need no HelloRetryRequest, on the control connection or on any data connection.

use ftps_conformance::client_hello::{control_key_shares, SECP256R1};
use ftps_openssl::OpenSslConnector;

#[test]
fn the_client_hello_offers_a_p256_key_share_first() {
    let ca = ftps_conformance::server::shared_pki().ca_der();
    let connector = OpenSslConnector::trusting(ca).unwrap();
    assert_eq!(
        control_key_shares(&connector).unwrap(),
        Some(vec![SECP256R1])
    );
}
