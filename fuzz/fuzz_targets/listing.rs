//! The `listing` fuzz target: see `ftps_fuzz::listing` for the input format and the oracle.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ftps_fuzz::listing::run(data));
