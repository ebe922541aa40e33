//! Anonymization at the door: a distinctive `person_ref`, client IP (`X-Forwarded-For` and
//! friends), user agent and unknown-field value are planted in accepted, rejected and
//! malformed requests; afterwards not one byte of the data directory (WAL, Parquet, dedup,
//! keys, tokens), the log (at DEBUG) or stdout holds any of them, and no answer echoes them.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use fingertip_anonymize::{KeyStore, KeysConfig};
use fingertip_store::compact::read_segment;
use fingertip_store::list_segments;
use fingertip_tests::events::{event, gzip, json_body, ndjson_body, with};
use fingertip_tests::http::{self, Response};
use fingertip_tests::lake::{self, contains, files_under, read_rows};
use fingertip_tests::server::{Server, create_token};
use serde_json::{Value, json};

const PERSON: &str = "PERSON-REF-ZQX-4471";
const IP: &str = "203.0.113.77";
const USER_AGENT: &str = "AgentSmith/9.9-fingertip-test";
const FIELD_VALUE: &str = "UNKNOWN-FIELD-VALUE-QQ8";

/// Posts `body` as the planted client (IP and user agent in every header that could carry them).
fn post_as_client(
    server: &Server,
    token: &str,
    content_type: &str,
    encoding: Option<&str>,
    body: &[u8],
) -> Response {
    let auth = format!("Bearer {token}");
    let forwarded = format!("for={IP};proto=https");
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        ("Content-Type", content_type),
        ("User-Agent", USER_AGENT),
        ("X-Forwarded-For", IP),
        ("X-Real-IP", IP),
        ("Forwarded", forwarded.as_str()),
    ];
    if let Some(e) = encoding {
        headers.push(("Content-Encoding", e));
    }
    http::request(server.addr, "POST", "/v1/events", &headers, body).expect("request")
}

fn planted(n: usize) -> Value {
    with(event(n), "person_ref", json!(PERSON))
}

/// Asserts that none of the planted strings is in `bytes`.
fn assert_clean(what: &str, bytes: &[u8], also: &[&str]) {
    for needle in [PERSON, IP, USER_AGENT, FIELD_VALUE].iter().chain(also) {
        assert!(
            !contains(bytes, needle.as_bytes()),
            "{what} contains {needle:?}"
        );
    }
}

/// Scans every file under `data`; returns how many were scanned.
fn scan_data_dir(data: &Path, also: &[&str]) -> usize {
    let files = files_under(data);
    for file in &files {
        assert_clean(
            &file.display().to_string(),
            &std::fs::read(file).unwrap(),
            also,
        );
    }
    files.len()
}

#[test]
fn person_ref_client_ip_and_user_agent_are_never_written_anywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = create_token(&data, "app", Some("attendance"));
    // Keep the WAL segment until the stop, so the scan below sees the WAL with events in it.
    let server = Server::start(
        &data,
        &[
            ("FINGERTIP__STORE__SEGMENT_MAX_AGE_MS", "600000"),
            ("RUST_LOG", "debug"),
        ],
    );
    let mut answers = Vec::new();
    let mut stored = Vec::new();

    // Accepted events next to rejected ones that also carry the person_ref.
    let batch = vec![
        planted(0),
        with(planted(1), "device_note", json!(FIELD_VALUE)),
        with(planted(2), "event_type", json!("teleport")),
        with(
            planted(3),
            "person_ref",
            json!(format!("{PERSON}-{}", "x".repeat(300))),
        ),
        planted(4),
        with(planted(5), FIELD_VALUE, json!(PERSON)),
    ];
    let r = post_as_client(
        &server,
        &token,
        "application/json",
        None,
        &json_body(&batch),
    );
    assert_eq!(
        (r.status, r.json()["accepted"].as_u64()),
        (202, Some(2)),
        "{}",
        r.text()
    );
    stored.extend([batch[0].clone(), batch[4].clone()]);
    answers.push(r);

    // NDJSON (gzip) with a malformed line holding the person_ref.
    let more = vec![planted(6), planted(7)];
    let mut body = ndjson_body(&more);
    body.extend_from_slice(format!("{{\"person_ref\": \"{PERSON}\", oops\n").as_bytes());
    let r = post_as_client(
        &server,
        &token,
        "application/x-ndjson",
        Some("gzip"),
        &gzip(&body),
    );
    assert_eq!(
        (r.status, r.json()["accepted"].as_u64()),
        (202, Some(2)),
        "{}",
        r.text()
    );
    stored.extend(more);
    answers.push(r);

    // Refused as a whole: malformed JSON, nothing valid, wrong token, too large.
    let malformed = format!(
        "{{\"events\": [{{\"person_ref\": \"{PERSON}\", \"device_note\": \"{FIELD_VALUE}\""
    );
    answers.push(post_as_client(
        &server,
        &token,
        "application/json",
        None,
        malformed.as_bytes(),
    ));
    let invalid = vec![
        with(planted(8), "event_id", json!(PERSON)),
        with(
            planted(9),
            "org_unit",
            json!(format!("{PERSON}/{FIELD_VALUE}")),
        ),
    ];
    answers.push(post_as_client(
        &server,
        &token,
        "application/json",
        None,
        &json_body(&invalid),
    ));
    answers.push(post_as_client(
        &server,
        "ft_00000000_x",
        "application/json",
        None,
        &json_body(&[planted(10)]),
    ));
    answers.push(post_as_client(
        &server,
        &token,
        "text/plain",
        None,
        PERSON.as_bytes(),
    ));
    let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [202, 202, 400, 422, 401, 415]);
    for r in &answers {
        assert_clean(&format!("the {} answer", r.status), &r.body, &[]);
        assert!(
            r.headers
                .iter()
                .all(|(k, v)| !v.contains(IP) && !v.contains(USER_AGENT) && !k.contains(PERSON))
        );
    }

    // While the events are only in the WAL.
    assert!(
        !lake::wal_segments(&data).is_empty(),
        "the events should still be in the WAL"
    );
    let scanned = scan_data_dir(&data, &[&token]);
    assert!(
        scanned >= 3,
        "only {scanned} files under the data directory"
    );
    // Decoded, the WAL holds pseudonyms and minute-coarsened times only.
    let keys = KeyStore::open(&data, KeysConfig::default()).unwrap();
    let wal = data.join("wal");
    let mut in_wal = 0;
    for id in list_segments(&wal).unwrap() {
        for batch in read_segment(&wal, id).unwrap().batches {
            assert_eq!(batch.app_id, "attendance");
            for e in batch.events {
                assert_eq!(
                    e.started_at_ms % 60_000,
                    0,
                    "the WAL holds a timestamp finer than a minute"
                );
                assert_eq!(e.person, keys.pseudonym(&e.key_epoch, PERSON).unwrap());
                in_wal += 1;
            }
        }
    }
    assert_eq!(in_wal, stored.len());
    // Keys and the token hashes are readable by the owner only.
    for file in files_under(&data.join("keys"))
        .iter()
        .chain([&data.join("tokens.json")])
    {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", file.display());
    }
    let mode = std::fs::metadata(data.join("keys"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700, "keys/ has mode {mode:o}");
    let (log_path, stdout) = (server.log.clone(), server.stdout_buffer());
    assert_eq!(server.stop(), 0);

    // After compaction: Parquet, dedup day files, keys, tokens.
    assert!(!lake::parquet_files(&data).is_empty());
    assert!(data.join("dedup").read_dir().unwrap().count() >= 1);
    scan_data_dir(&data, &[&token]);
    let log = std::fs::read(&log_path).unwrap();
    assert!(
        contains(&log, b"\"level\":\"DEBUG\""),
        "the log should have been written at DEBUG"
    );
    assert_clean("the server log", &log, &[&token]);
    let stdout = stdout.lock().unwrap().clone();
    assert!(stdout.starts_with("listening on "));
    assert_clean("stdout", stdout.as_bytes(), &[&token]);

    // Decoded Parquet values (compression could hide a value from a byte scan) hold no planted
    // string; the person column is the keyed pseudonym, which is not in the log either.
    let rows = read_rows(&data);
    assert_eq!(rows.len(), stored.len());
    for row in &rows {
        let text = format!(
            "{} {} {} {} {} {} {:?}",
            row.event_id,
            row.app_id,
            row.org_unit,
            row.event_type,
            row.trigger,
            row.duration_s,
            row.data_elements
        );
        assert_clean("a stored row", text.as_bytes(), &[]);
        let epoch = keys.epoch_of(row.started_at_ms).label;
        let pseudonym = keys.pseudonym(&epoch, PERSON).unwrap();
        assert_eq!(
            row.person,
            pseudonym.to_vec(),
            "person is HMAC(epoch key, person_ref)"
        );
        assert!(!contains(&row.person, PERSON.as_bytes()));
        let hex: String = pseudonym.iter().map(|b| format!("{b:02x}")).collect();
        assert!(
            !contains(&log, hex.as_bytes()),
            "the log holds the pseudonym"
        );
    }
}
