//! The `session` fuzz target: see `ftps_fuzz::session` for the input format and the oracle.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ftps_fuzz::session::run(data));
