//! Ingest counters for `/metrics`, labelled only by bounded sets (reason codes).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use fingertip_model::RejectReason;

#[derive(Debug, Default)]
pub struct IngestMetrics {
    pub events_accepted: AtomicU64,
    pub events_duplicate: AtomicU64,
    rejected: [AtomicU64; RejectReason::ALL.len()],
}

impl IngestMetrics {
    pub fn rejected(&self, reason: RejectReason) {
        if let Some(i) = RejectReason::ALL.iter().position(|r| *r == reason) {
            self.rejected[i].fetch_add(1, Relaxed);
        }
    }

    /// `(reason code, count)` for every reason.
    pub fn rejected_counts(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        RejectReason::ALL
            .iter()
            .zip(&self.rejected)
            .map(|(r, c)| (r.code(), c.load(Relaxed)))
    }
}
