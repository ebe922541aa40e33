//! WAL segment files: the header, record framing, and a scan that tells a torn tail (never
//! acknowledged, dropped) from corruption inside acknowledged data (quarantined, reported).
//!
//! A segment is `<id:020>.wal`: a 32-byte header (`magic`, `id u64`, `prev_valid_len u64`,
//! `nonce u64`) and then records `[len u32][crc32 u32][seq u64][payload]`, where `len` counts
//! `seq` and the payload and the CRC covers the same bytes. `seq` increases by one per record
//! within a segment.
//!
//! **What may be torn.** Only the segment that was being written when the process stopped can
//! end in a partial write, and that is always the newest one: whenever the writer leaves a
//! segment (sealed by size or age, or abandoned after a failed write) it first creates the
//! next one, whose header's `prev_valid_len` records exactly how many bytes of the previous
//! segment are acknowledged (`u64::MAX`, written by older versions: all of it). So a segment
//! with a successor is *sealed*: every byte up to its valid length must be an intact record,
//! and anything else — a bad or truncated record anywhere, including the last one, or a file
//! shorter than its valid length — is corruption of acknowledged data ([`Tail::Sealed`]).
//! Only the newest segment, which has no successor, may end in a torn tail ([`Tail::MayBeTorn`]).
//! Bytes past `prev_valid_len` belong to a failed group that was never acknowledged and are
//! never read.
//!
//! Segment ids restart at 1 whenever a run finds the WAL empty, so an id alone does not name a
//! segment for all time. The `nonce` (random, fixed when the segment is created; 0 in segments
//! written before it existed) does, together with the id: the compactor derives Parquet file
//! names from both, so compacting the same segment twice rewrites the same files while a later
//! segment with a reused id never overwrites them.

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

pub const MAGIC: [u8; 8] = *b"FTWAL\0v1";
pub const HEADER_LEN: usize = 32;
const FRAME_LEN: usize = 8;
/// No record is larger than this (a request body is far smaller).
pub const MAX_RECORD_LEN: usize = 256 << 20;
pub const ALL_VALID: u64 = u64::MAX;

pub fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.wal"))
}

/// Ids of the segment files in `dir`, ascending.
pub fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids: Vec<u64> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.strip_suffix(".wal")?.parse().ok()
        })
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// The fields of a segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: u64,
    pub prev_valid_len: u64,
    pub nonce: u64,
}

pub fn encode_header(header: Header) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..16].copy_from_slice(&header.id.to_le_bytes());
    h[16..24].copy_from_slice(&header.prev_valid_len.to_le_bytes());
    h[24..32].copy_from_slice(&header.nonce.to_le_bytes());
    h
}

/// The header at the start of `bytes`, or `None` if the bytes are not one.
pub fn decode_header(bytes: &[u8]) -> Option<Header> {
    if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
        return None;
    }
    let field = |at: usize| bytes[at..at + 8].try_into().ok().map(u64::from_le_bytes);
    Some(Header {
        id: field(8)?,
        prev_valid_len: field(16)?,
        nonce: field(24)?,
    })
}

/// A fresh random segment nonce (never 0, which marks segments older than nonces).
pub fn new_nonce() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0 | 1
}

/// Appends one framed record to `out`.
pub fn frame(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let len = (8 + payload.len()) as u32;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// What a scan of one segment found.
#[derive(Debug, Default)]
pub struct SegmentScan {
    /// Byte ranges of the payloads of the valid records, in order.
    pub records: Vec<Range<usize>>,
    /// Bytes at the end that hold no valid record: a write that never completed.
    pub torn_tail_bytes: usize,
    /// Damaged byte ranges followed by valid records: acknowledged data was corrupted.
    pub corrupt: Vec<Range<usize>>,
    /// The file is too short for a header (a crash while it was being created).
    pub headerless: bool,
    /// The segment's nonce (0 when headerless or written before nonces).
    pub nonce: u64,
}

struct Record {
    seq: u64,
    payload: Range<usize>,
    end: usize,
}

fn parse_at(bytes: &[u8], pos: usize) -> Option<Record> {
    let head = bytes.get(pos..pos + FRAME_LEN)?;
    let len = u32::from_le_bytes(head[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(head[4..8].try_into().ok()?);
    if !(8..=MAX_RECORD_LEN).contains(&len) {
        return None;
    }
    let body = bytes.get(pos + FRAME_LEN..pos + FRAME_LEN + len)?;
    if crc32fast::hash(body) != crc {
        return None;
    }
    let seq = u64::from_le_bytes(body[..8].try_into().ok()?);
    let start = pos + FRAME_LEN + 8;
    Some(Record {
        seq,
        payload: start..pos + FRAME_LEN + len,
        end: pos + FRAME_LEN + len,
    })
}

/// Whether a segment's end may be a torn (never acknowledged) write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// The newest segment: bad bytes at its end are a torn tail.
    MayBeTorn,
    /// A segment with a successor: every byte up to its valid length was acknowledged.
    Sealed,
}

/// Scans `bytes` (a whole segment), reading at most `valid_len` bytes.
pub fn scan(bytes: &[u8], valid_len: u64, tail: Tail) -> SegmentScan {
    let mut out = SegmentScan::default();
    let missing =
        (tail == Tail::Sealed && valid_len != ALL_VALID && valid_len > bytes.len() as u64)
            .then(|| bytes.len()..usize::try_from(valid_len).unwrap_or(usize::MAX));
    match decode_header(bytes) {
        Some(header) => out.nonce = header.nonce,
        // Shorter than a header: a crash while the segment was created; nothing was in it
        // (unless its successor says it held more: then it was cut short).
        None if bytes.len() <= HEADER_LEN => {
            out.headerless = true;
            out.corrupt.extend(missing);
            return out;
        }
        // Records follow a damaged header: acknowledged data sits in a damaged file. Read
        // what is readable and report the damage, so the segment is quarantined, not deleted.
        None => out.corrupt.push(0..HEADER_LEN),
    }
    let end = usize::try_from(valid_len)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let bytes = &bytes[..end];
    let mut pos = HEADER_LEN;
    let mut last_seq: Option<u64> = None;
    while pos < end {
        match parse_at(bytes, pos).filter(|r| last_seq.is_none_or(|s| r.seq > s)) {
            Some(r) => {
                last_seq = Some(r.seq);
                out.records.push(r.payload);
                pos = r.end;
            }
            None => match resync(bytes, pos + 1, last_seq) {
                Some(next) => {
                    out.corrupt.push(pos..next);
                    pos = next;
                }
                None if tail == Tail::Sealed => {
                    out.corrupt.push(pos..end);
                    break;
                }
                None => {
                    out.torn_tail_bytes = end - pos;
                    break;
                }
            },
        }
    }
    out.corrupt.extend(missing);
    out
}

impl SegmentScan {
    /// Where the valid records end (the header's end when there are none).
    pub fn valid_end(&self) -> usize {
        self.records.last().map_or(HEADER_LEN, |r| r.end)
    }
}

/// The first position after `from` where a valid record with a later sequence number starts.
fn resync(bytes: &[u8], from: usize, last_seq: Option<u64>) -> Option<usize> {
    (from..bytes.len().saturating_sub(FRAME_LEN + 8))
        .find(|&p| parse_at(bytes, p).is_some_and(|r| last_seq.is_none_or(|s| r.seq > s)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = encode_header(Header {
            id: 1,
            prev_valid_len: ALL_VALID,
            nonce: 7,
        })
        .to_vec();
        for (seq, p) in payloads.iter().enumerate() {
            frame(seq as u64, p, &mut out);
        }
        out
    }

    #[test]
    fn clean_segment() {
        let bytes = segment(&[b"one", b"two"]);
        let s = scan(&bytes, ALL_VALID, Tail::MayBeTorn);
        assert_eq!(s.records.len(), 2);
        assert_eq!(&bytes[s.records[1].clone()], b"two");
        assert_eq!((s.torn_tail_bytes, s.corrupt.len(), s.nonce), (0, 0, 7));
    }

    #[test]
    fn every_truncation_is_a_torn_tail() {
        let bytes = segment(&[b"one", b"two", b"three"]);
        let full = scan(&bytes, ALL_VALID, Tail::MayBeTorn).records;
        for cut in HEADER_LEN..bytes.len() {
            let s = scan(&bytes[..cut], ALL_VALID, Tail::MayBeTorn);
            assert!(s.corrupt.is_empty(), "cut {cut}");
            assert_eq!(s.records, full[..s.records.len()].to_vec());
            assert!(s.records.len() < 3);
        }
    }

    #[test]
    fn zero_filled_tail_is_torn() {
        let mut bytes = segment(&[b"one"]);
        bytes.extend_from_slice(&[0u8; 4096]);
        let s = scan(&bytes, ALL_VALID, Tail::MayBeTorn);
        assert_eq!(
            (s.records.len(), s.torn_tail_bytes, s.corrupt.len()),
            (1, 4096, 0)
        );
    }

    #[test]
    fn a_flipped_bit_inside_is_corruption_and_later_records_survive() {
        let mut bytes = segment(&[b"one", b"two", b"three"]);
        let second = scan(&bytes, ALL_VALID, Tail::MayBeTorn).records[1].start;
        bytes[second] ^= 0x40;
        let s = scan(&bytes, ALL_VALID, Tail::MayBeTorn);
        assert_eq!(s.corrupt.len(), 1);
        assert_eq!(s.records.len(), 2);
        assert_eq!(&bytes[s.records[1].clone()], b"three");
    }

    #[test]
    fn valid_len_hides_a_failed_group() {
        let bytes = segment(&[b"acked", b"failed"]);
        let acked_end = scan(&bytes, ALL_VALID, Tail::MayBeTorn).records[0].end;
        let s = scan(&bytes, acked_end as u64, Tail::Sealed);
        assert_eq!(s.records.len(), 1);
        assert!(scan(&bytes[..10], ALL_VALID, Tail::MayBeTorn).headerless);
    }

    #[test]
    fn records_behind_a_damaged_header_are_read_and_the_damage_reported() {
        let mut bytes = segment(&[b"one", b"two"]);
        bytes[3] ^= 0x01;
        let s = scan(&bytes, ALL_VALID, Tail::MayBeTorn);
        assert!(!s.headerless);
        assert_eq!(s.corrupt, vec![0..HEADER_LEN]);
        assert_eq!(s.records.len(), 2);
        assert!(
            scan(&bytes[..HEADER_LEN], ALL_VALID, Tail::MayBeTorn).headerless,
            "a bare damaged header holds nothing"
        );
    }

    #[test]
    fn in_a_sealed_segment_a_bad_or_missing_last_record_is_corruption() {
        let bytes = segment(&[b"one", b"two", b"three"]);
        let full = bytes.len() as u64;
        for cut in HEADER_LEN + 1..bytes.len() {
            let s = scan(&bytes[..cut], full, Tail::Sealed);
            assert_eq!(s.torn_tail_bytes, 0, "cut {cut}");
            assert!(
                !s.corrupt.is_empty(),
                "cut {cut}: a truncated sealed segment"
            );
            let s = scan(&bytes[..cut], ALL_VALID, Tail::Sealed);
            let clean = s.records.last().is_some_and(|r| r.end == cut);
            assert_eq!(
                s.corrupt.is_empty(),
                clean,
                "cut {cut} (old successor header)"
            );
        }
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        let s = scan(&flipped, full, Tail::Sealed);
        assert_eq!(
            (s.records.len(), s.corrupt.len(), s.torn_tail_bytes),
            (2, 1, 0)
        );
        let s = scan(&flipped, full, Tail::MayBeTorn);
        assert_eq!(
            (s.records.len(), s.corrupt.len()),
            (2, 0),
            "the newest segment may be torn"
        );
    }
}
