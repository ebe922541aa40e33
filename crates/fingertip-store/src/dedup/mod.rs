//! Re-sent events: which `(app_id, event_id)` pairs were stored within the dedup window.
//!
//! Keys are 64-bit hashes of the pair, computed by [`dedup_key`] — a fixed function of this
//! crate, so keys written to disk stay valid across restarts and upgrades. In memory there is
//! one [`keyset::KeySet`] per day of receipt (≈8 bytes per key); a lookup probes every day
//! still held.
//! On disk, the compactor appends the keys of each compacted WAL segment to
//! `<data>/dedup/<day>.keys` ([`dayfile`]) before the segment is deleted; keys still in the WAL
//! are recovered by replay.
//!
//! Days are days of the index's own [`clock::LogicalClock`], never of the wall clock: history
//! leaves the index (and its day file is deleted) once it is `dedup_window_days` logical days
//! old, and logical time only advances by time the server observed passing. A wall clock
//! stepped forward at one start therefore deletes nothing.

pub mod clock;
pub mod dayfile;
mod keyset;
pub mod rebuild;

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use clock::LogicalClock;
use keyset::KeySet;

pub(crate) const MS_PER_DAY: i64 = 86_400_000;

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

/// The day number (days since 1970-01-01, UTC) of an instant.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_DAY)
}

/// The in-memory index plus its day files and its clock.
#[derive(Debug)]
pub struct DedupIndex {
    dir: PathBuf,
    window_days: i64,
    clock: LogicalClock,
    days: Mutex<BTreeMap<i64, KeySet>>,
    damaged_records: AtomicU64,
    /// A day file was damaged or torn at open, so keys may be missing from it.
    lost_keys: std::sync::atomic::AtomicBool,
}

/// The day files in `dir`: `(day, path)`.
fn day_files(dir: &Path) -> io::Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "keys")
            && let Some(day) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse().ok())
        {
            out.push((day, path));
        }
    }
    out.sort();
    Ok(out)
}

impl DedupIndex {
    /// Resumes the clock, loads the day files of the window ending (logically) today, repairs
    /// torn appends and deletes days that left the window. `wall_ms` only seeds a brand-new
    /// clock.
    pub fn open(data_dir: &Path, window_days: u32, wall_ms: i64) -> io::Result<Self> {
        let dir = fingertip_model::DataDir::new(data_dir).dedup();
        fs::create_dir_all(&dir)?;
        let files = day_files(&dir)?;
        let clock = LogicalClock::open(&dir, files.last().map(|f| f.0), wall_ms)?;
        let index = Self {
            dir,
            window_days: i64::from(window_days.max(1)),
            clock,
            days: Mutex::default(),
            damaged_records: AtomicU64::new(0),
            lost_keys: Default::default(),
        };
        let today = index.today();
        for (day, path) in files {
            if day <= today - index.window_days {
                fs::remove_file(&path)?;
            } else {
                let keys = index.load_day_file(&path)?;
                index.insert_all(day, &keys);
            }
        }
        Ok(index)
    }

    /// Reads one day file, reporting damage and cutting off a torn tail.
    fn load_day_file(&self, path: &Path) -> io::Result<Vec<u64>> {
        let file = dayfile::read(path)?;
        if !file.damaged.is_empty() {
            self.damaged_records
                .fetch_add(file.damaged.len() as u64, Relaxed);
            self.lost_keys.store(true, Relaxed);
            tracing::error!(path = %path.display(), damaged_ranges = file.damaged.len(), "Dedup day file holds damaged records; skipped them and kept every key after them.");
        }
        if file.torn_bytes() > 0 {
            self.damaged_records.fetch_add(1, Relaxed);
            // A crash during an append leaves its keys in the WAL, but bit rot in a last record
            // looks the same: the lake is asked either way.
            self.lost_keys.store(true, Relaxed);
            tracing::warn!(path = %path.display(), bytes = file.torn_bytes(), "Cut a torn append off a dedup day file (its keys are replayed from the WAL segment that still holds them).");
            dayfile::repair(path, &file)?;
        }
        Ok(file.keys)
    }

    /// Whether a damaged or torn day file may have lost keys at open: then
    /// [`rebuild::from_lake`] gives them back from the Parquet they were stored in.
    pub fn lost_keys(&self) -> bool {
        self.lost_keys.load(Relaxed)
    }

    /// The logical day now: the day new keys are filed under.
    pub fn today(&self) -> i64 {
        self.clock.today()
    }

    /// Damaged or torn day-file records met at open.
    pub fn damaged_records(&self) -> u64 {
        self.damaged_records.load(Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, KeySet>> {
        self.days.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// For each key, `true` if it is new (and now remembered under `day`), `false` if it is
    /// still remembered (or earlier in `keys`).
    pub fn check_and_insert(&self, day: i64, keys: &[u64]) -> Vec<bool> {
        let mut days = self.lock();
        keys.iter()
            .map(|k| {
                let seen = days.values().any(|set| set.contains(*k));
                !seen && days.entry(day).or_default().insert(*k)
            })
            .collect()
    }

    /// Forgets keys inserted under `day` whose events were then not stored.
    pub fn forget(&self, day: i64, keys: &[u64]) {
        if let Some(set) = self.lock().get_mut(&day) {
            set.remove_all(keys);
        }
    }

    /// Remembers keys read back from the WAL or a day file.
    pub fn insert_all(&self, day: i64, keys: &[u64]) {
        self.lock()
            .entry(day)
            .or_default()
            .extend(keys.iter().copied());
    }

    /// Writes the clock back and drops days that left the window, in memory and on disk.
    pub fn expire(&self) -> io::Result<()> {
        self.clock.tick()?;
        let cutoff = self.today() - self.window_days + 1;
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
        self.lock().values().map(KeySet::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn day_path(&self, day: i64) -> PathBuf {
        self.dir.join(format!("{day}.keys"))
    }

    /// Appends keys to the day file and fsyncs it (called by the compactor before it deletes
    /// the WAL segment that held them).
    pub fn persist(&self, day: i64, keys: &[u64]) -> io::Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let path = self.day_path(day);
        let created = !path.exists();
        dayfile::append(&path, keys)?;
        if created {
            crate::sync_dir(&self.dir)?;
        }
        Ok(())
    }
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

    fn set_clock(dir: &Path, day: i64) {
        fs::write(dir.join("dedup/CLOCK"), format!("{}\n", day * MS_PER_DAY)).unwrap();
    }

    #[test]
    fn window_and_persistence_follow_the_logical_clock() {
        let dir = tempfile::tempdir().unwrap();
        let index = DedupIndex::open(dir.path(), 7, 100 * MS_PER_DAY).unwrap();
        assert_eq!(index.today(), 100);
        assert_eq!(
            index.check_and_insert(100, &[1, 2, 1]),
            vec![true, true, false]
        );
        index.persist(100, &[1, 2]).unwrap();
        index.forget(100, &[2]);
        assert_eq!(index.check_and_insert(100, &[2]), vec![true]);
        drop(index);
        // A start with the wall clock 8 days ahead forgets nothing.
        let ahead = DedupIndex::open(dir.path(), 7, 108 * MS_PER_DAY).unwrap();
        assert_eq!(ahead.today(), 100);
        assert_eq!(
            ahead.check_and_insert(100, &[1, 2, 9]),
            vec![false, false, true]
        );
        drop(ahead);
        set_clock(dir.path(), 106);
        let later = DedupIndex::open(dir.path(), 7, 0).unwrap();
        assert_eq!(
            later.check_and_insert(106, &[1]),
            vec![false],
            "day 100 is still in the window"
        );
        drop(later);
        set_clock(dir.path(), 107);
        let expired = DedupIndex::open(dir.path(), 7, 0).unwrap();
        assert!(
            !dir.path().join("dedup/100.keys").exists(),
            "day 100 left the window"
        );
        assert_eq!(expired.check_and_insert(107, &[1]), vec![true]);
        expired.insert_all(100, &[5]);
        expired.expire().unwrap();
        assert_eq!(expired.len(), 1, "expire drops days that left the window");
    }

    #[test]
    fn a_torn_day_file_keeps_later_keys() {
        let dir = tempfile::tempdir().unwrap();
        let index = DedupIndex::open(dir.path(), 7, 100 * MS_PER_DAY).unwrap();
        index.persist(100, &[1]).unwrap();
        let path = dir.path().join("dedup/100.keys");
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&dayfile::encode(&[2, 3])[..9]);
        fs::write(&path, &bytes).unwrap();
        index.persist(100, &[4]).unwrap();
        drop(index);
        let reopened = DedupIndex::open(dir.path(), 7, 0).unwrap();
        assert_eq!(reopened.check_and_insert(100, &[1, 4]), vec![false, false]);
        assert_eq!(reopened.damaged_records(), 1);
    }
}
