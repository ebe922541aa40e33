//! The simulator's own seeded PRNG: xoshiro256++ seeded through SplitMix64.
//!
//! The project does not use the `rand` crate. Every random choice of the simulator comes from
//! a [`Rng`] derived from the run's seed and a few integer tags (worker, week, ...), so the
//! same seed and options always give byte-identical output and any worker-week can be
//! generated on its own. Only integer arithmetic and `+ - * /` on `f64` are used (no `ln`,
//! `exp` or `cos`), so results do not depend on the platform's math library.

/// One step of SplitMix64: advances `state` and returns a well-mixed output.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++ (Blackman and Vigna): fast, small state, good statistical quality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose state is filled from SplitMix64 started at `seed`.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Self { s }
    }

    /// An independent stream for `seed` and `tags` (e.g. `[STREAM_WEEK, worker, week]`).
    pub fn derive(seed: u64, tags: &[u64]) -> Self {
        let mut state = seed;
        let mut mixed = splitmix64(&mut state);
        for &tag in tags {
            state ^= tag.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ mixed;
            mixed = splitmix64(&mut state);
        }
        Self::new(mixed)
    }

    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.s;
        let result = s0.wrapping_add(*s3).rotate_left(23).wrapping_add(*s0);
        let t = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= t;
        *s3 = s3.rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (`0` when `n == 0`), by Lemire's multiply-shift without rejection:
    /// the bias is at most `n / 2^64`, negligible for the small `n` used here.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform index into a slice of length `len`.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(u64::from(hi.saturating_sub(lo)) + 1) as u32
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// A bell-shaped integer in `lo..=hi` (mean of two uniforms: a triangular distribution).
    pub fn tri(&mut self, lo: u32, hi: u32) -> u32 {
        let span = f64::from(hi.saturating_sub(lo));
        let x = (self.next_f64() + self.next_f64()) * 0.5;
        lo + (x * (span + 1.0)).min(span) as u32
    }

    /// A count with mean `mean`: its integer part, plus one with probability equal to its
    /// fractional part (used for "about 2.5 per day").
    pub fn count(&mut self, mean: f64) -> u32 {
        let whole = mean.max(0.0).floor();
        whole as u32 + u32::from(self.chance(mean - whole))
    }

    /// A random version-4 UUID (RFC 9562 layout: version nibble 4, variant bits 10).
    pub fn uuid_v4(&mut self) -> u128 {
        let raw = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        (raw & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_matches_reference_vector() {
        // Reference: state {1, 2, 3, 4} gives 41943041, 58720359, 3588806011781223.
        let mut rng = Rng { s: [1, 2, 3, 4] };
        assert_eq!(rng.next_u64(), 41_943_041);
        assert_eq!(rng.next_u64(), 58_720_359);
        assert_eq!(rng.next_u64(), 3_588_806_011_781_223);
    }

    #[test]
    fn derived_streams_are_stable_and_distinct() {
        let a = Rng::derive(7, &[1, 2]).next_u64();
        assert_eq!(a, Rng::derive(7, &[1, 2]).next_u64());
        assert_ne!(a, Rng::derive(7, &[2, 1]).next_u64());
        assert_ne!(a, Rng::derive(8, &[1, 2]).next_u64());
    }

    #[test]
    fn ranges_and_uuids() {
        let mut rng = Rng::new(1);
        for _ in 0..10_000 {
            assert!((3..=9).contains(&rng.range(3, 9)));
            assert!((3..=9).contains(&rng.tri(3, 9)));
            assert!(rng.next_f64() < 1.0);
        }
        let id = uuid::Uuid::from_u128(rng.uuid_v4());
        assert_eq!(id.get_version_num(), 4);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
    }
}
