//! The `feat` fuzz target: see `ftps_fuzz::feat` for the input format and the oracle.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ftps_fuzz::feat::run(data));
