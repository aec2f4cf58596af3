//! File contents for the checks: deterministic pseudo-random bytes (so neither compression nor
//! a cache can help), streamed without holding a large file in memory, and SHA-256 sinks.

use std::io::{self, Read};

use sha2::{Digest, Sha256};

pub(super) use crate::real::transfer::{sha256, HashSink};

/// A stream of `len` pseudo-random bytes from `seed` (xorshift64), hashed as it is read.
pub(super) struct Pattern {
    state: u64,
    remaining: u64,
    pending: [u8; 8],
    pending_len: usize,
    hasher: Sha256,
}

impl Pattern {
    pub(super) fn new(len: u64, seed: u64) -> Pattern {
        Pattern {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            remaining: len,
            pending: [0; 8],
            pending_len: 0,
            hasher: Sha256::new(),
        }
    }

    /// The SHA-256 of the bytes read so far.
    pub(super) fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    fn next_word(&mut self) -> [u8; 8] {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state.to_le_bytes()
    }
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let mut n = 0;
        while n < want {
            if self.pending_len == 0 {
                self.pending = self.next_word();
                self.pending_len = 8;
            }
            let start = 8 - self.pending_len;
            let take = self.pending_len.min(want - n);
            buf[n..n + take].copy_from_slice(&self.pending[start..start + take]);
            self.pending_len -= take;
            n += take;
        }
        self.hasher.update(&buf[..n]);
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// `len` pattern bytes in memory, for small files.
pub(super) fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    Pattern::new(len as u64, seed)
        .read_to_end(&mut out)
        .expect("reading a pattern cannot fail");
    out
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(super) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Seconds since the Unix epoch of a UTC time from MDTM or MLST.
pub(super) fn unix_seconds(t: &ftps_core::listing::ModTime) -> i64 {
    days_from_civil(t.year.into(), t.month.into(), t.day.into()) * 86_400
        + i64::from(t.hour) * 3600
        + i64::from(t.minute) * 60
        + i64::from(t.second)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_streams_what_content_holds() {
        let whole = content(100_003, 5);
        let mut streamed = Vec::new();
        let mut pattern = Pattern::new(100_003, 5);
        let mut buf = [0u8; 997];
        loop {
            let n = pattern.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            streamed.extend_from_slice(&buf[..n]);
        }
        assert_eq!(streamed, whole);
        assert_eq!(pattern.digest(), sha256(&whole));
        assert_ne!(content(64, 5), content(64, 6));
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }
}
