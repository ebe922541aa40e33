//! Retention: the server deletes lake partitions past `[retention] keep_days`, logs each
//! deletion before and after, keeps everything younger, and `fingertip retention` says what
//! is kept until when.

use std::time::Duration;

use fingertip_tests::events::now_ms;
use fingertip_tests::fixtures::{Event, ms, write_lake};
use fingertip_tests::server::{run, wait_until};
use serde_json::Value;

#[test]
fn the_server_deletes_what_is_past_retention_and_logs_it() {
    let (_tmp, data, _token) = super::fresh();
    let recent = now_ms() - 2 * 86_400_000;
    let events = [
        Event::new(
            "w1",
            "attendance",
            "u1",
            "check_in",
            ms("2024-03-04T02:00:00Z"),
            60.0,
        ),
        Event::new(
            "w2",
            "attendance",
            "u1",
            "check_in",
            ms("2024-03-05T02:00:00Z"),
            60.0,
        ),
        Event::new("w1", "attendance", "u1", "check_in", recent, 60.0),
    ];
    write_lake(&data, &events).unwrap();
    let old = data.join("events/date=2024-03-04");
    assert!(old.exists());

    let server = super::start(&data, &[("FINGERTIP__RETENTION__KEEP_DAYS", "100")]);
    let gone = wait_until(Duration::from_secs(20), || {
        !old.exists() && !data.join("events/date=2024-03-05").exists()
    });
    assert!(gone, "the expired partitions are still there");
    let recent_dir = data.join(format!(
        "events/date={}",
        fingertip_store::lake::date_of(recent)
    ));
    assert!(
        recent_dir.exists(),
        "a partition inside the period was deleted"
    );
    assert_eq!(server.stop(), 0);

    let log = std::fs::read_to_string(data.join("retention/audit.jsonl")).unwrap();
    let actions: Vec<(String, String)> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| {
            (
                v["action"].as_str().unwrap().to_string(),
                v["partition"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(actions.len(), 4, "{log}");
    assert!(actions.contains(&("deleting".into(), "date=2024-03-04".into())));
    assert!(actions.contains(&("deleted".into(), "date=2024-03-05".into())));

    let (code, stdout, stderr) = run(&[
        "retention",
        "--data",
        data.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        doc["status"]["keep_days"], 400,
        "the CLI reads the default config"
    );
    let partitions = doc["status"]["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 1, "{stdout}");
    assert!(partitions[0]["delete_on"].as_str().is_some());
    assert_eq!(doc["deletions"].as_array().unwrap().len(), 4);
}
