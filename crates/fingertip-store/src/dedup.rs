//! Re-sent events: which `(app_id, event_id)` pairs were stored within the dedup window.
//!
//! Keys are 64-bit hashes of the pair, computed by [`dedup_key`] — a fixed function of this
//! crate, so keys written to disk stay valid across restarts and upgrades. In memory there is
//! one hash set per day of receipt (≈10 bytes per key); a lookup probes the days of the window,
//! newest first. On disk, the compactor appends the keys of each compacted WAL segment to
//! `<data>/dedup/<day>.keys` before the segment is deleted; keys still in the WAL are recovered
//! by replay. Day files older than the window are deleted.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, OpenOptions};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

const MS_PER_DAY: i64 = 86_400_000;

/// The dedup key of an event: FNV-1a of the app id, mixed with the event id.
pub fn dedup_key(app_id: &str, event_id: u128) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in app_id.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let lo = event_id as u64;
    let hi = (event_id >> 64) as u64;
    fmix64(
        fmix64(h ^ lo)
            .wrapping_add(hi)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15),
    )
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

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

type KeySet = HashSet<u64, BuildHasherDefault<Identity>>;

/// The day number (days since 1970-01-01, UTC) of an instant.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_DAY)
}

/// The in-memory index plus its day files.
#[derive(Debug)]
pub struct DedupIndex {
    dir: PathBuf,
    window_days: i64,
    days: Mutex<BTreeMap<i64, KeySetBox>>,
}

#[derive(Default)]
struct KeySetBox(KeySet);

impl std::fmt::Debug for KeySetBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} keys", self.0.len())
    }
}

impl DedupIndex {
    /// Loads the day files of the window ending today; deletes older ones.
    pub fn open(data_dir: &Path, window_days: u32, today: i64) -> io::Result<Self> {
        let dir = data_dir.join("dedup");
        fs::create_dir_all(&dir)?;
        let index = Self {
            dir,
            window_days: i64::from(window_days.max(1)),
            days: Mutex::default(),
        };
        for entry in fs::read_dir(&index.dir)? {
            let path = entry?.path();
            let Some(day) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
            else {
                continue;
            };
            if day <= today - index.window_days {
                fs::remove_file(&path)?;
            } else {
                let keys = read_day_file(&path)?;
                index.insert_all(day, &keys);
            }
        }
        Ok(index)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, KeySetBox>> {
        self.days.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// For each key, `true` if it is new (and now remembered under `day`), `false` if it was
    /// seen within the window (or earlier in `keys`).
    pub fn check_and_insert(&self, day: i64, keys: &[u64]) -> Vec<bool> {
        let mut days = self.lock();
        let oldest = day - self.window_days + 1;
        let fresh: Vec<bool> = keys
            .iter()
            .map(|k| {
                let seen = days.range(oldest..).any(|(_, set)| set.0.contains(k));
                !seen && days.entry(day).or_default().0.insert(*k)
            })
            .collect();
        fresh
    }

    /// Forgets keys inserted under `day` whose events were then not stored.
    pub fn forget(&self, day: i64, keys: &[u64]) {
        if let Some(set) = self.lock().get_mut(&day) {
            for k in keys {
                set.0.remove(k);
            }
        }
    }

    /// Remembers keys read back from the WAL or a day file.
    pub fn insert_all(&self, day: i64, keys: &[u64]) {
        self.lock()
            .entry(day)
            .or_default()
            .0
            .extend(keys.iter().copied());
    }

    /// Drops days that left the window, in memory and on disk.
    pub fn expire(&self, today: i64) -> io::Result<()> {
        let cutoff = today - self.window_days + 1;
        let old: Vec<i64> = {
            let mut days = self.lock();
            let keep = days.split_off(&cutoff);
            std::mem::replace(&mut *days, keep).into_keys().collect()
        };
        for day in old {
            match fs::remove_file(self.day_path(day)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.lock().values().map(|s| s.0.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn day_path(&self, day: i64) -> PathBuf {
        self.dir.join(format!("{day}.keys"))
    }

    /// Appends keys to the day file and fsyncs it (called by the compactor before it deletes
    /// the WAL segment that held them). A record is `[n u32][crc32 u32][n × u64]`.
    pub fn persist(&self, day: i64, keys: &[u64]) -> io::Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let path = self.day_path(day);
        let created = !path.exists();
        let mut body = Vec::with_capacity(keys.len() * 8);
        keys.iter()
            .for_each(|k| body.extend_from_slice(&k.to_le_bytes()));
        let mut record = Vec::with_capacity(body.len() + 8);
        record.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        record.extend_from_slice(&body);
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        file.write_all(&record)?;
        file.sync_data()?;
        if created {
            crate::sync_dir(&self.dir)?;
        }
        Ok(())
    }
}

/// Reads the valid records of a day file; a torn last record is ignored (its keys are still
/// in a WAL segment, which is deleted only after the append was fsynced).
fn read_day_file(path: &Path) -> io::Result<Vec<u64>> {
    let bytes = fs::read(path)?;
    let mut keys = Vec::with_capacity(bytes.len() / 8);
    let mut pos = 0;
    while let Some(head) = bytes.get(pos..pos + 8) {
        let n = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let Some(body) = bytes.get(pos + 8..pos + 8 + n * 8) else {
            break;
        };
        if crc32fast::hash(body) != crc {
            tracing::warn!(path = %path.display(), offset = pos, "Dedup day file has a damaged record; keys after it are taken from the WAL if still there.");
            break;
        }
        keys.extend(
            body.chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())),
        );
        pos += 8 + n * 8;
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_function_is_fixed() {
        // A change here would forget every persisted key: never change these values.
        assert_eq!(dedup_key("attendance", 1), dedup_key("attendance", 1));
        assert_ne!(dedup_key("attendance", 1), dedup_key("survey", 1));
        assert_ne!(dedup_key("attendance", 1), dedup_key("attendance", 1 << 64));
        assert_eq!(
            dedup_key("a", 0),
            0x98ab_5805_7744_f04a,
            "{:#x}",
            dedup_key("a", 0)
        );
    }

    #[test]
    fn window_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let index = DedupIndex::open(dir.path(), 7, 100).unwrap();
        assert_eq!(
            index.check_and_insert(100, &[1, 2, 1]),
            vec![true, true, false]
        );
        index.persist(100, &[1, 2]).unwrap();
        assert_eq!(index.check_and_insert(106, &[1, 3]), vec![false, true]);
        assert_eq!(
            index.check_and_insert(107, &[1]),
            vec![true],
            "day 100 left the window"
        );
        index.forget(106, &[3]);
        assert_eq!(index.check_and_insert(106, &[3]), vec![true]);
        let reopened = DedupIndex::open(dir.path(), 7, 101).unwrap();
        assert_eq!(
            reopened.check_and_insert(101, &[1, 2, 9]),
            vec![false, false, true]
        );
        reopened.expire(110).unwrap();
        assert!(reopened.is_empty());
        assert!(!dir.path().join("dedup/100.keys").exists());
    }
}
