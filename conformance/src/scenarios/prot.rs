//! The PROT group of SCENARIOS.md (being written).

use ftps_core::SecureConnection;

use crate::scenario::Scenario;

pub(crate) fn scenarios<C: SecureConnection>() -> Vec<Scenario<C>> {
    Vec::new()
}
