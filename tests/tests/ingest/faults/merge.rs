//! Small files: a quiet partition that collected many small Parquet files (one per WAL
//! segment) is merged into one by the compactor, and every acknowledged event is still
//! stored exactly once.

use fingertip_tests::acks::{all_ids, assert_all_taken, assert_exactly_once, post};
use fingertip_tests::events::{events, now_ms, with};
use serde_json::json;

use super::{FAST, fresh, start};

#[test]
fn small_files_of_a_quiet_partition_are_merged_exactly_once() {
    let (_tmp, data, token) = fresh();
    // Events of three days ago, sent in twelve batches each sealed into its own segment.
    let day = fingertip_model::format_rfc3339_ms(now_ms() - 3 * 86_400_000);
    let server = start(&data, &FAST);
    let mut batches = Vec::new();
    for _ in 0..12 {
        let batch: Vec<_> = events(10)
            .into_iter()
            .map(|e| with(e, "started_at", json!(day)))
            .collect();
        assert_all_taken(&post(&server, &token, &batch), 10);
        batches.push(batch);
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    assert_eq!(server.stop(), 0);
    let date = &day[..10];
    let part = data.join(format!("events/date={date}/app_id=attendance"));
    let before = std::fs::read_dir(&part).unwrap().count();
    assert!(before >= 4, "expected many small files, found {before}");

    // The next start merges them (the compactor's first pass).
    let server = start(
        &data,
        &[
            FAST.as_slice(),
            &[("FINGERTIP__STORE__MERGE_MIN_FILES", "4")],
        ]
        .concat(),
    );
    let merged = fingertip_tests::server::wait_until(std::time::Duration::from_secs(20), || {
        std::fs::read_dir(&part).unwrap().count() == 1
    });
    assert_eq!(server.stop(), 0);
    assert!(merged, "{before} small files were not merged");
    println!("merged {before} files into 1");
    assert_exactly_once(&data, &all_ids(&batches), &all_ids(&batches));
}
