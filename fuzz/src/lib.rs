//! The fuzz targets' bodies, shared by the libFuzzer binaries (`fuzz_targets/`, nightly) and the
//! replay test (`tests/replay.rs`, stable), so a crash found by fuzzing fails `cargo test` once
//! its input is kept under `regressions/`.
//!
//! Each module's `run` takes the raw input, checks an oracle, and panics when it does not hold.

pub mod feat;
pub mod listing;
pub mod pasv;
pub mod reply;
pub mod session;

/// A target's body: runs one input, panics if the oracle fails.
pub type Target = fn(&[u8]);

/// The targets by name, as `fuzz/run.sh` and the replay test know them.
pub const TARGETS: [(&str, Target); 5] = [
    ("reply", reply::run),
    ("session", session::run),
    ("pasv", pasv::run),
    ("listing", listing::run),
    ("feat", feat::run),
];

/// Whether `bytes` contains CR, LF or NUL: bytes that must never reach a command line.
pub fn has_line_break_or_nul(bytes: &[u8]) -> bool {
    bytes.iter().any(|b| matches!(b, b'\r' | b'\n' | 0))
}
