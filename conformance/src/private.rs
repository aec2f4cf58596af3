//! Support for [`conformance_main!`](crate::conformance_main). Not a stable API.

use std::process::ExitCode;

use ftps_core::SecureConnection;
use libtest_mimic::{Arguments, Failed, Trial};

use crate::harness::{run_scenario, Factory};
use crate::scenario::Outcome;
use crate::scenarios::scenarios;
use crate::server::Pki;

/// Wraps a closure as a [`Factory`].
pub fn factory<C, F>(f: F) -> Factory<C>
where
    C: SecureConnection,
    F: Fn(&Pki) -> C + Send + Sync + 'static,
{
    Factory::new(f)
}

/// Wraps two closures as a [`Factory`]: one trusting the test CA, one that also presents the
/// PKI's client certificate.
pub fn factory_with_client_cert<C, F, G>(f: F, g: G) -> Factory<C>
where
    C: SecureConnection,
    F: Fn(&Pki) -> C + Send + Sync + 'static,
    G: Fn(&Pki) -> C + Send + Sync + 'static,
{
    Factory::new(f).with_client_cert(g)
}

/// One trial per scenario; unsupported scenarios are ignored trials of kind `unsupported`.
pub fn main_with<C: SecureConnection>(factory: Factory<C>) -> ExitCode {
    let args = Arguments::from_args();
    let capabilities = factory.make(crate::server::shared_pki()).capabilities();
    let trials = scenarios::<C>()
        .into_iter()
        .map(|scenario| {
            let missing = scenario
                .needs
                .iter()
                .find(|c| !capabilities.supports(**c))
                .copied();
            let factory = factory.clone();
            let trial = Trial::test(scenario.id, move || {
                match run_scenario(&scenario, &factory) {
                    Outcome::Pass => Ok(()),
                    Outcome::Fail(reason) => Err(Failed::from(reason)),
                    Outcome::Unsupported(c) => Err(Failed::from(format!(
                        "unsupported ({c}) should have been ignored"
                    ))),
                    Outcome::NotApplicable(reason) => Err(Failed::from(format!("n/a: {reason}"))),
                }
            });
            match missing {
                Some(_) => trial.with_ignored_flag(true).with_kind("unsupported"),
                None => trial,
            }
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
