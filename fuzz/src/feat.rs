//! `feat`: the FEAT reply (RFC 2389).
//!
//! Input: the first byte picks the read size (as in `reply`); the rest is what the server sends
//! in answer to FEAT. Oracle: the features do not depend on how the reply was split into reads;
//! only a 2xx reply lists any; every label is upper case, not empty and without spaces, and
//! `supports` finds it; parameters are trimmed; MLST facts are lower case.

use ftps_core::listing::Features;
use ftps_core::reply::ReplyLimits;

/// Runs one input; panics if the oracle fails.
pub fn run(data: &[u8]) {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    let limits = ReplyLimits::default();
    let read_size = usize::from(selector & 0x3f) + 1;
    let whole = crate::reply::parse(limits, &[input]);
    let pieces: Vec<&[u8]> = input.chunks(read_size).collect();
    let split = crate::reply::parse(limits, &pieces);
    assert_eq!(split, whole);
    for reply in whole.iter().flatten() {
        let features = Features::parse(reply);
        if !reply.is_completion() {
            assert!(features.is_empty());
        }
        for (label, params) in features.iter() {
            assert!(!label.is_empty());
            assert!(!label.contains(char::is_whitespace));
            assert_eq!(label, label.to_ascii_uppercase());
            assert!(features.supports(label));
            if let Some(params) = params {
                assert_eq!(params, params.trim());
            }
        }
        for (fact, _) in features.mlst_facts() {
            assert!(!fact.is_empty());
            assert_eq!(fact, fact.to_ascii_lowercase());
        }
    }
}
