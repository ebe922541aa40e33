//! Compaction: a sealed WAL segment becomes Parquet files, then disappears.
//!
//! Order, crash-safe at every step: (1) write each partition's file (tmp, fsync, rename, fsync
//! dir) under a name derived from the segment id and partition, so a re-run after a crash
//! rewrites the same names instead of adding copies; (2) append the segment's dedup keys to the
//! day files and fsync; (3) delete the segment (or move it to `wal/quarantine/` if it held
//! corruption) and fsync the WAL directory.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering::Relaxed;

use sha2::{Digest, Sha256};

use crate::dedup::{DedupIndex, dedup_key};
use crate::lake::{self, date_of, partition_dir};
use crate::record::{self, StoredBatch, StoredEvent};
use crate::wal::segment::{self, ALL_VALID, Tail};
use crate::{StoreConfig, StoreError, StoreStats, sync_dir};

/// What reading one segment back produced: its batches, decoded in full ([`StoredBatch`]) or
/// only as far as replay needs ([`record::BatchKeys`]).
#[derive(Debug)]
pub struct SegmentContents<B = StoredBatch> {
    pub batches: Vec<B>,
    /// Where the valid records end.
    pub valid_end: usize,
    pub torn_tail_bytes: usize,
    /// Damaged ranges inside acknowledged data (or records that would not decode).
    pub corrupt_ranges: usize,
    pub headerless: bool,
    /// The segment's nonce: with its id, it names the segment's Parquet files.
    pub nonce: u64,
}

/// How many bytes of segment `id` are valid, from the header of its successor `id + 1`;
/// `None` when there is no successor (then `id` is the newest segment and may be torn).
pub fn valid_len(wal_dir: &Path, id: u64) -> Option<u64> {
    let next = segment::segment_path(wal_dir, id + 1);
    let mut header = [0u8; segment::HEADER_LEN];
    let read =
        fs::File::open(next).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header));
    match read.ok().and_then(|_| segment::decode_header(&header)) {
        Some(next) if next.id == id + 1 => Some(next.prev_valid_len),
        _ => None,
    }
}

/// Reads and decodes one segment.
pub fn read_segment(wal_dir: &Path, id: u64) -> Result<SegmentContents, StoreError> {
    read_segment_with(wal_dir, id, record::decode)
}

/// Reads one segment, decoding each intact record with `decode`; a record that does not
/// decode counts as corruption.
pub fn read_segment_with<B>(
    wal_dir: &Path,
    id: u64,
    decode: fn(&[u8]) -> Result<B, record::DecodeError>,
) -> Result<SegmentContents<B>, StoreError> {
    let path = segment::segment_path(wal_dir, id);
    let bytes = fs::read(&path).map_err(StoreError::io(&path))?;
    let scan = match valid_len(wal_dir, id) {
        Some(len) => segment::scan(&bytes, len, Tail::Sealed),
        None => segment::scan(&bytes, ALL_VALID, Tail::MayBeTorn),
    };
    let mut out = SegmentContents {
        torn_tail_bytes: scan.torn_tail_bytes,
        corrupt_ranges: scan.corrupt.len(),
        headerless: scan.headerless,
        nonce: scan.nonce,
        valid_end: scan.valid_end(),
        batches: Vec::with_capacity(scan.records.len()),
    };
    for range in scan.records {
        match decode(&bytes[range]) {
            Ok(batch) => out.batches.push(batch),
            Err(_) => out.corrupt_ranges += 1,
        }
    }
    Ok(out)
}

/// Compacts segment `id`; returns the number of events written.
pub(crate) fn compact_segment(
    data_dir: &Path,
    config: &StoreConfig,
    dedup: &DedupIndex,
    stats: &StoreStats,
    id: u64,
) -> Result<u64, StoreError> {
    let wal_dir = data_dir.join("wal");
    let contents = read_segment(&wal_dir, id)?;
    // Partitions by UTC day number: the date is formatted once per partition, not per event.
    let mut partitions: BTreeMap<(i64, &str), Vec<&StoredEvent>> = BTreeMap::new();
    for batch in &contents.batches {
        for e in &batch.events {
            partitions
                .entry((e.started_at_ms.div_euclid(MS_PER_DAY), &batch.app_id))
                .or_default()
                .push(e);
        }
    }
    let mut events = 0;
    for ((day, app_id), mut rows) in partitions {
        let date = date_of(day * MS_PER_DAY);
        sort_rows(&mut rows);
        let path = partition_dir(&data_dir.join("events"), &date, app_id).join(format!(
            "part-{}.parquet",
            part_uuid(id, contents.nonce, &date, app_id)
        ));
        let batch =
            lake::to_record_batch(app_id, &rows).map_err(|e| StoreError::Parquet(e.to_string()))?;
        let props =
            lake::writer_properties(config.parquet_zstd_level, config.parquet_row_group_rows);
        let bytes =
            lake::write_parquet_file(&path, &batch, props).map_err(StoreError::io(&path))?;
        stats.parquet_files_written.fetch_add(1, Relaxed);
        stats.parquet_bytes_written.fetch_add(bytes, Relaxed);
        events += rows.len() as u64;
    }
    persist_dedup_keys(dedup, &contents.batches)
        .map_err(StoreError::io(&data_dir.join("dedup")))?;
    retire_segment(&wal_dir, id, &contents, stats)?;
    stats.segments_compacted.fetch_add(1, Relaxed);
    stats.events_compacted.fetch_add(events, Relaxed);
    Ok(events)
}

const MS_PER_DAY: i64 = 86_400_000;

/// (org unit rank, person, started_at, event id): the order rows are written in.
type SortKey = (u32, [u8; 16], i64, u128);

/// Sorts one partition's rows by (org_unit, person, started_at, event_id). The org units are
/// ranked once, so the sort compares integers instead of strings (string comparisons were the
/// largest cost of compaction in the ingest profile of docs/benchmarks.md).
fn sort_rows(rows: &mut Vec<&StoredEvent>) {
    let mut units: Vec<&str> = rows.iter().map(|e| e.org_unit.as_str()).collect();
    units.sort_unstable();
    units.dedup();
    let rank = |unit: &str| units.binary_search(&unit).unwrap_or(0) as u32;
    let mut keyed: Vec<(SortKey, &StoredEvent)> = rows
        .iter()
        .map(|e| {
            (
                (rank(&e.org_unit), e.person, e.started_at_ms, e.event_id),
                *e,
            )
        })
        .collect();
    // The keys are distinct (an event id is stored once per app), so unstable sorting is exact.
    keyed.sort_unstable_by_key(|a| a.0);
    rows.clear();
    rows.extend(keyed.into_iter().map(|(_, e)| e));
}

/// A name that is the same every time this segment's partition is compacted, and differs for
/// any other segment, including one that reuses the id in a later run (its nonce differs).
/// Segments without a nonce (0) keep the names they were given before nonces existed.
fn part_uuid(segment: u64, nonce: u64, date: &str, app_id: &str) -> uuid::Uuid {
    let mut hasher = Sha256::new()
        .chain_update(b"fingertip-part\0")
        .chain_update(segment.to_le_bytes());
    if nonce != 0 {
        hasher.update(nonce.to_le_bytes());
    }
    let digest = hasher
        .chain_update(date.as_bytes())
        .chain_update(b"\0")
        .chain_update(app_id.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Uuid::new_v8(bytes)
}

/// Files the segment's keys under the dedup index's (logical) today: a key is kept for at
/// least the window from its compaction, which is never earlier than its receipt.
fn persist_dedup_keys(dedup: &DedupIndex, batches: &[StoredBatch]) -> std::io::Result<()> {
    let keys: Vec<u64> = batches
        .iter()
        .flat_map(|b| b.events.iter().map(|e| dedup_key(&b.app_id, e.event_id)))
        .collect();
    dedup.persist(dedup.today(), &keys)
}

fn retire_segment(
    wal_dir: &Path,
    id: u64,
    contents: &SegmentContents,
    stats: &StoreStats,
) -> Result<(), StoreError> {
    let path = segment::segment_path(wal_dir, id);
    let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    if contents.corrupt_ranges > 0 {
        let quarantine = wal_dir.join("quarantine");
        fs::create_dir_all(&quarantine).map_err(StoreError::io(&quarantine))?;
        let target = quarantine_target(&quarantine, id, contents.nonce);
        fs::rename(&path, &target).map_err(StoreError::io(&path))?;
        sync_dir(&quarantine).map_err(StoreError::io(&quarantine))?;
        stats.corrupt_segments_quarantined.fetch_add(1, Relaxed);
        tracing::error!(
            segment = id,
            damaged_ranges = contents.corrupt_ranges,
            recovered_records = contents.batches.len(),
            quarantined = %target.display(),
            "WAL segment held corrupted acknowledged data: the readable records were stored, the segment was quarantined for inspection."
        );
    } else {
        fs::remove_file(&path).map_err(StoreError::io(&path))?;
    }
    sync_dir(wal_dir).map_err(StoreError::io(wal_dir))?;
    let _ = stats
        .wal_bytes
        .fetch_update(Relaxed, Relaxed, |b| Some(b.saturating_sub(size)));
    Ok(())
}

/// Where a damaged segment goes: `quarantine/<id>.wal`, or `<id>-<nonce>.wal` when a segment
/// of an earlier run with the same id is already there (never overwrite evidence).
fn quarantine_target(quarantine: &Path, id: u64, nonce: u64) -> std::path::PathBuf {
    let plain = segment::segment_path(quarantine, id);
    if !plain.exists() {
        return plain;
    }
    quarantine.join(format!("{id:020}-{nonce:016x}.wal"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_differ_for_a_reused_segment_id() {
        let a = part_uuid(1, 0x11, "2026-11-28", "attendance");
        assert_eq!(
            a,
            part_uuid(1, 0x11, "2026-11-28", "attendance"),
            "re-compaction rewrites the same file"
        );
        assert_ne!(
            a,
            part_uuid(1, 0x23, "2026-11-28", "attendance"),
            "a later run's segment 1 gets its own file"
        );
        assert_ne!(a, part_uuid(2, 0x11, "2026-11-28", "attendance"));
        assert_ne!(a, part_uuid(1, 0x11, "2026-11-28", "survey"));
    }
}
