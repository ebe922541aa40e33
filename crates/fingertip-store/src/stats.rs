//! Counters the store keeps for `/metrics`: lock-free atomics, read by the server.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A fixed-bucket latency histogram (seconds), Prometheus-style.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

/// Bucket bounds suited to fsync and request latencies.
pub const LATENCY_BOUNDS_S: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        let buckets = bounds.iter().map(|_| AtomicU64::new(0)).collect();
        Self {
            bounds,
            buckets,
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = self.bounds.iter().position(|b| s <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }

    /// `(upper bound, cumulative count)` pairs, then the total count and the sum in seconds.
    pub fn snapshot(&self) -> (Vec<(f64, u64)>, u64, f64) {
        let mut cumulative = 0;
        let buckets = self
            .bounds
            .iter()
            .zip(&self.buckets)
            .map(|(b, c)| {
                cumulative += c.load(Relaxed);
                (*b, cumulative)
            })
            .collect();
        (
            buckets,
            self.count.load(Relaxed),
            self.sum_micros.load(Relaxed) as f64 / 1e6,
        )
    }
}

/// What the WAL and the compactor have done.
#[derive(Debug)]
pub struct StoreStats {
    pub records_appended: AtomicU64,
    pub events_appended: AtomicU64,
    pub fsyncs: AtomicU64,
    pub write_errors: AtomicU64,
    pub fsync_seconds: Histogram,
    /// Bytes in WAL segments not yet compacted.
    pub wal_bytes: AtomicU64,
    /// The WAL can take the next write: its last write succeeded, or a fresh segment was
    /// opened since the last failure.
    pub wal_healthy: AtomicBool,
    pub segments_compacted: AtomicU64,
    pub events_compacted: AtomicU64,
    pub parquet_files_written: AtomicU64,
    pub parquet_bytes_written: AtomicU64,
    pub compaction_errors: AtomicU64,
    /// Sealed segments waiting for compaction, and when the oldest of them was sealed (ms).
    pub segments_pending: AtomicU64,
    pub oldest_pending_sealed_ms: AtomicI64,
    pub corrupt_segments_quarantined: AtomicU64,
    pub torn_tail_bytes_dropped: AtomicU64,
    /// Files found at the name of the next WAL segment and moved to the quarantine.
    pub stray_segments_moved: AtomicU64,
    /// Damaged or torn dedup day-file records found at start.
    pub dedup_damaged_records: AtomicU64,
}

impl Default for StoreStats {
    fn default() -> Self {
        Self {
            records_appended: AtomicU64::new(0),
            events_appended: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            fsync_seconds: Histogram::new(LATENCY_BOUNDS_S),
            wal_bytes: AtomicU64::new(0),
            wal_healthy: AtomicBool::new(true),
            segments_compacted: AtomicU64::new(0),
            events_compacted: AtomicU64::new(0),
            parquet_files_written: AtomicU64::new(0),
            parquet_bytes_written: AtomicU64::new(0),
            compaction_errors: AtomicU64::new(0),
            segments_pending: AtomicU64::new(0),
            oldest_pending_sealed_ms: AtomicI64::new(0),
            corrupt_segments_quarantined: AtomicU64::new(0),
            torn_tail_bytes_dropped: AtomicU64::new(0),
            stray_segments_moved: AtomicU64::new(0),
            dedup_damaged_records: AtomicU64::new(0),
        }
    }
}
