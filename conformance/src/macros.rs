//! The one macro a backend crate needs.

/// Expands to a `fn main()` for a `harness = false` test target that runs every scenario
/// against the backend the factory makes, one libtest-mimic trial per scenario, named by its
/// SCENARIOS.md ID. A scenario whose needs the backend lacks is reported as ignored (kind
/// `unsupported`), never as ok.
///
/// The factory receives the test [`Pki`](crate::server::Pki): build a connector that trusts
/// `pki.ca_der()`, so the real certificate checks run.
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
#[macro_export]
macro_rules! conformance_main {
    ($factory:expr) => {
        fn main() -> ::std::process::ExitCode {
            $crate::__private::main_with($crate::__private::factory($factory))
        }
    };
}
