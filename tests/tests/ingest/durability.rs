//! Durability of acknowledged events: a server SIGKILLed under concurrent load, a torn WAL
//! tail, a corrupted WAL record, failing writes (RLIMIT_FSIZE), and a graceful SIGTERM with a
//! request in flight. In every case each event answered 202 ends up in Parquet exactly once.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fingertip_tests::events::{events, ids, json_body};
use fingertip_tests::http::{self, Response, get_metric, post_events};
use fingertip_tests::lake::{self, id_counts, wal_records, wal_segments};
use fingertip_tests::server::{Server, create_token, wait_until};
use serde_json::{Value, json};

fn post(server: &Server, token: &str, batch: &[Value]) -> Response {
    post_events(server.addr, token, &json!({ "events": batch }))
}

/// 202, no rejections, and every event either accepted or a duplicate.
fn assert_all_taken(r: &Response, n: usize) -> (u64, u64) {
    assert_eq!(r.status, 202, "{}", r.text());
    let body = r.json();
    let (accepted, duplicates) = (
        body["accepted"].as_u64().unwrap(),
        body["duplicates"].as_u64().unwrap(),
    );
    assert_eq!(accepted + duplicates, n as u64, "{body}");
    assert_eq!(body["rejected"], json!([]), "{body}");
    (accepted, duplicates)
}

/// Each id of `acked` is in the lake exactly once, and the lake holds nothing else of `sent`'s
/// complement and no id twice.
fn assert_exactly_once(data: &Path, acked: &BTreeSet<String>, sent: &BTreeSet<String>) {
    let counts = id_counts(data);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let missing: Vec<_> = acked
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events are missing, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    let unknown: Vec<_> = counts.keys().filter(|id| !sent.contains(*id)).collect();
    assert!(
        unknown.is_empty(),
        "events that were never sent: {unknown:?}"
    );
}

/// What the clients of the crash test know.
#[derive(Default)]
struct Ledger {
    sent: BTreeSet<String>,
    acked: BTreeSet<String>,
    /// Batches without an answer (the server died): their fate is unknown until re-sent.
    unanswered: Vec<Vec<Value>>,
    /// A few acknowledged batches, re-sent after each restart: all duplicates.
    acked_batches: Vec<Vec<Value>>,
}

/// One client thread: posts 25-event batches until `stop`, recording what was acknowledged.
fn client(
    addr: std::net::SocketAddr,
    token: String,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Relaxed) {
        let batch = events(25);
        ledger.lock().unwrap().sent.extend(ids(&batch));
        let answer = http::request(
            addr,
            "POST",
            "/v1/events",
            &[
                ("Authorization", &format!("Bearer {token}")),
                ("Content-Type", "application/json"),
            ],
            &json_body(&batch),
        );
        let mut ledger = ledger.lock().unwrap();
        match answer {
            Ok(r) if r.status == 202 => {
                assert_all_taken(&r, batch.len());
                ledger.acked.extend(ids(&batch));
                if ledger.acked_batches.len() < 8 {
                    ledger.acked_batches.push(batch);
                }
            }
            // Shutting down, or the connection died with the server: unknown fate.
            Ok(r) if r.status == 503 => ledger.unanswered.push(batch),
            Ok(r) => panic!("unexpected answer {}: {}", r.status, r.text()),
            Err(_) => ledger.unanswered.push(batch),
        }
    }
}

/// Re-sends every unanswered batch (accepted or duplicates, never rejected) and a few
/// acknowledged ones (all duplicates).
fn resend(server: &Server, token: &str, ledger: &mut Ledger) {
    for batch in std::mem::take(&mut ledger.unanswered) {
        assert_all_taken(&post(server, token, &batch), batch.len());
        ledger.acked.extend(ids(&batch));
    }
    for batch in &ledger.acked_batches {
        let (accepted, duplicates) = assert_all_taken(&post(server, token, batch), batch.len());
        assert_eq!(
            (accepted, duplicates),
            (0, batch.len() as u64),
            "an acknowledged batch was stored again"
        );
    }
}

#[test]
fn sigkill_under_concurrent_load_loses_no_acknowledged_event() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = create_token(&data, "app", Some("attendance"));
    // Small segments and fast compaction, so kills also land in sealing and compaction.
    let env = [
        ("FINGERTIP__STORE__SEGMENT_MAX_BYTES", "32768"),
        ("FINGERTIP__STORE__SEGMENT_MAX_AGE_MS", "100"),
        ("FINGERTIP__STORE__COMPACTION_INTERVAL_MS", "20"),
        ("RUST_LOG", "info"),
    ];
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    // Mostly SIGKILL; one SIGTERM under load (drain, compact everything, restart on an empty
    // WAL, where segment ids start again at 1).
    let rounds = [
        (350u64, true),
        (800, true),
        (300, false),
        (200, true),
        (600, true),
        (450, true),
    ];
    for (round, (load_ms, kill)) in rounds.into_iter().enumerate() {
        let server = Server::start(&data, &env);
        resend(&server, &token, &mut ledger.lock().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (addr, token, ledger, stop) =
                    (server.addr, token.clone(), ledger.clone(), stop.clone());
                std::thread::spawn(move || client(addr, token, ledger, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(load_ms));
        stop.store(true, Relaxed);
        if kill {
            server.kill();
        } else {
            assert_eq!(server.stop(), 0, "SIGTERM under load");
            assert!(
                wal_segments(&data).is_empty(),
                "the graceful stop compacted the whole WAL"
            );
        }
        threads
            .into_iter()
            .for_each(|t| t.join().expect("client thread"));
        let l = ledger.lock().unwrap();
        println!(
            "round {round}: {} acknowledged so far, {} batches unanswered, {} WAL segments left",
            l.acked.len(),
            l.unanswered.len(),
            wal_segments(&data).len()
        );
    }
    let server = Server::start(&data, &env);
    let mut ledger = ledger.lock().unwrap();
    resend(&server, &token, &mut ledger);
    assert_eq!(
        get_metric(server.addr, "fingertip_wal_quarantined_segments_total"),
        0.0
    );
    assert_eq!(server.stop(), 0, "graceful stop");
    assert!(
        wal_segments(&data).is_empty(),
        "the graceful stop compacted the whole WAL"
    );
    assert!(
        !data.join("wal/quarantine").exists(),
        "a crash is not corruption"
    );
    assert!(
        ledger.acked.len() >= 1000,
        "the load was too light to mean much: {}",
        ledger.acked.len()
    );
    assert_eq!(
        ledger.acked, ledger.sent,
        "every batch was acknowledged in the end (some only when re-sent)"
    );
    assert_exactly_once(&data, &ledger.acked, &ledger.sent);
    assert_eq!(id_counts(&data).len(), ledger.acked.len());
}

/// Posts `n` batches of `size` one by one (one WAL record each); returns their ids.
fn post_batches(server: &Server, token: &str, n: usize, size: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|_| {
            let batch = events(size);
            assert_eq!(
                assert_all_taken(&post(server, token, &batch), size),
                (size as u64, 0)
            );
            ids(&batch)
        })
        .collect()
}

/// Segments stay in the WAL (no sealing by age) until the server stops or is killed.
const KEEP_WAL: [(&str, &str); 2] = [
    ("FINGERTIP__STORE__SEGMENT_MAX_AGE_MS", "600000"),
    ("FINGERTIP__STORE__COMPACTION_INTERVAL_MS", "50"),
];

#[test]
fn a_torn_wal_tail_is_dropped_and_acknowledged_events_survive() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = create_token(&data, "app", Some("attendance"));
    let server = Server::start(&data, &KEEP_WAL);
    let acked: BTreeSet<String> = post_batches(&server, &token, 5, 10)
        .into_iter()
        .flatten()
        .collect();
    server.kill();
    let last = wal_segments(&data)
        .pop()
        .expect("a WAL segment after the crash");
    let bytes = std::fs::read(&last).unwrap();
    let records = wal_records(&bytes);
    assert_eq!(records.len(), 5);
    // The start of a record that was being written when the power went, then zeros.
    let (at, len) = records[4];
    let mut tail = bytes[at..at + len / 2].to_vec();
    tail.extend_from_slice(&[0u8; 100]);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&last)
        .unwrap()
        .write_all(&tail)
        .unwrap();

    let server = Server::start(&data, &KEEP_WAL);
    let opened = server.log_events("Opened the store.");
    assert_eq!(opened.len(), 1, "{}", server.run_log());
    assert_eq!(
        opened[0]["torn_tail_bytes"].as_u64(),
        Some(tail.len() as u64),
        "{}",
        opened[0]
    );
    assert_eq!(opened[0]["corrupt_ranges"].as_u64(), Some(0));
    assert!(wait_until(Duration::from_secs(10), || get_metric(
        server.addr,
        "fingertip_compaction_segments_total"
    ) >= 1.0));
    assert_eq!(
        get_metric(server.addr, "fingertip_wal_torn_tail_bytes_total"),
        tail.len() as f64
    );
    assert_eq!(
        get_metric(server.addr, "fingertip_wal_quarantined_segments_total"),
        0.0
    );
    assert_eq!(
        server.log_events("Dropped a torn WAL tail").len(),
        1,
        "{}",
        server.run_log()
    );
    assert_eq!(server.stop(), 0);
    assert!(
        !data.join("wal/quarantine").exists(),
        "a torn tail is not corruption"
    );
    assert_exactly_once(&data, &acked, &acked);
    assert_eq!(id_counts(&data).len(), acked.len());
}

#[test]
fn a_corrupted_wal_record_quarantines_the_segment_and_the_rest_survives() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = create_token(&data, "app", Some("attendance"));
    let server = Server::start(&data, &KEEP_WAL);
    let batches = post_batches(&server, &token, 5, 10);
    server.kill();
    let segment = wal_segments(&data)
        .pop()
        .expect("a WAL segment after the crash");
    let mut bytes = std::fs::read(&segment).unwrap();
    let records = wal_records(&bytes);
    assert_eq!(records.len(), 5);
    // Flip bits in the middle of the third record (acknowledged data, not a tail).
    let (at, len) = records[2];
    for b in &mut bytes[at + len / 2..at + len / 2 + 4] {
        *b ^= 0x5a;
    }
    std::fs::write(&segment, &bytes).unwrap();

    let server = Server::start(&data, &KEEP_WAL);
    assert!(
        wait_until(Duration::from_secs(10), || get_metric(
            server.addr,
            "fingertip_wal_quarantined_segments_total"
        ) == 1.0),
        "the damaged segment was not quarantined: {}",
        server.run_log()
    );
    let loud: Vec<_> = server
        .run_log()
        .lines()
        .filter(|l| l.contains("\"level\":\"ERROR\"") && l.contains("corrupt"))
        .map(str::to_string)
        .collect();
    assert!(
        loud.len() >= 2,
        "expected errors at startup and at quarantine: {loud:?}"
    );
    let opened = server.log_events("Opened the store.");
    assert_eq!(
        opened[0]["corrupt_ranges"].as_u64(),
        Some(1),
        "{}",
        opened[0]
    );
    assert_eq!(server.stop(), 0);
    let quarantined = lake::files_under(&data.join("wal/quarantine"));
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0].file_name(), segment.file_name());
    // The readable records (before and after the damage) are stored; the damaged one is not.
    let counts = id_counts(&data);
    for (i, batch) in batches.iter().enumerate() {
        let stored = batch
            .iter()
            .filter(|id| counts.get(*id) == Some(&1))
            .count();
        assert_eq!(stored, if i == 2 { 0 } else { batch.len() }, "record {i}");
    }
    assert_eq!(counts.len(), 40);
}

#[test]
fn a_wal_segment_with_a_damaged_header_is_quarantined_not_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = create_token(&data, "app", Some("attendance"));
    let server = Server::start(&data, &KEEP_WAL);
    let acked: BTreeSet<String> = post_batches(&server, &token, 3, 10)
        .into_iter()
        .flatten()
        .collect();
    server.kill();
    let segment = wal_segments(&data)
        .pop()
        .expect("a WAL segment after the crash");
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[0] ^= 0xff; // the magic number
    std::fs::write(&segment, &bytes).unwrap();

    let server = Server::start(&data, &KEEP_WAL);
    assert!(
        wait_until(Duration::from_secs(10), || get_metric(
            server.addr,
            "fingertip_wal_quarantined_segments_total"
        ) == 1.0),
        "a segment with acknowledged records and a damaged header must be kept for inspection: {}",
        server.run_log()
    );
    assert_eq!(server.stop(), 0);
    assert_eq!(lake::files_under(&data.join("wal/quarantine")).len(), 1);
    // The records behind the damaged header are intact and still readable.
    assert_exactly_once(&data, &acked, &acked);
}

/// `prlimit` from util-linux, if present.
fn prlimit(pid: u32, fsize: &str) -> bool {
    Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={fsize}")])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn failing_wal_writes_answer_503_and_lose_nothing_acknowledged() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        println!(
            "SKIPPED: prlimit (util-linux) is not installed, so writes cannot be made to fail"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = create_token(&data, "app", Some("attendance"));
    let env = [
        ("FINGERTIP__STORE__SEGMENT_MAX_AGE_MS", "600000"),
        ("FINGERTIP__STORE__SEGMENT_MAX_BYTES", "1073741824"),
        ("RUST_LOG", "info"),
    ];
    let server = Server::start(&data, &env);
    // No file of the server may grow past 48 KiB: each WAL segment fills up and the write
    // that crosses the limit fails (EFBIG; SIGXFSZ must not kill the server).
    assert!(prlimit(server.pid(), "49152:49152"), "prlimit --pid failed");
    let mut acked = BTreeSet::new();
    let mut refused: Vec<Vec<Value>> = Vec::new();
    let mut answers = Vec::new();
    for _ in 0..120 {
        let batch = events(10);
        let r = post(&server, &token, &batch);
        match r.status {
            202 => {
                assert_all_taken(&r, 10);
                acked.extend(ids(&batch));
            }
            503 => {
                assert_eq!(r.error_code(), "wal_unavailable", "{}", r.text());
                refused.push(batch);
                // The writer moved to a fresh segment: ready again without waiting for traffic
                // (a load balancer that took the instance out would never send any).
                let ready = http::get(server.addr, "/readyz", None);
                assert_eq!(ready.status, 200, "{}", ready.text());
            }
            s => panic!("unexpected {s}: {}", r.text()),
        }
        answers.push(r.status);
    }
    println!("answers: {answers:?}");
    let first_503 = answers
        .iter()
        .position(|s| *s == 503)
        .expect("some write failed with 503");
    assert!(
        answers[first_503..].contains(&202),
        "the WAL recovered on a fresh segment after the failure"
    );
    assert!(get_metric(server.addr, "fingertip_wal_write_errors_total") >= 1.0);
    assert_eq!(
        get_metric(server.addr, "fingertip_events_accepted_total"),
        acked.len() as f64
    );
    // Crash while the limit holds; start again without it.
    server.kill();
    let server = Server::start(&data, &env);
    let mut sent = acked.clone();
    for batch in &refused {
        // Refused events were not stored: re-sent, they are new, not duplicates.
        assert_eq!(
            assert_all_taken(&post(&server, &token, batch), 10),
            (10, 0),
            "a 503 batch was stored after all"
        );
        acked.extend(ids(batch));
        sent.extend(ids(batch));
    }
    assert_eq!(server.stop(), 0);
    assert_exactly_once(&data, &acked, &sent);
    assert_eq!(id_counts(&data).len(), acked.len());
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_then_compacts_and_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = create_token(&data, "app", Some("attendance"));
    let server = Server::start(&data, &KEEP_WAL);
    let early = post_batches(&server, &token, 3, 10);
    // A request whose body is still arriving when SIGTERM comes.
    let batch = events(10);
    let body = json_body(&batch);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body[..body.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || !server
        .log_events("SIGTERM received")
        .is_empty()));
    std::thread::sleep(Duration::from_millis(100));
    stream.write_all(&body[body.len() / 2..]).unwrap();
    let r = http::read_response(&mut stream).unwrap();
    assert_eq!(assert_all_taken(&r, 10), (10, 0));
    assert_eq!(server.stop(), 0);
    assert!(
        wal_segments(&data).is_empty(),
        "the WAL was compacted on the way out"
    );
    let all: BTreeSet<String> = early.into_iter().flatten().chain(ids(&batch)).collect();
    assert_exactly_once(&data, &all, &all);
    assert_eq!(id_counts(&data).len(), 40);
}
