//! The `pasv` fuzz target: see `ftps_fuzz::pasv` for the input format and the oracle.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ftps_fuzz::pasv::run(data));
