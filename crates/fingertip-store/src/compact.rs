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
use fingertip_model::DataDir;

use crate::lake::{self, ParquetOptions, date_of};
use crate::record::{self, EventView, StoredBatch};
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
    let raw = RawSegment::read(wal_dir, id)?;
    let mut out = SegmentContents {
        torn_tail_bytes: raw.scan.torn_tail_bytes,
        corrupt_ranges: raw.scan.corrupt.len(),
        headerless: raw.scan.headerless,
        nonce: raw.scan.nonce,
        valid_end: raw.scan.valid_end(),
        batches: Vec::with_capacity(raw.scan.records.len()),
    };
    for range in &raw.scan.records {
        match decode(&raw.bytes[range.clone()]) {
            Ok(batch) => out.batches.push(batch),
            Err(_) => out.corrupt_ranges += 1,
        }
    }
    Ok(out)
}

/// A segment's bytes and what scanning them found.
struct RawSegment {
    bytes: Vec<u8>,
    scan: segment::SegmentScan,
}

impl RawSegment {
    fn read(wal_dir: &Path, id: u64) -> Result<Self, StoreError> {
        let path = segment::segment_path(wal_dir, id);
        let bytes = fs::read(&path).map_err(StoreError::io(&path))?;
        let scan = match valid_len(wal_dir, id) {
            Some(len) => segment::scan(&bytes, len, Tail::Sealed),
            None => segment::scan(&bytes, ALL_VALID, Tail::MayBeTorn),
        };
        Ok(RawSegment { bytes, scan })
    }
}

/// What compaction found in a segment besides its events: what `retire_segment` reports.
struct Damage {
    corrupt_ranges: usize,
    records: usize,
    nonce: u64,
}

/// One partition's events: (UTC day number, app id) → events borrowed from the segment.
type Partitions<'a> = BTreeMap<(i64, &'a str), Vec<EventView<'a>>>;

/// Compacts segment `id`; returns the number of events written.
///
/// Memory: the segment's bytes, a fixed-size view per event (no allocation per event), and one
/// Arrow chunk of [`CHUNK_ROWS`] rows at a time; not the whole segment decoded.
pub(crate) fn compact_segment(
    data_dir: &Path,
    config: &StoreConfig,
    dedup: &DedupIndex,
    stats: &StoreStats,
    id: u64,
) -> Result<u64, StoreError> {
    let wal_dir = DataDir::new(data_dir).wal();
    let raw = RawSegment::read(&wal_dir, id)?;
    let (mut partitions, damage) = partition(&raw);
    let mut events = 0;
    for (&(day, app_id), rows) in &mut partitions {
        write_partition(
            data_dir,
            config,
            stats,
            id,
            damage.nonce,
            (day, app_id),
            rows,
        )?;
        events += rows.len() as u64;
    }
    persist_dedup_keys(dedup, &partitions)
        .map_err(StoreError::io(&DataDir::new(data_dir).dedup()))?;
    drop(partitions);
    drop(raw);
    retire_segment(&wal_dir, id, &damage, stats)?;
    stats.segments_compacted.fetch_add(1, Relaxed);
    stats.events_compacted.fetch_add(events, Relaxed);
    Ok(events)
}

/// Groups the segment's events by partition (by UTC day number: the date is formatted once per
/// partition, not per event).
fn partition(raw: &RawSegment) -> (Partitions<'_>, Damage) {
    let mut damage = Damage {
        corrupt_ranges: raw.scan.corrupt.len(),
        records: 0,
        nonce: raw.scan.nonce,
    };
    let mut partitions = Partitions::new();
    for range in &raw.scan.records {
        let Ok(batch) = record::decode_view(&raw.bytes[range.clone()]) else {
            damage.corrupt_ranges += 1;
            continue;
        };
        damage.records += 1;
        for e in batch.events {
            partitions
                .entry((e.started_at_ms.div_euclid(MS_PER_DAY), batch.app_id))
                .or_default()
                .push(e);
        }
    }
    (partitions, damage)
}

fn write_partition(
    data_dir: &Path,
    config: &StoreConfig,
    stats: &StoreStats,
    id: u64,
    nonce: u64,
    (day, app_id): (i64, &str),
    rows: &mut [EventView<'_>],
) -> Result<(), StoreError> {
    let date = date_of(day * MS_PER_DAY);
    let file_id = part_uuid(id, nonce, &date, app_id).to_string();
    let options = ParquetOptions {
        zstd_level: config.parquet_zstd_level,
        row_group_rows: config.parquet_row_group_rows,
    };
    let events = DataDir::new(data_dir).events();
    let (_, bytes) = lake::write_partition(&events, (&date, app_id), &file_id, rows, options)
        .map_err(StoreError::io(&events))?;
    stats.parquet_files_written.fetch_add(1, Relaxed);
    stats.parquet_bytes_written.fetch_add(bytes, Relaxed);
    Ok(())
}

const MS_PER_DAY: i64 = 86_400_000;

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
fn persist_dedup_keys(dedup: &DedupIndex, partitions: &Partitions<'_>) -> std::io::Result<()> {
    let keys: Vec<u64> = partitions
        .iter()
        .flat_map(|(&(_, app_id), rows)| rows.iter().map(move |e| dedup_key(app_id, e.event_id)))
        .collect();
    dedup.persist(dedup.today(), &keys)
}

fn retire_segment(
    wal_dir: &Path,
    id: u64,
    contents: &Damage,
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
            recovered_records = contents.records,
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
