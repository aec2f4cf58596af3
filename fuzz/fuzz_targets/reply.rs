//! The `reply` fuzz target: see `ftps_fuzz::reply` for the input format and the oracle.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ftps_fuzz::reply::run(data));
