//! Recovery at start: read back every segment a previous run left, remember its events' dedup
//! keys, and cut the torn tail of the newest segment (the only one that may have one; see
//! [`super::segment`]). The compactor later turns the segments into Parquet, quarantining
//! the ones that hold corruption.

use std::fs::{self, OpenOptions};
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use super::segment::{ALL_VALID, list_segments, segment_path};
use crate::compact::{SegmentContents, read_segment_with};
use crate::record::{self, BatchKeys};
use crate::{DedupIndex, RecoveryReport, StoreError, StoreStats, dedup_key};

/// What recovery hands the WAL writer.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub report: RecoveryReport,
    /// The id of the first new segment.
    pub next_id: u64,
    /// The valid length of the newest existing segment, for the first new segment's header.
    pub prev_valid_len: u64,
}

/// Reads every existing segment, remembering dedup keys (filed under the dedup index's today:
/// kept at least a window from now).
pub(crate) fn recover(
    wal_dir: &Path,
    dedup: &DedupIndex,
    stats: &StoreStats,
) -> Result<Recovered, StoreError> {
    let ids = list_segments(wal_dir).map_err(StoreError::io(wal_dir))?;
    let mut report = RecoveryReport {
        segments: ids.len(),
        ..Default::default()
    };
    let today = dedup.today();
    let mut prev_valid_len = ALL_VALID;
    for &id in &ids {
        let contents = read_segment_with(wal_dir, id, record::decode_keys)?;
        report.corrupt_ranges += contents.corrupt_ranges;
        for batch in &contents.batches {
            let keys: Vec<u64> = batch
                .event_ids
                .iter()
                .map(|id| dedup_key(&batch.app_id, *id))
                .collect();
            dedup.insert_all(today, &keys);
            report.events += keys.len() as u64;
        }
        if contents.torn_tail_bytes > 0 {
            report.torn_tail_bytes += contents.torn_tail_bytes;
            drop_torn_tail(wal_dir, id, &contents, stats)?;
        }
        prev_valid_len = if contents.headerless {
            0
        } else {
            contents.valid_end as u64
        };
        let size = fs::metadata(segment_path(wal_dir, id)).map_or(0, |m| m.len());
        stats.wal_bytes.fetch_add(size, Relaxed);
    }
    if report.corrupt_ranges > 0 {
        tracing::error!(
            ranges = report.corrupt_ranges,
            "The WAL holds corrupted acknowledged data; affected segments will be quarantined."
        );
    }
    report.dedup_keys = dedup.len();
    Ok(Recovered {
        report,
        next_id: ids.last().map_or(1, |id| id + 1),
        prev_valid_len,
    })
}

/// Cuts the torn tail off the newest segment (a write that never completed, so was never
/// acknowledged). A segment that also holds corruption is left whole, as evidence for the
/// quarantine; the next segment's header marks its valid length either way.
fn drop_torn_tail(
    wal_dir: &Path,
    id: u64,
    contents: &SegmentContents<BatchKeys>,
    stats: &StoreStats,
) -> Result<(), StoreError> {
    stats
        .torn_tail_bytes_dropped
        .fetch_add(contents.torn_tail_bytes as u64, Relaxed);
    tracing::warn!(
        segment = id,
        bytes = contents.torn_tail_bytes,
        "Dropped a torn WAL tail (a write that was never acknowledged)."
    );
    if contents.corrupt_ranges > 0 {
        return Ok(());
    }
    let path = segment_path(wal_dir, id);
    let file = OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(StoreError::io(&path))?;
    file.set_len(contents.valid_end as u64)
        .and_then(|_| file.sync_all())
        .map_err(StoreError::io(&path))
}
