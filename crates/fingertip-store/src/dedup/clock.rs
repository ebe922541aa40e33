//! The dedup index's own clock: logical time that only moves forward by time this server saw
//! pass, so that a wall clock stepped forward (or back) can never shorten dedup history.
//!
//! `<data>/dedup/CLOCK` holds the logical time in milliseconds. At start the clock resumes from
//! that value (the wall clock is not consulted, except on the very first start); while running
//! it advances with the monotonic clock. Downtime therefore does not count: history is kept for
//! at least `dedup_window_days` of the server's running time, and longer when it was down. A
//! data directory from before this file existed starts from the newest day file's day (the
//! last day anything was received), not from the wall clock.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::time::Instant;

use super::MS_PER_DAY;

/// How often (logical ms) the clock is written back while running.
const PERSIST_EVERY_MS: i64 = 60_000;

#[derive(Debug)]
pub struct LogicalClock {
    path: PathBuf,
    base_ms: i64,
    started: Instant,
    persisted_ms: AtomicI64,
}

impl LogicalClock {
    /// Resumes the clock of `dir` (the dedup directory). `newest_day` is the newest day file's
    /// day; `wall_ms` is used only when there is neither a clock file nor a day file.
    pub fn open(dir: &Path, newest_day: Option<i64>, wall_ms: i64) -> io::Result<Self> {
        let path = dir.join("CLOCK");
        let base_ms = match read(&path) {
            Some(ms) => ms,
            None => match newest_day {
                Some(day) => {
                    tracing::warn!(path = %path.display(), day, "No readable dedup clock; resuming from the newest dedup day file.");
                    day * MS_PER_DAY
                }
                None => wall_ms,
            },
        };
        let clock = Self {
            path,
            base_ms,
            started: Instant::now(),
            persisted_ms: AtomicI64::new(i64::MIN),
        };
        clock.persist()?;
        Ok(clock)
    }

    /// Logical now, in ms.
    pub fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.base_ms.saturating_add(elapsed)
    }

    pub fn today(&self) -> i64 {
        self.now_ms().div_euclid(MS_PER_DAY)
    }

    /// Writes the clock back (tmp, fsync, rename) if it moved a minute since the last write.
    pub fn tick(&self) -> io::Result<()> {
        if self.now_ms() - self.persisted_ms.load(Relaxed) >= PERSIST_EVERY_MS {
            self.persist()?;
        }
        Ok(())
    }

    fn persist(&self) -> io::Result<()> {
        let now = self.now_ms();
        let tmp = self.path.with_extension("tmp");
        let mut f = fs::File::create(&tmp)?;
        writeln!(f, "{now}")?;
        f.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        if let Some(dir) = self.path.parent() {
            crate::sync_dir(dir)?;
        }
        self.persisted_ms.store(now, Relaxed);
        Ok(())
    }
}

fn read(path: &Path) -> Option<i64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_from_its_file_not_the_wall_clock() {
        let dir = tempfile::tempdir().unwrap();
        let first = LogicalClock::open(dir.path(), None, 100 * MS_PER_DAY).unwrap();
        assert_eq!(first.today(), 100);
        drop(first);
        let ahead = LogicalClock::open(dir.path(), None, 108 * MS_PER_DAY).unwrap();
        assert_eq!(ahead.today(), 100, "a wall clock 8 days ahead is ignored");
        let behind = LogicalClock::open(dir.path(), None, 90 * MS_PER_DAY).unwrap();
        assert_eq!(behind.today(), 100, "and so is one behind");
    }

    #[test]
    fn without_a_file_it_starts_from_the_newest_history() {
        let dir = tempfile::tempdir().unwrap();
        let clock = LogicalClock::open(dir.path(), Some(42), 108 * MS_PER_DAY).unwrap();
        assert_eq!(clock.today(), 42);
    }
}
