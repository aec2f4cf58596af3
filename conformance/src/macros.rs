//! The one macro a backend crate needs.

/// Expands to a `fn main()` for a `harness = false` test target that runs every scenario
/// against the backend the factory makes, one libtest-mimic trial per scenario, named by its
/// SCENARIOS.md ID. A scenario whose needs the backend lacks is reported as ignored (kind
/// `unsupported`), never as ok.
///
/// The factory receives the test [`Pki`](crate::server::Pki): build a connector that trusts
/// `pki.ca_der()`, so the real certificate checks run. A backend that can present a client
/// certificate ([`Capability::ClientCert`](ftps_core::Capability::ClientCert)) adds a second
/// factory, `client_cert = ...`, whose connector also presents `pki.client_cert_pem()` with
/// `pki.client_key_pem()`; without it the client-certificate scenarios (CERT-01, SESS-05) fail
/// for a backend that declares the capability.
///
/// ```toml
/// [dev-dependencies]
/// ftps-conformance = "0.1"
///
/// [[test]]
/// name = "conformance"
/// harness = false
/// ```
///
/// ```ignore
/// // tests/conformance.rs
/// ftps_conformance::conformance_main!(|pki| my_tls::Connector::trusting(pki.ca_der()).unwrap());
/// ```
///
/// With a client certificate:
///
/// ```ignore
/// ftps_conformance::conformance_main!(
///     |pki| my_tls::Connector::trusting(pki.ca_der()).unwrap(),
///     client_cert = |pki| my_tls::Connector::trusting(pki.ca_der())
///         .unwrap()
///         .with_client_cert(&pki.client_cert_pem(), &pki.client_key_pem())
///         .unwrap(),
/// );
/// ```
#[macro_export]
macro_rules! conformance_main {
    ($factory:expr $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::__private::main_with($crate::__private::factory($factory))
        }
    };
    ($factory:expr, client_cert = $with_client_cert:expr $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            $crate::__private::main_with($crate::__private::factory_with_client_cert(
                $factory,
                $with_client_cert,
            ))
        }
    };
}
