//! The convenience constructors use [`ftps_rustls::crypto_provider`]: a TLS 1.3 key share for
//! P-256 first, so servers that accept P-256 alone, such as vsftpd, need no HelloRetryRequest at
//! login (the data connections then offer the group the server chose).

use ftps_conformance::client_hello::{control_key_shares, SECP256R1};
use ftps_rustls::RustlsConnector;

#[test]
fn the_client_hello_offers_a_p256_key_share_first() {
    let ca = ftps_conformance::server::shared_pki().ca_der();
    let connector = RustlsConnector::trusting(ca).unwrap();
    assert_eq!(
        control_key_shares(&connector).unwrap(),
        Some(vec![SECP256R1])
    );
}
