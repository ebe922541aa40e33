//! WAL faults: damage at the end of a *sealed* segment (truncated or flipped last record) is
//! corruption of acknowledged data — quarantined and reported, never dropped as a "torn
//! tail"; and a stray file at the next segment's name does not stop writes.

use std::collections::BTreeSet;
use std::time::Duration;

use fingertip_tests::acks::{all_ids, assert_all_taken, post, post_fresh, tally};
use fingertip_tests::events::events;
use fingertip_tests::http::{self, get_metric};
use fingertip_tests::lake::{files_under, wal_records, wal_segments};
use fingertip_tests::server::wait_until;
use serde_json::Value;

use super::{FAST, FROZEN_WAL, fresh, start};

/// Small segments that stay in the WAL: 12 ten-event batches fill several segments.
fn frozen_small_segments() -> Vec<(&'static str, &'static str)> {
    let mut env = FROZEN_WAL.to_vec();
    env.push(("FINGERTIP__STORE__SEGMENT_MAX_BYTES", "4096"));
    env
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    /// The last record cut in half (as if the file lost its end).
    Truncate,
    /// Bits flipped inside the last record.
    Flip,
}

/// Posts 12 batches, kills the server, damages the last record of the first (sealed)
/// segment; returns the batches and the index of the damaged one.
fn damaged_sealed_segment(
    data: &std::path::Path,
    token: &str,
    damage: Damage,
) -> (Vec<Vec<Value>>, usize) {
    let server = start(data, &frozen_small_segments());
    let batches = post_fresh(&server, token, 12, 10);
    server.kill();
    let segments = wal_segments(data);
    assert!(
        segments.len() >= 3,
        "expected sealed segments: {segments:?}"
    );
    let first = &segments[0];
    let mut bytes = std::fs::read(first).unwrap();
    let records = wal_records(&bytes);
    let (at, len) = *records.last().expect("records in the first segment");
    match damage {
        Damage::Truncate => bytes.truncate(at + len / 2),
        Damage::Flip => bytes[at + len / 2..at + len / 2 + 4]
            .iter_mut()
            .for_each(|b| *b ^= 0x5a),
    }
    std::fs::write(first, &bytes).unwrap();
    (batches, records.len() - 1)
}

fn sealed_segment_damage_is_quarantined(damage: Damage) {
    let (_tmp, data, token) = fresh();
    let (batches, damaged) = damaged_sealed_segment(&data, &token, damage);
    let server = start(&data, &FAST);
    assert!(
        wait_until(Duration::from_secs(20), || get_metric(
            server.addr,
            "fingertip_wal_quarantined_segments_total"
        ) == 1.0),
        "{damage:?}: the damaged sealed segment was not quarantined: {}",
        server.run_log()
    );
    assert!(
        server.log_events("never acknowledged").is_empty(),
        "{damage:?}: acknowledged data was called a torn tail: {}",
        server.run_log()
    );
    // The log line follows the counter: wait for it rather than race it.
    let errors = || {
        server
            .run_log()
            .lines()
            .filter(|l| l.contains("\"level\":\"ERROR\"") && l.contains("corrupt"))
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(10), || errors() >= 2),
        "{damage:?}: expected errors at start and at quarantine"
    );
    let ready = http::get(server.addr, "/readyz", None).json();
    assert_eq!(ready["quarantined_files"], 1, "{ready}");
    assert_eq!(server.stop(), 0);
    assert_eq!(files_under(&data.join("wal/quarantine")).len(), 1);
    let lost: BTreeSet<String> = all_ids(&batches[damaged..=damaged]);
    let rest: Vec<Vec<Value>> = (0..batches.len())
        .filter(|i| *i != damaged)
        .map(|i| batches[i].clone())
        .collect();
    let t = tally(&data, &all_ids(&rest), &all_ids(&batches));
    println!(
        "{damage:?}: {t:?}; the damaged record's {} events are in wal/quarantine, reported",
        lost.len()
    );
    assert_eq!((t.lost, t.duplicated, t.never_sent), (0, 0, 0));
}

#[test]
fn a_truncated_last_record_of_a_sealed_segment_is_quarantined_not_dropped() {
    sealed_segment_damage_is_quarantined(Damage::Truncate);
}

#[test]
fn a_flipped_last_record_of_a_sealed_segment_is_quarantined_not_dropped() {
    sealed_segment_damage_is_quarantined(Damage::Flip);
}

#[test]
fn a_stray_file_at_the_next_segment_id_does_not_stop_writes() {
    let (_tmp, data, token) = fresh();
    let server = start(&data, &frozen_small_segments());
    let mut batches = post_fresh(&server, &token, 1, 10);
    let active: u64 = wal_segments(&data)
        .last()
        .and_then(|p| p.file_stem()?.to_str()?.parse().ok())
        .expect("an active segment");
    for id in active + 1..=active + 3 {
        std::fs::write(
            data.join(format!("wal/{id:020}.wal")),
            b"left here by someone else",
        )
        .unwrap();
    }
    for _ in 0..24 {
        let batch = events(10);
        let r = post(&server, &token, &batch);
        assert_eq!(assert_all_taken(&r, 10), (10, 0), "a write failed");
        batches.push(batch);
    }
    assert!(get_metric(server.addr, "fingertip_wal_stray_files_total") >= 1.0);
    assert_eq!(server.stop(), 0);
    let moved = files_under(&data.join("wal/quarantine"));
    assert!(
        moved
            .iter()
            .all(|p| p.to_string_lossy().contains(".stray-")),
        "{moved:?}"
    );
    let t = tally(&data, &all_ids(&batches), &all_ids(&batches));
    println!("stray files: {} moved aside; {t:?}", moved.len());
    assert_eq!((t.lost, t.duplicated, t.never_sent), (0, 0, 0));
}

#[test]
fn a_record_that_does_not_decode_is_quarantined_and_reported() {
    let (_tmp, data, token) = fresh();
    let server = start(&data, &FROZEN_WAL);
    let batches = post_fresh(&server, &token, 4, 10);
    server.kill();
    let segment = wal_segments(&data).pop().expect("a WAL segment");
    let mut bytes = std::fs::read(&segment).unwrap();
    let records = wal_records(&bytes);
    // A payload with an unknown version byte under a valid checksum: the frame is intact, the
    // payload does not decode.
    let (at, len) = records[1];
    bytes[at + 16] = 0xee;
    let crc = crc32(&bytes[at + 8..at + len]);
    bytes[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&segment, &bytes).unwrap();
    let server = start(&data, &FAST);
    assert!(
        wait_until(Duration::from_secs(20), || get_metric(
            server.addr,
            "fingertip_wal_quarantined_segments_total"
        ) == 1.0),
        "{}",
        server.run_log()
    );
    assert_eq!(server.stop(), 0);
    let rest: Vec<Vec<Value>> = [0, 2, 3].iter().map(|i| batches[*i].clone()).collect();
    let t = tally(&data, &all_ids(&rest), &all_ids(&batches));
    println!("undecodable record: {t:?}; its 10 events are in wal/quarantine, reported");
    assert_eq!(
        (t.lost, t.duplicated, t.never_sent, t.stored),
        (0, 0, 0, 30)
    );
}

/// CRC-32 (IEEE), as the WAL frames use it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
