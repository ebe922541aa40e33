//! Dedup faults: a torn record in a dedup day file must not hide the keys appended after it,
//! and a start with the clock 8 days ahead must not delete dedup history. In both cases,
//! re-sent acknowledged events are reported as duplicates and stored once.

use fingertip_tests::acks::{all_ids, assert_exactly_once, post_fresh, resend_expect_duplicates};
use fingertip_tests::lake::files_under;

use super::{FROZEN_WAL, fresh, start};

/// The dedup day files of `data`.
fn day_files(data: &std::path::Path) -> Vec<std::path::PathBuf> {
    files_under(&data.join("dedup"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "keys"))
        .collect()
}

#[test]
fn a_torn_dedup_record_does_not_hide_later_keys() {
    let (_tmp, data, token) = fresh();
    let server = start(&data, &FROZEN_WAL);
    let first = post_fresh(&server, &token, 4, 25);
    assert_eq!(
        server.stop(),
        0,
        "the graceful stop compacts: keys go to the day file"
    );
    // While the next server runs, a torn append lands in the day file: the start of a
    // record, as a crash or a full disk leaves it. The server's later keys go after it.
    let server = start(&data, &FROZEN_WAL);
    let files = day_files(&data);
    assert_eq!(files.len(), 1, "{files:?}");
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let torn = bytes[..bytes.len().min(8 + 8 * 7)].to_vec();
    bytes.extend_from_slice(&torn);
    std::fs::write(&files[0], &bytes).unwrap();
    let second = post_fresh(&server, &token, 4, 25);
    assert_eq!(server.stop(), 0);
    // Re-sent, every event of both rounds is a duplicate.
    let server = start(&data, &FROZEN_WAL);
    let mut all = first.clone();
    all.extend(second);
    let stored_again = resend_expect_duplicates(&server, &token, &all);
    assert_eq!(server.stop(), 0);
    println!(
        "torn dedup record: re-sent {} acknowledged events, {stored_again} stored again",
        all.len() * 25
    );
    assert_eq!(stored_again, 0, "re-sent events were stored again");
    assert_exactly_once(&data, &all_ids(&all), &all_ids(&all));
}

#[test]
fn a_start_with_the_clock_8_days_ahead_keeps_dedup_history() {
    let (_tmp, data, token) = fresh();
    let server = start(&data, &FROZEN_WAL);
    let sent = post_fresh(&server, &token, 4, 25);
    assert_eq!(server.stop(), 0);
    let mut ahead = FROZEN_WAL.to_vec();
    ahead.push(("FINGERTIP_TEST_CLOCK_OFFSET_S", "691200"));
    let server = start(&data, &ahead);
    let stored_ahead = resend_expect_duplicates(&server, &token, &sent);
    assert_eq!(server.stop(), 0);
    // Back to the right time: still duplicates.
    let server = start(&data, &FROZEN_WAL);
    let stored_after = resend_expect_duplicates(&server, &token, &sent);
    assert_eq!(server.stop(), 0);
    println!(
        "clock +8 d: re-sent {} events twice, stored again {stored_ahead} (ahead) + {stored_after} (after)",
        sent.len() * 25
    );
    assert_eq!((stored_ahead, stored_after), (0, 0));
    assert!(
        !day_files(&data).is_empty(),
        "the dedup history was deleted"
    );
    assert_exactly_once(&data, &all_ids(&sent), &all_ids(&sent));
}

#[test]
fn bit_rot_in_a_dedup_day_file_is_repaired_from_the_lake() {
    let (_tmp, data, token) = fresh();
    let server = start(&data, &FROZEN_WAL);
    let sent = post_fresh(&server, &token, 4, 25);
    assert_eq!(
        server.stop(),
        0,
        "the graceful stop compacts: keys go to the day file"
    );
    // Bit rot after the fact: one key byte of the (only, last) record flips, so its checksum
    // fails and the record's keys cannot be read. The WAL no longer holds these events.
    let files = day_files(&data);
    assert_eq!(files.len(), 1, "{files:?}");
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x40;
    std::fs::write(&files[0], &bytes).unwrap();
    let server = start(&data, &FROZEN_WAL);
    let stored_again = resend_expect_duplicates(&server, &token, &sent);
    assert_eq!(server.stop(), 0);
    println!(
        "dedup bit rot: re-sent {} acknowledged events, {stored_again} stored again",
        sent.len() * 25
    );
    assert_eq!(stored_again, 0, "keys lost to bit rot were not recovered");
    assert_exactly_once(&data, &all_ids(&sent), &all_ids(&sent));
}
