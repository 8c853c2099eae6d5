//! The one hash for everything replicas share: token ids in rate-limit keys, response-cache
//! keys and prefix affinity. It is part of the shared-state format, so it must give the same
//! value on every build: XXH3 with a fixed seed (std's `DefaultHasher` may change between Rust
//! releases, and replicas built by different ones would disagree). Each use hashes under its
//! own domain, and every part is length-prefixed, so `("ab", "c")` and `("a", "bc")` differ.
//!
//! Changing the algorithm, the seed or the framing changes every key: bump
//! [`FORMAT_VERSION`], which is part of every Redis key's prefix.

use xxhash_rust::xxh3::Xxh3;

/// The version of the shared-state format, in every Redis key (`llmc:v2:…`).
pub const FORMAT_VERSION: u32 = 2;

/// A fixed seed ("llmcoop2"): the same on every replica and every build.
const SEED: u64 = 0x6c6c_6d63_6f6f_7032;

/// A stable hasher over length-prefixed parts.
pub struct StableHasher(Xxh3);

impl StableHasher {
    /// A hasher for one use (`domain` keeps different uses of the same bytes apart).
    pub fn new(domain: &str) -> Self {
        let mut h = StableHasher(Xxh3::with_seed(SEED));
        h.write(domain.as_bytes());
        h
    }

    /// Adds one part.
    pub fn write(&mut self, part: &[u8]) -> &mut Self {
        self.0.update(&(part.len() as u64).to_le_bytes());
        self.0.update(part);
        self
    }

    pub fn finish(&self) -> u64 {
        self.0.digest()
    }

    pub fn finish128(&self) -> u128 {
        self.0.digest128()
    }
}

/// The 64-bit hash of `parts` under `domain`.
pub fn hash64(domain: &str, parts: &[&[u8]]) -> u64 {
    let mut h = StableHasher::new(domain);
    for p in parts {
        h.write(p);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values are part of the shared-state format: if this test fails, the format
    /// changed, and [`FORMAT_VERSION`] must change with it.
    #[test]
    fn values_are_fixed_across_builds() {
        assert_eq!(hash64("token", &[b"secret"]), hash64("token", &[b"secret"]));
        assert_eq!(
            format!("{:016x}", hash64("token", &[b"secret"])),
            PINNED_TOKEN
        );
        assert_ne!(
            hash64("token", &[b"ab", b"c"]),
            hash64("token", &[b"a", b"bc"])
        );
        assert_ne!(hash64("token", &[b"x"]), hash64("cache", &[b"x"]));
    }

    const PINNED_TOKEN: &str = "da166d83e27c8920";
}
