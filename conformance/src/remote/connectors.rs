//! The compiled-in backends, built for a real server: trusting a given CA (or the system's
//! roots where the backend has them) and optionally pinned to one TLS version.

#[cfg(any(feature = "rustls", feature = "openssl", feature = "native-tls"))]
use super::TlsVersion;

/// A rustls connector (ring provider) trusting exactly `ca_der`, pinned to `tls` if given.
///
/// rustls has no system roots in this build: without a CA it is an error.
#[cfg(feature = "rustls")]
pub fn rustls(
    ca_der: Option<&[u8]>,
    tls: Option<TlsVersion>,
) -> Result<ftps_rustls::RustlsConnector, String> {
    use std::sync::Arc;

    use rustls::pki_types::CertificateDer;
    use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};

    let ca_der = ca_der.ok_or("rustls: no system roots are compiled in; give --ca FILE")?;
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .map_err(|e| format!("rustls: the CA certificate is not usable: {e}"))?;
    let versions: &[&'static SupportedProtocolVersion] = match tls {
        Some(TlsVersion::Tls12) => &[&rustls::version::TLS12],
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        None => rustls::DEFAULT_VERSIONS,
    };
    let config = ClientConfig::builder_with_provider(Arc::new(ftps_rustls::crypto_provider()))
        .with_protocol_versions(versions)
        .map_err(|e| format!("rustls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(ftps_rustls::RustlsConnector::new(Arc::new(config)))
}

/// An OpenSSL connector trusting exactly `ca_der` (the system's default paths without it),
/// TLS 1.2 at least, pinned to `tls` if given.
#[cfg(feature = "openssl")]
pub fn openssl(
    ca_der: Option<&[u8]>,
    tls: Option<TlsVersion>,
) -> Result<ftps_openssl::OpenSslConnector, String> {
    use openssl::ssl::{SslConnector, SslContextBuilder, SslMethod, SslVersion};

    let err = |e: openssl::error::ErrorStack| format!("openssl: {e}");
    let (min, max) = match tls {
        Some(TlsVersion::Tls12) => (SslVersion::TLS1_2, Some(SslVersion::TLS1_2)),
        Some(TlsVersion::Tls13) => (SslVersion::TLS1_3, Some(SslVersion::TLS1_3)),
        None => (SslVersion::TLS1_2, None),
    };
    let versions = |builder: &mut SslContextBuilder| -> Result<(), String> {
        builder.set_min_proto_version(Some(min)).map_err(err)?;
        builder.set_max_proto_version(max).map_err(err)
    };
    match ca_der {
        // Without the system's roots (OpenSslConnectorBuilder does not load them).
        Some(der) => {
            let mut builder = ftps_openssl::OpenSslConnectorBuilder::trusting(der)
                .map_err(|e| format!("openssl: {e}"))?;
            versions(&mut builder)?;
            Ok(builder.build())
        }
        None => {
            let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(err)?;
            versions(&mut builder)?;
            // P-256 first: vsftpd takes no other group (no HelloRetryRequest per data
            // connection).
            builder
                .set_groups_list(ftps_openssl::KEY_EXCHANGE_GROUPS)
                .map_err(err)?;
            Ok(ftps_openssl::OpenSslConnector::new(builder.build()))
        }
    }
}

/// A native-tls connector trusting exactly `ca_der` (the platform's roots without it), TLS 1.2
/// at least, pinned to `tls` if given.
#[cfg(feature = "native-tls")]
pub fn native_tls(
    ca_der: Option<&[u8]>,
    tls: Option<TlsVersion>,
) -> Result<ftps_native::NativeTlsConnector, String> {
    use native_tls::{Certificate, Protocol, TlsConnector};

    let mut builder = TlsConnector::builder();
    if let Some(der) = ca_der {
        let ca = Certificate::from_der(der)
            .map_err(|e| format!("native-tls: the CA certificate is not usable: {e}"))?;
        builder
            .add_root_certificate(ca)
            .disable_built_in_roots(true);
    }
    let (min, max) = match tls {
        Some(TlsVersion::Tls12) => (Protocol::Tlsv12, Some(Protocol::Tlsv12)),
        Some(TlsVersion::Tls13) => (Protocol::Tlsv13, Some(Protocol::Tlsv13)),
        None => (Protocol::Tlsv12, None),
    };
    builder
        .min_protocol_version(Some(min))
        .max_protocol_version(max);
    let connector = builder
        .build()
        .map_err(|e| format!("native-tls: cannot build the connector: {e}"))?;
    Ok(ftps_native::NativeTlsConnector::new(connector))
}
