//! Property-based fuzzing (proptest, fixed case budget) of every decoder of this crate: WAL
//! segment scanning, WAL payload decoding and dedup day files. Invariant: any input gives an
//! answer — never a panic, never a hang — and damage never hides intact records after it.
//! The committed corpus under `fuzz/corpus/` (interesting inputs, including any that once
//! failed) is replayed first.

use std::path::PathBuf;

use proptest::prelude::*;

use crate::dedup::dayfile;
use crate::record;
use crate::wal::segment::{self, ALL_VALID, Header, Tail};

const CASES: u32 = 512;

fn corpus(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn segment_of(payloads: &[Vec<u8>]) -> Vec<u8> {
    let header = Header {
        id: 1,
        prev_valid_len: ALL_VALID,
        nonce: 9,
    };
    let mut out = segment::encode_header(header).to_vec();
    for (seq, p) in payloads.iter().enumerate() {
        segment::frame(seq as u64, p, &mut out);
    }
    out
}

/// Scans with every rule and decodes every record found; checks ranges stay in bounds.
fn scan_everything(bytes: &[u8]) {
    for tail in [Tail::MayBeTorn, Tail::Sealed] {
        for valid_len in [ALL_VALID, bytes.len() as u64 / 2, bytes.len() as u64 + 7] {
            let s = segment::scan(bytes, valid_len, tail);
            for r in &s.records {
                assert!(r.start <= r.end && r.end <= bytes.len());
                let _ = record::decode(&bytes[r.clone()]);
                let _ = record::decode_keys(&bytes[r.clone()]);
            }
            assert!(s.valid_end() <= bytes.len().max(segment::HEADER_LEN));
            if tail == Tail::Sealed {
                assert_eq!(s.torn_tail_bytes, 0, "a sealed segment has no torn tail");
            }
        }
    }
}

#[test]
fn corpus_replays() {
    for (path, bytes) in corpus("wal_segment") {
        println!("{}", path.display());
        scan_everything(&bytes);
    }
    for (_, bytes) in corpus("wal_payload") {
        let _ = record::decode(&bytes);
        let _ = record::decode_keys(&bytes);
    }
    for (_, bytes) in corpus("dedup_dayfile") {
        let f = dayfile::parse(&bytes);
        assert!(f.valid_end <= bytes.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_bytes_scan_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        scan_everything(&bytes);
    }

    #[test]
    fn any_payload_decodes_or_fails_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let full = record::decode(&bytes).ok();
        let keys = record::decode_keys(&bytes).ok();
        prop_assert_eq!(full.is_some(), keys.is_some(), "both decoders agree");
    }

    /// Damage (flipped bytes or a cut) hides at most the records it touches: every record the
    /// scan returns is one that was written, in order.
    #[test]
    fn damage_never_invents_or_reorders_records(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..64), 1..8),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = segment_of(&payloads);
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        let cut = segment::HEADER_LEN + cut.index(bytes.len() - segment::HEADER_LEN + 1);
        let bytes = &bytes[..cut];
        for tail in [Tail::MayBeTorn, Tail::Sealed] {
            let s = segment::scan(bytes, ALL_VALID, tail);
            let mut next = 0;
            for r in &s.records {
                let found = payloads[next..].iter().position(|p| p[..] == bytes[r.clone()]);
                prop_assert!(found.is_some(), "a record that was never written");
                next += found.unwrap_or(0) + 1;
            }
            if flips.is_empty() && cut == segment_of(&payloads).len() {
                prop_assert_eq!(s.records.len(), payloads.len());
                prop_assert!(s.corrupt.is_empty());
            }
        }
    }

    #[test]
    fn any_dayfile_parses(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let f = dayfile::parse(&bytes);
        prop_assert!(f.valid_end <= bytes.len());
        for d in &f.damaged {
            prop_assert!(d.start < d.end && d.end <= bytes.len());
        }
    }

    /// A damaged record hides only its own keys: every other record's keys are read.
    #[test]
    fn dayfile_damage_hides_only_the_damaged_record(
        records in proptest::collection::vec(proptest::collection::vec(any::<u64>(), 1..16), 2..6),
        victim in any::<prop::sample::Index>(),
        offset in any::<prop::sample::Index>(),
        x in 1u8..,
    ) {
        let encoded: Vec<Vec<u8>> = records.iter().map(|r| dayfile::encode(r)).collect();
        let v = victim.index(records.len());
        let mut bytes = Vec::new();
        let mut start = 0;
        for (i, e) in encoded.iter().enumerate() {
            if i == v {
                start = bytes.len();
            }
            bytes.extend_from_slice(e);
        }
        bytes[start + offset.index(encoded[v].len())] ^= x;
        let f = dayfile::parse(&bytes);
        let keys: std::collections::HashSet<u64> = f.keys.iter().copied().collect();
        for (i, r) in records.iter().enumerate() {
            if i != v {
                for k in r {
                    prop_assert!(keys.contains(k), "record {} lost key {}", i, k);
                }
            }
        }
    }
}
