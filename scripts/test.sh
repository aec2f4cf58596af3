#!/usr/bin/env bash
# The project's test command (the README's second set-up command, and what .ci/run calls):
# installs the real FTPS servers of tier 3, then runs tiers 1-3 (unit tests, the conformance
# scenarios against the embedded server for every backend, the real-server tests) and the
# doc tests, for the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-servers.sh
export FTPS_REAL_SERVERS=1
cargo test --workspace "$@"
# The fuzz targets' seeds and past crash inputs, replayed on stable (fuzz/ is its own workspace).
cargo test --manifest-path fuzz/Cargo.toml --locked --no-default-features --target-dir target
# The README's quickstart, against the embedded server.
cargo run -q -p ftps --example quickstart
