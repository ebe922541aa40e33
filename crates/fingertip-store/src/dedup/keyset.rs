//! One day's dedup keys in about 8 bytes each: a sorted array of the keys, plus a small hash
//! set of recent inserts that is merged into the array once it holds more than an eighth of
//! it.
//!
//! A hash set alone costs 10–20 bytes per key (load factor and growth by doubling) and three
//! times that while it resizes; the index holds every key of the dedup window, so this is most
//! of the server's steady memory at a high event rate. Keys are already uniform 64-bit hashes
//! ([`super::dedup_key`]), so a lookup in the array starts where the key's value says it should
//! be (interpolation) and gallops from there: a few cache lines, not a binary search from the
//! middle.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

/// Keys are already well mixed: hash them as themselves.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Below this many recent keys no merge happens, however small the array.
const MIN_RECENT: usize = 4096;

#[derive(Default)]
pub(super) struct KeySet {
    sorted: Vec<u64>,
    recent: HashSet<u64, BuildHasherDefault<Identity>>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} keys", self.len())
    }
}

impl KeySet {
    pub fn len(&self) -> usize {
        self.sorted.len() + self.recent.len()
    }

    pub fn contains(&self, key: u64) -> bool {
        self.recent.contains(&key) || in_sorted(&self.sorted, key)
    }

    /// `true` if the key was not in the set.
    pub fn insert(&mut self, key: u64) -> bool {
        if in_sorted(&self.sorted, key) || !self.recent.insert(key) {
            return false;
        }
        self.merge_if_large();
        true
    }

    pub fn extend(&mut self, keys: impl IntoIterator<Item = u64>) {
        for key in keys {
            self.insert(key);
        }
    }

    /// Removes keys (the rare path of a batch whose write failed): one pass over the array.
    pub fn remove_all(&mut self, keys: &[u64]) {
        let mut in_array = Vec::new();
        for key in keys {
            if !self.recent.remove(key) && in_sorted(&self.sorted, *key) {
                in_array.push(*key);
            }
        }
        if !in_array.is_empty() {
            in_array.sort_unstable();
            self.sorted.retain(|k| in_array.binary_search(k).is_err());
        }
    }

    fn merge_if_large(&mut self) {
        if self.recent.len() <= MIN_RECENT.max(self.sorted.len() / 8) {
            return;
        }
        let mut add: Vec<u64> = self.recent.drain().collect();
        add.sort_unstable();
        self.recent.shrink_to(MIN_RECENT);
        // Merge from the back into the array, grown by exactly what is added.
        let (mut i, mut j) = (self.sorted.len(), add.len());
        self.sorted.reserve_exact(add.len());
        self.sorted.resize(i + j, 0);
        for out in (0..self.sorted.len()).rev() {
            let take_add = j > 0 && (i == 0 || add[j - 1] > self.sorted[i - 1]);
            self.sorted[out] = if take_add {
                j -= 1;
                add[j]
            } else {
                i -= 1;
                self.sorted[i]
            };
        }
    }
}

/// Looks `key` up in a sorted array of uniform keys: starts at the position its value
/// predicts, gallops to bracket it, then searches the bracket.
fn in_sorted(sorted: &[u64], key: u64) -> bool {
    let n = sorted.len();
    if n == 0 {
        return false;
    }
    let guess = ((u128::from(key) * n as u128) >> 64) as usize;
    let (lo, hi) = if sorted[guess] < key {
        let mut step = 1;
        while guess + step < n && sorted[guess + step] < key {
            step *= 2;
        }
        (guess + step / 2, (guess + step + 1).min(n))
    } else {
        let mut step = 1;
        while step <= guess && sorted[guess - step] > key {
            step *= 2;
        }
        (guess.saturating_sub(step), guess + 1 - step / 2)
    };
    sorted[lo..hi].binary_search(&key).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The set against a `BTreeSet` model, through merges, with uniform and clustered keys.
    #[test]
    fn behaves_like_a_set_across_merges() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            state
        };
        for clustered in [false, true] {
            let mut set = KeySet::default();
            let mut model = BTreeSet::new();
            for round in 0..60_000u64 {
                let key = match clustered {
                    true => next() % 50_000,
                    false => next(),
                };
                assert_eq!(set.insert(key), model.insert(key), "insert {key}");
                if round % 997 == 0 {
                    let gone = [key, next() % 50_000];
                    set.remove_all(&gone);
                    gone.iter().for_each(|k| {
                        model.remove(k);
                    });
                }
                let probe = next() % 50_000;
                assert_eq!(set.contains(probe), model.contains(&probe), "probe {probe}");
            }
            assert_eq!(set.len(), model.len());
            assert!(set.sorted.len() > set.recent.len(), "merges happened");
            assert!(set.sorted.windows(2).all(|w| w[0] < w[1]));
            for k in &model {
                assert!(set.contains(*k));
            }
        }
    }

    #[test]
    fn extremes_are_found() {
        let mut set = KeySet::default();
        set.extend((0..10_000).chain([u64::MAX, u64::MAX - 1]));
        assert!(set.contains(0) && set.contains(u64::MAX) && set.contains(9_999));
        assert!(!set.contains(10_000) && !set.contains(u64::MAX - 2));
    }
}
