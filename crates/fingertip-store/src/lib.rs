//! Durable storage of anonymized events: the write-ahead log, the dedup index, compaction,
//! and the Parquet lake layout.
//!
//! ```text
//! append(payload) ──▶ WAL writer thread (group commit: one write + fdatasync per group)
//!                        │ ack only after fdatasync
//!                        ▼
//!                  <data>/wal/<id>.wal ──seal (size/age/shutdown)──▶ compactor thread
//!                                                                      │
//!          <data>/events/date=YYYY-MM-DD/app_id=APP/part-<uuid>.parquet ◀┘ + <data>/dedup/
//! ```
//!
//! This crate knows nothing of HTTP, keys or queries; it must not depend on DataFusion or
//! OpenDP. Everything it is handed is already anonymized.

pub mod compact;
pub mod dedup;
#[cfg(test)]
mod fuzz_tests;
pub mod lake;
pub mod lock;
pub mod merge;
pub mod record;
pub mod retention;
mod stats;
mod wal;

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fingertip_model::DataDir;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

pub use dedup::{DedupIndex, dedup_key};
pub use lock::{DataDirLock, LockError};
pub use record::{EventRef, RecordBuilder, StoredBatch, StoredEvent};
pub use stats::{Histogram, LATENCY_BOUNDS_S, StoreStats};
pub use wal::segment::{list_segments, segment_path};

use wal::writer::{Command, Writer};

/// `[store]` in `fingertip.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// A WAL segment is sealed (and then compacted) once it holds this many bytes...
    /// Compaction holds one segment's bytes at a time, so this sets most of the server's
    /// memory under load (16 MiB: ~145 MiB resident; 64 MiB: ~240; docs/benchmarks.md).
    pub segment_max_bytes: u64,
    /// ...or once it is this old and holds at least one record.
    pub segment_max_age_ms: u64,
    /// How often the compactor looks for work.
    pub compaction_interval_ms: u64,
    /// At most this many payload bytes share one fsync.
    pub max_group_commit_bytes: usize,
    /// Appends that may wait for the WAL writer before callers wait too (backpressure).
    pub queue_depth: usize,
    /// Re-sent events within this many days of the first receipt are duplicates.
    pub dedup_window_days: u32,
    pub parquet_zstd_level: i32,
    pub parquet_row_group_rows: usize,
    /// A partition with at least this many small files is merged (0 or 1: never).
    pub merge_min_files: usize,
    /// Files below this size count as small.
    pub merge_small_bytes: u64,
    /// Only partitions whose date is at least this many days old are merged.
    pub merge_min_age_days: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            segment_max_bytes: 16 << 20,
            segment_max_age_ms: 60_000,
            compaction_interval_ms: 1_000,
            max_group_commit_bytes: 8 << 20,
            queue_depth: 4096,
            dedup_window_days: 7,
            parquet_zstd_level: 3,
            parquet_row_group_rows: 1 << 20,
            merge_min_files: 16,
            merge_small_bytes: 8 << 20,
            merge_min_age_days: 2,
        }
    }
}

/// How often the compactor looks for small files to merge.
const MERGE_EVERY: Duration = Duration::from_secs(60);

/// Storage errors. `Unavailable` is what a request sees when its events are not durable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("the write-ahead log cannot be written right now; nothing was stored")]
    Unavailable,
    #[error("the store is shutting down")]
    Closed,
    #[error("I/O on {path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("Parquet encoding failed: {0}")]
    Parquet(String),
    #[error("{0}")]
    Locked(String),
    #[error("a WAL record could not be re-encoded; nothing of the request was stored")]
    Encoding,
}

impl StoreError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
        move |e| StoreError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}

/// What `Store::open` found in the WAL.
#[derive(Debug, Default, Clone, Serialize)]
pub struct RecoveryReport {
    pub segments: usize,
    pub events: u64,
    pub torn_tail_bytes: usize,
    pub corrupt_ranges: usize,
    pub dedup_keys: usize,
}

/// The open store of one data directory.
pub struct Store {
    _lock: DataDirLock,
    data_dir: PathBuf,
    config: StoreConfig,
    tx: mpsc::Sender<Command>,
    sealed_below: Arc<AtomicU64>,
    dedup: Arc<DedupIndex>,
    stats: Arc<StoreStats>,
    compaction: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Wall-clock now in ms: the server's `received_at`, request validation and key epochs.
///
/// `FINGERTIP_TEST_CLOCK_OFFSET_S` (test-only, for the fault-injection tests: a server whose
/// clock is stepped) shifts it by that many seconds. Dedup history never follows this clock
/// (see [`dedup`]).
pub fn now_ms() -> i64 {
    static OFFSET_MS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let offset = *OFFSET_MS.get_or_init(|| {
        std::env::var("FINGERTIP_TEST_CLOCK_OFFSET_S")
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map_or(0, |s| s.saturating_mul(1000))
    });
    chrono::Utc::now().timestamp_millis().saturating_add(offset)
}

/// Makes a directory's entries durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Store {
    /// Takes the data directory's single-writer lock (refused while another process holds
    /// it), then opens the store as [`Store::open_locked`] does.
    pub fn open(
        data_dir: &Path,
        config: StoreConfig,
    ) -> Result<(Self, RecoveryReport), StoreError> {
        let lock = DataDirLock::acquire(data_dir).map_err(|e| StoreError::Locked(e.to_string()))?;
        Self::open_locked(lock, data_dir, config)
    }

    /// Opens the store under a lock the caller took first: reads back every WAL segment a
    /// previous run left (their events' dedup keys are remembered; the compactor turns them
    /// into Parquet), and starts the WAL writer on a fresh segment.
    pub fn open_locked(
        lock: DataDirLock,
        data_dir: &Path,
        config: StoreConfig,
    ) -> Result<(Self, RecoveryReport), StoreError> {
        let layout = DataDir::new(data_dir);
        let wal_dir = layout.wal();
        for dir in [data_dir.to_path_buf(), wal_dir.clone(), layout.events()] {
            fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        }
        sync_dir(data_dir).map_err(StoreError::io(data_dir))?;
        // An interrupted merge is finished or undone before anything reads the lake.
        merge::recover(data_dir).map_err(StoreError::io(&layout.merge()))?;
        let dedup = Arc::new(
            DedupIndex::open(data_dir, config.dedup_window_days, now_ms())
                .map_err(StoreError::io(&layout.dedup()))?,
        );
        if dedup.lost_keys() {
            let events = layout.events();
            let keys = dedup::rebuild::from_lake(&dedup, &events, config.dedup_window_days)
                .map_err(StoreError::io(&events))?;
            tracing::warn!(
                keys,
                "A dedup day file was damaged inside; the keys of the Parquet files written within the dedup window were remembered again from the lake."
            );
        }
        let stats = Arc::new(StoreStats::default());
        stats
            .dedup_damaged_records
            .store(dedup.damaged_records(), Relaxed);
        let recovered = wal::recover::recover(&wal_dir, &dedup, &stats)?;
        let (tx, rx) = mpsc::channel(config.queue_depth.max(1));
        let mut writer = Writer::new(
            &wal_dir,
            recovered.next_id,
            recovered.prev_valid_len,
            config.segment_max_bytes,
            config.max_group_commit_bytes,
            stats.clone(),
            dedup.clone(),
        );
        writer.start();
        let sealed_below = writer.sealed_below.clone();
        std::thread::Builder::new()
            .name("fingertip-wal".into())
            .spawn(move || writer.run(rx))
            .map_err(StoreError::io(&wal_dir))?;
        let store = Self {
            _lock: lock,
            data_dir: data_dir.to_path_buf(),
            config,
            tx,
            sealed_below,
            dedup,
            stats,
            compaction: Mutex::new(()),
        };
        Ok((store, recovered.report))
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn dedup(&self) -> &DedupIndex {
        &self.dedup
    }

    pub fn stats(&self) -> &Arc<StoreStats> {
        &self.stats
    }

    /// The WAL can take the next write: its last write succeeded, or a fresh segment has
    /// been opened since the last failure.
    pub fn is_writable(&self) -> bool {
        self.stats.wal_healthy.load(Relaxed)
    }

    /// A probe file can be written and fsynced in the WAL directory, and the WAL writer can
    /// take a write (after a failure it tries to open a fresh segment now, so readiness comes
    /// back without waiting for traffic). Blocking; used by `/readyz`.
    pub fn probe_writable(&self) -> bool {
        let probe = DataDir::new(&self.data_dir).wal().join(".ready-probe");
        let ok = File::create(&probe).and_then(|mut f| {
            io::Write::write_all(&mut f, b"ok")?;
            f.sync_data()
        });
        let _ = fs::remove_file(&probe);
        ok.is_ok() && self.probe_wal_blocking()
    }

    fn probe_wal_blocking(&self) -> bool {
        let (done, wait) = oneshot::channel();
        self.tx.blocking_send(Command::Probe(done)).is_ok() && wait.blocking_recv().unwrap_or(false)
    }

    /// Appends one request's events (`payload` from a [`RecordBuilder`], `keys[i]` the
    /// [`dedup_key`] of event `i`). Returns once the new events are written and fsynced, with
    /// the indexes of the events that were re-sends (not written again); or with an error,
    /// and then nothing of the payload will ever be read back.
    pub async fn append(&self, payload: Vec<u8>, keys: Vec<u64>) -> Result<Vec<u32>, StoreError> {
        let (done, wait) = oneshot::channel();
        let day = self.dedup.today();
        let append = wal::writer::Append {
            payload,
            keys,
            day,
            done,
        };
        self.tx
            .send(Command::Append(append))
            .await
            .map_err(|_| StoreError::Closed)?;
        wait.await.map_err(|_| StoreError::Closed)?
    }

    /// Seals the active segment (if it holds records) so that it can be compacted.
    pub async fn seal(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Command::Seal(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    fn seal_blocking(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.blocking_send(Command::Seal(done)).is_ok() {
            let _ = wait.blocking_recv();
        }
    }

    /// Compacts every sealed segment, oldest first, stopping at the first error.
    /// Returns the number of events written to Parquet. Blocking.
    pub fn compact_sealed(&self) -> Result<u64, StoreError> {
        let _guard = self.compaction.lock().unwrap_or_else(|e| e.into_inner());
        let wal_dir = DataDir::new(&self.data_dir).wal();
        let below = self.sealed_below.load(Relaxed);
        let ids: Vec<u64> = list_segments(&wal_dir)
            .map_err(StoreError::io(&wal_dir))?
            .into_iter()
            .filter(|id| *id < below)
            .collect();
        self.stats.segments_pending.store(ids.len() as u64, Relaxed);
        let mut events = 0;
        for id in ids {
            let result = compact::compact_segment(
                &self.data_dir,
                &self.config,
                &self.dedup,
                &self.stats,
                id,
            );
            match result {
                Ok(n) => events += n,
                Err(error) => {
                    self.stats.compaction_errors.fetch_add(1, Relaxed);
                    tracing::error!(%error, segment = id, "Compaction failed; the segment stays in the WAL and is retried.");
                    return Err(error);
                }
            }
            self.stats.segments_pending.fetch_sub(1, Relaxed);
        }
        Ok(events)
    }

    /// Seals and compacts everything, then closes the WAL, removing its empty last segment
    /// (graceful shutdown). Blocking. After this, appends fail with [`StoreError::Closed`].
    pub fn flush_blocking(&self) -> Result<u64, StoreError> {
        self.seal_blocking();
        let events = self.compact_sealed()?;
        let (done, wait) = oneshot::channel();
        if self.tx.blocking_send(Command::Close(done)).is_ok() {
            let _ = wait.blocking_recv();
        }
        Ok(events)
    }

    /// Files in `wal/quarantine/`: damaged segments and stray files kept for an operator.
    pub fn quarantined_files(&self) -> usize {
        fs::read_dir(DataDir::new(&self.data_dir).wal_quarantine())
            .map_or(0, |d| d.filter(|e| e.is_ok()).count())
    }

    /// Starts the background compactor: seals by age, compacts sealed segments, expires
    /// dedup days. Stops when the returned handle is stopped or dropped.
    pub fn spawn_compactor(self: &Arc<Self>) -> Compactor {
        let stop = Arc::new(AtomicBool::new(false));
        let store = self.clone();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("fingertip-compactor".into())
            .spawn(move || store.compactor_loop(&flag))
            .ok();
        Compactor { stop, thread }
    }

    /// Merges quiet partitions' small files (see [`merge`]), under the compaction lock.
    fn merge_small_files(&self) {
        let _guard = self.compaction.lock().unwrap_or_else(|e| e.into_inner());
        let today = lake::date_of(now_ms());
        if let Err(error) = merge::merge_small_files(&self.data_dir, &self.config, &today) {
            tracing::error!(%error, "Merging small Parquet files failed; retried on the next pass.");
        }
    }

    fn compactor_loop(&self, stop: &AtomicBool) {
        let tick = Duration::from_millis(self.config.compaction_interval_ms.max(10));
        let max_age = Duration::from_millis(self.config.segment_max_age_ms);
        let mut last_seal = (Instant::now(), self.stats.records_appended.load(Relaxed));
        let mut last_merge: Option<Instant> = None;
        while !stop.load(Relaxed) {
            std::thread::park_timeout(tick);
            let appended = self.stats.records_appended.load(Relaxed);
            if appended != last_seal.1 && last_seal.0.elapsed() >= max_age {
                self.seal_blocking();
                last_seal = (Instant::now(), appended);
            }
            let _ = self.compact_sealed();
            if last_merge.is_none_or(|t| t.elapsed() >= MERGE_EVERY) {
                self.merge_small_files();
                last_merge = Some(Instant::now());
            }
            if let Err(error) = self.dedup.expire() {
                tracing::warn!(%error, "Could not expire old dedup days.");
            }
        }
    }
}

/// The running compactor thread.
#[derive(Debug)]
pub struct Compactor {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Compactor {
    /// Stops the thread and waits for its current pass to finish.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Compactor {
    fn drop(&mut self) {
        self.halt();
    }
}
