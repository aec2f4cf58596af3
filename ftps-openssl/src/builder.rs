//! [`OpenSslConnectorBuilder`]: an OpenSSL client context that trusts exactly one CA, set up
//! like [`SslConnector::builder`]'s but without what costs time and memory for nothing here.
//!
//! [`SslConnector::builder`]: openssl::ssl::SslConnector::builder

use std::ops::{Deref, DerefMut};

use ftps_core::{TlsError, TlsErrorKind};
use openssl::ssl::{SslContextBuilder, SslMethod, SslMode, SslOptions, SslVerifyMode, SslVersion};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;

use crate::{stack_error, OpenSslConnector, KEY_EXCHANGE_GROUPS};

/// The cipher list (TLS 1.2 and older) of [`SslConnector::builder`] in openssl 0.10.
const CIPHER_LIST: &str = "DEFAULT:!aNULL:!eNULL:!MD5:!3DES:!DES:!RC4:!IDEA:!SEED:!aDSS:!SRP:!PSK";

/// A builder of an [`OpenSslConnector`] that trusts exactly one CA certificate, and
/// dereferences to its [`SslContextBuilder`] for any further setting (versions, a client
/// certificate).
///
/// It starts as [`SslConnector::builder`] does (the same options, cipher list and peer
/// verification; the connector adds name verification per connection), with TLS 1.2 as the
/// minimum version and the groups of [`KEY_EXCHANGE_GROUPS`], and differs in two things:
///
/// * it does not load the system's roots first (`SSL_CTX_set_default_verify_paths`, which
///   [`SslConnector::builder`] calls and which parses the whole system bundle: 30-40 ms with
///   OpenSSL 3.0 and Debian 12's, at every connector made) only to replace them;
/// * it leaves out `SSL_MODE_RELEASE_BUFFERS`, which frees OpenSSL's record buffers whenever
///   they are empty: during a transfer, that is an allocation and a release per record.
///
/// ```no_run
/// use ftps_openssl::openssl::ssl::SslVersion;
/// use ftps_openssl::OpenSslConnectorBuilder;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut builder = OpenSslConnectorBuilder::trusting(&std::fs::read("ca.der")?)?;
/// builder.set_min_proto_version(Some(SslVersion::TLS1_3))?;
/// let connector = builder.build();
/// # let _ = connector;
/// # Ok(())
/// # }
/// ```
///
/// [`SslConnector::builder`]: openssl::ssl::SslConnector::builder
pub struct OpenSslConnectorBuilder(SslContextBuilder);

impl OpenSslConnectorBuilder {
    /// A builder that trusts exactly the CA certificate `ca_der` (DER), not the system's roots.
    pub fn trusting(ca_der: &[u8]) -> Result<Self, TlsError> {
        let ca = X509::from_der(ca_der).map_err(|e| {
            TlsError::new(TlsErrorKind::Other, "the ca certificate is not usable").with_source(e)
        })?;
        let mut store = X509StoreBuilder::new().map_err(stack_error)?;
        store.add_cert(ca).map_err(stack_error)?;
        let mut context = SslContextBuilder::new(SslMethod::tls_client()).map_err(stack_error)?;
        // SslConnector::builder's options and modes, without RELEASE_BUFFERS.
        context.set_options(
            (SslOptions::ALL
                | SslOptions::NO_COMPRESSION
                | SslOptions::NO_SSLV2
                | SslOptions::NO_SSLV3
                | SslOptions::SINGLE_DH_USE
                | SslOptions::SINGLE_ECDH_USE)
                & !SslOptions::DONT_INSERT_EMPTY_FRAGMENTS,
        );
        context.set_mode(
            SslMode::AUTO_RETRY
                | SslMode::ACCEPT_MOVING_WRITE_BUFFER
                | SslMode::ENABLE_PARTIAL_WRITE,
        );
        context.set_cipher_list(CIPHER_LIST).map_err(stack_error)?;
        context.set_verify(SslVerifyMode::PEER);
        context.set_cert_store(store.build());
        context
            .set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(stack_error)?;
        context
            .set_groups_list(KEY_EXCHANGE_GROUPS)
            .map_err(stack_error)?;
        Ok(OpenSslConnectorBuilder(context))
    }

    /// The connector.
    pub fn build(self) -> OpenSslConnector {
        OpenSslConnector::from_context(self.0.build())
    }
}

impl Deref for OpenSslConnectorBuilder {
    type Target = SslContextBuilder;

    fn deref(&self) -> &SslContextBuilder {
        &self.0
    }
}

impl DerefMut for OpenSslConnectorBuilder {
    fn deref_mut(&mut self) -> &mut SslContextBuilder {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusts_the_one_ca_verifies_the_peer_and_keeps_its_buffers() {
        let pki = ftps_conformance::server::shared_pki();
        let mut builder = OpenSslConnectorBuilder::trusting(pki.ca_der()).unwrap();
        // `set_mode` returns the mode in force; adding nothing leaves it as it is.
        let mode = builder.set_mode(SslMode::empty());
        assert!(!mode.contains(SslMode::RELEASE_BUFFERS), "{mode:?}");
        assert!(mode.contains(SslMode::AUTO_RETRY), "{mode:?}");
        let connector = builder.build();
        let context = connector.context();
        assert_eq!(context.verify_mode(), SslVerifyMode::PEER);
        let roots = context.cert_store().all_certificates();
        assert_eq!(roots.len(), 1, "the store holds the one CA");
        assert_eq!(roots.get(0).unwrap().to_der().unwrap(), pki.ca_der());
    }

    #[test]
    fn an_unusable_ca_is_a_typed_error() {
        let err = OpenSslConnectorBuilder::trusting(b"not a certificate")
            .err()
            .unwrap();
        assert_eq!(err.kind(), TlsErrorKind::Other);
        assert!(err.to_string().contains("ca certificate"), "{err}");
    }
}
