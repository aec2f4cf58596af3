//! The soak's data: a source of pseudo-random bytes of a given length that hashes what it
//! hands out, holding no more than the caller's buffer whatever the size. What comes back is
//! hashed by the conformance harness's [`HashSink`](ftps_conformance::real::transfer::HashSink).

use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub(crate) type Sha256Digest = [u8; 32];

/// `len` pseudo-random bytes (SplitMix64 from `seed`) as an [`io::Read`], with the SHA-256 of
/// what was read so far.
pub(crate) struct RandomSource {
    state: u64,
    left: u64,
    hasher: Sha256,
}

impl RandomSource {
    /// A source of `len` bytes; different seeds give different bytes.
    pub(crate) fn new(seed: u64, len: u64) -> RandomSource {
        RandomSource {
            state: seed,
            left: len,
            hasher: Sha256::new(),
        }
    }

    /// The digest of the bytes read (all of them once `read` returned 0).
    pub(crate) fn digest(self) -> Sha256Digest {
        self.hasher.finalize().into()
    }

    /// The next 64 bits of SplitMix64 (Steele, Lea and Flood, 2014).
    fn next_word(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl Read for RandomSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for chunk in buf[..n].chunks_mut(8) {
            let word = self.next_word().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        self.hasher.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use ftps_conformance::real::transfer::HashSink;

    use super::*;

    #[test]
    fn a_source_gives_its_length_and_a_sink_agrees_on_the_digest() {
        for len in [0u64, 1, 7, 8, 9, 65537] {
            let mut source = RandomSource::new(len, len);
            let mut sink = HashSink::new();
            // An odd buffer size, so reads end in the middle of a word.
            let mut buf = [0u8; 1000];
            loop {
                let n = source.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                sink.write_all(&buf[..n]).unwrap();
            }
            assert_eq!(sink.len(), len);
            assert_eq!(sink.digest(), source.digest(), "len {len}");
        }
    }

    #[test]
    fn the_bytes_depend_on_the_seed_and_look_random() {
        let read = |seed| {
            let mut bytes = Vec::new();
            RandomSource::new(seed, 4096)
                .read_to_end(&mut bytes)
                .unwrap();
            bytes
        };
        let (a, b) = (read(1), read(2));
        assert_ne!(a, b);
        assert_eq!(a, read(1));
        // Every byte value shows up in 4 KiB of random data; a constant or counter would not.
        let distinct = a.iter().collect::<std::collections::HashSet<_>>().len();
        assert!(distinct > 200, "{distinct} distinct byte values");
    }
}
