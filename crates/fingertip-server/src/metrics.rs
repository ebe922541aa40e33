//! `GET /metrics`: Prometheus text exposition of the server, ingest and store counters.
//! Every label comes from a fixed set (status codes, reason codes); nothing per person or app.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use fingertip_ingest::IngestMetrics;
use fingertip_store::{Histogram, LATENCY_BOUNDS_S, StoreStats};

const STATUSES: [u16; 16] = [
    200, 202, 400, 401, 403, 404, 405, 408, 413, 415, 422, 429, 500, 503, 409, 402,
];

#[derive(Debug)]
pub struct ServerMetrics {
    requests: [AtomicU64; STATUSES.len()],
    pub bytes_received: AtomicU64,
    pub bytes_decoded: AtomicU64,
    pub request_seconds: Histogram,
    pub connections_open: AtomicU64,
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self {
            requests: Default::default(),
            bytes_received: AtomicU64::new(0),
            bytes_decoded: AtomicU64::new(0),
            request_seconds: Histogram::new(LATENCY_BOUNDS_S),
            connections_open: AtomicU64::new(0),
        }
    }
}

impl ServerMetrics {
    pub fn count_status(&self, status: u16) {
        let i = STATUSES.iter().position(|s| *s == status).unwrap_or(12);
        self.requests[i].fetch_add(1, Relaxed);
    }

    /// Renders everything as Prometheus text.
    pub fn render(&self, ingest: &IngestMetrics, store: &StoreStats) -> String {
        let mut out = String::with_capacity(8 << 10);
        header(
            &mut out,
            "fingertip_http_requests_total",
            "counter",
            "HTTP requests answered, by status code.",
        );
        for (s, c) in STATUSES.iter().zip(&self.requests) {
            let _ = writeln!(
                out,
                "fingertip_http_requests_total{{status=\"{s}\"}} {}",
                c.load(Relaxed)
            );
        }
        counter(
            &mut out,
            "fingertip_http_request_bytes_total",
            "Request body bytes as received.",
            &self.bytes_received,
        );
        counter(
            &mut out,
            "fingertip_http_decoded_bytes_total",
            "Request body bytes after decompression.",
            &self.bytes_decoded,
        );
        gauge(
            &mut out,
            "fingertip_http_connections_open",
            "Open client connections.",
            self.connections_open.load(Relaxed),
        );
        histogram(
            &mut out,
            "fingertip_http_request_seconds",
            "Time to answer a request.",
            &self.request_seconds,
        );
        counter(
            &mut out,
            "fingertip_events_accepted_total",
            "Events stored.",
            &ingest.events_accepted,
        );
        counter(
            &mut out,
            "fingertip_events_duplicate_total",
            "Re-sent events recognised and not stored again.",
            &ingest.events_duplicate,
        );
        header(
            &mut out,
            "fingertip_events_rejected_total",
            "counter",
            "Events rejected, by reason code.",
        );
        for (reason, n) in ingest.rejected_counts() {
            let _ = writeln!(
                out,
                "fingertip_events_rejected_total{{reason=\"{reason}\"}} {n}"
            );
        }
        render_store(&mut out, store);
        out
    }
}

fn render_store(out: &mut String, s: &StoreStats) {
    counter(
        out,
        "fingertip_wal_records_total",
        "WAL records (requests) made durable.",
        &s.records_appended,
    );
    counter(
        out,
        "fingertip_wal_fsyncs_total",
        "WAL group commits (one fdatasync each).",
        &s.fsyncs,
    );
    counter(
        out,
        "fingertip_wal_write_errors_total",
        "WAL writes or fsyncs that failed (their requests got 503).",
        &s.write_errors,
    );
    histogram(
        out,
        "fingertip_wal_fsync_seconds",
        "Latency of WAL write + fdatasync per group.",
        &s.fsync_seconds,
    );
    gauge(
        out,
        "fingertip_wal_bytes",
        "Bytes in WAL segments not yet compacted.",
        s.wal_bytes.load(Relaxed),
    );
    gauge(
        out,
        "fingertip_wal_writable",
        "1 when the WAL can take the next write (its last write succeeded, or a fresh segment was opened since).",
        u64::from(s.wal_healthy.load(Relaxed)),
    );
    counter(
        out,
        "fingertip_compaction_segments_total",
        "WAL segments compacted to Parquet.",
        &s.segments_compacted,
    );
    counter(
        out,
        "fingertip_compaction_events_total",
        "Events written to Parquet.",
        &s.events_compacted,
    );
    counter(
        out,
        "fingertip_parquet_files_total",
        "Parquet files written.",
        &s.parquet_files_written,
    );
    counter(
        out,
        "fingertip_parquet_bytes_total",
        "Parquet bytes written.",
        &s.parquet_bytes_written,
    );
    counter(
        out,
        "fingertip_compaction_errors_total",
        "Failed compaction attempts (retried).",
        &s.compaction_errors,
    );
    gauge(
        out,
        "fingertip_compaction_pending_segments",
        "Sealed WAL segments waiting for compaction (compaction lag).",
        s.segments_pending.load(Relaxed),
    );
    counter(
        out,
        "fingertip_wal_quarantined_segments_total",
        "WAL segments with corrupted acknowledged data, moved to wal/quarantine.",
        &s.corrupt_segments_quarantined,
    );
    counter(
        out,
        "fingertip_wal_torn_tail_bytes_total",
        "Bytes of never-acknowledged torn WAL tails dropped.",
        &s.torn_tail_bytes_dropped,
    );
    counter(
        out,
        "fingertip_wal_stray_files_total",
        "Files that sat at the next WAL segment's name, moved to wal/quarantine.",
        &s.stray_segments_moved,
    );
    counter(
        out,
        "fingertip_dedup_damaged_records_total",
        "Damaged or torn dedup day-file records found at start (skipped; later keys kept).",
        &s.dedup_damaged_records,
    );
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    header(out, name, "counter", help);
    let _ = writeln!(out, "{name} {}", value.load(Relaxed));
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    header(out, name, "histogram", help);
    let (buckets, count, sum) = h.snapshot();
    for (le, n) in buckets {
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {sum}\n{name}_count {count}"
    );
}
