#!/usr/bin/env bash
# Regenerates the README's interop table: runs the interop test target (every server profile
# of conformance/tests/interop.rs against every backend, on real servers on loopback) and prints
# one markdown table of the rows it reports. Needs the servers: run scripts/install-servers.sh
# first (as root). Usage: scripts/interop-table.sh > table.md
set -euo pipefail
cd "$(dirname "$0")/.."

output=$(FTPS_REAL_SERVERS=1 cargo test -q -p ftps-conformance --test interop -- --test-threads=1 2>&1) || {
    printf '%s\n' "${output}" >&2
    echo "interop-table: the interop tests failed (output above)" >&2
    exit 1
}
printf '%s\n' "${output}" | sed -n 's/^interop-header: //p' | head -n 2
printf '%s\n' "${output}" | sed -n 's/^interop-row: //p' | sort -t'|' -k2,2 -k3,3r -k4,4 -k5,5r -k6,6
