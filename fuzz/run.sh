#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each and prints, per target, the
# executions and the crashes.
#
# usage: fuzz/run.sh SECONDS [TARGET...]      targets: reply session pasv listing feat
#
# Needs the nightly toolchain (libFuzzer's sanitizer coverage) and cargo-fuzz; installs
# cargo-fuzz (crates.io) if it is missing. Each target starts from its seeds (seeds/TARGET,
# committed) and grows its own corpus (corpus/TARGET, not committed). A crash stops that
# target's run; libFuzzer writes the input to artifacts/TARGET/. Copy it to
# regressions/TARGET/ once fixed: `cargo test` (stable) replays it from then on.
# Exits 1 if any target crashed.
#
# The targets are built without a sanitizer (cargo fuzz -s none): the code under test
# (ftps-core) forbids unsafe code, so AddressSanitizer would find nothing that Rust's own
# checks (debug assertions and overflow checks stay on) do not, at a third of the speed
# (reply: 7.5k exec/s with it, 27k without). FUZZ_SANITIZER=address (or any value cargo fuzz's
# -s takes) builds with one.
set -Eeuo pipefail

cd -- "$(dirname -- "${BASH_SOURCE[0]}")"
ALL_TARGETS=(reply session pasv listing feat)
SANITIZER=${FUZZ_SANITIZER:-none}

die() { echo "run.sh: $*" >&2; exit 2; }

[[ $# -ge 1 && $1 =~ ^[0-9]+$ ]] || die "usage: run.sh SECONDS [TARGET...]"
seconds=$1
shift
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
    [[ " ${ALL_TARGETS[*]} " == *" ${t} "* ]] || die "unknown target ${t} (known: ${ALL_TARGETS[*]})"
done

rustup toolchain list | grep -q '^nightly' \
    || die "the nightly toolchain is missing (rustup toolchain install nightly)"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

logs=$(mktemp -d)
trap 'rm -rf -- "${logs}"' EXIT
echo "run.sh: building the targets (nightly, release with debug assertions, sanitizer: ${SANITIZER})" >&2
if ! cargo +nightly fuzz build -s "${SANITIZER}" >"${logs}/build.log" 2>&1; then
    tail -n 40 "${logs}/build.log" >&2
    die "the fuzz targets do not build"
fi
failed=0
printf '%-8s %14s %8s %8s\n' target executions exec/s crashes
for t in "${targets[@]}"; do
    mkdir -p "corpus/${t}" "artifacts/${t}"
    before=$(find "artifacts/${t}" -type f | wc -l)
    touch "${logs}/${t}.start"
    status=0
    cargo +nightly fuzz run -s "${SANITIZER}" "${t}" "corpus/${t}" "seeds/${t}" -- \
        -max_total_time="${seconds}" -print_final_stats=1 >"${logs}/${t}.log" 2>&1 || status=$?
    after=$(find "artifacts/${t}" -type f | wc -l)
    crashes=$((after - before))
    execs=$(awk '/stat::number_of_executed_units:/ { n = $NF } END { print n + 0 }' "${logs}/${t}.log")
    rate=$(awk '/stat::average_exec_per_sec:/ { n = $NF } END { print n + 0 }' "${logs}/${t}.log")
    printf '%-8s %14s %8s %8s\n' "${t}" "${execs}" "${rate}" "${crashes}"
    if [[ ${status} -ne 0 || ${crashes} -ne 0 ]]; then
        failed=1
        echo "run.sh: ${t} failed (exit ${status}); the end of its log:" >&2
        tail -n 30 "${logs}/${t}.log" >&2
        find "artifacts/${t}" -type f -newer "${logs}/${t}.start" -printf '  input: %p\n' >&2 || true
    fi
done
exit "${failed}"
