//! `POST /v1/events` over real sockets against the real binary: every error path and its
//! stable code, each role, JSON / NDJSON / gzip / zstd, partial acceptance, de-duplication
//! (within a batch, across a graceful restart and across a crash), and the health and
//! metrics endpoints.

use std::collections::BTreeSet;
use std::time::Duration;

use fingertip_tests::events::{self, event, events, gzip, ids, json_body, ndjson_body, with, zstd};
use fingertip_tests::http::{self, Response, get, get_metric, post_body, post_events, request};
use fingertip_tests::lake::{self, id_counts, read_rows};
use fingertip_tests::server::{Server, create_token, revoke_token, start_fresh, wait_until};
use serde_json::{Value, json};

const JSON: &str = "application/json";
const NDJSON: &str = "application/x-ndjson";

/// Asserts an error answer: status, JSON content type, `{"error": {"code", "message"}}`.
fn assert_error(r: &Response, status: u16, code: &str) {
    assert_eq!(
        r.status,
        status,
        "expected {status} {code}, got {}: {}",
        r.status,
        r.text()
    );
    assert_eq!(
        r.header("content-type"),
        Some("application/json"),
        "{}",
        r.text()
    );
    assert_eq!(r.error_code(), code, "{}", r.text());
    let message = r.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!message.is_empty(), "error without a message: {}", r.text());
}

fn post(server: &Server, token: &str, events: &[Value]) -> Response {
    post_events(server.addr, token, &json!({ "events": events }))
}

/// 202 with exactly these counts and no rejections.
fn assert_accepted(r: &Response, accepted: u64, duplicates: u64) {
    assert_eq!(r.status, 202, "{}", r.text());
    let body = r.json();
    assert_eq!(
        (body["accepted"].as_u64(), body["duplicates"].as_u64()),
        (Some(accepted), Some(duplicates)),
        "{body}"
    );
    assert_eq!(body["rejected"], json!([]), "{body}");
}

fn post_with_auth(server: &Server, path: &str, auth: Option<&str>, body: &[u8]) -> Response {
    let mut headers = vec![("Content-Type", JSON)];
    if let Some(a) = auth {
        headers.push(("Authorization", a));
    }
    request(server.addr, "POST", path, &headers, body).expect("request")
}

#[test]
fn health_ready_and_metrics_move() {
    let (_tmp, server, token) = start_fresh("attendance", &[]);
    let health = get(server.addr, "/healthz", None);
    assert_eq!(
        (health.status, health.json()["status"].as_str()),
        (200, Some("ok"))
    );
    let ready = get(server.addr, "/readyz", None);
    assert_eq!(
        (ready.status, ready.json()["status"].as_str()),
        (200, Some("ready")),
        "{}",
        ready.text()
    );
    let metrics = get(server.addr, "/metrics", None);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    let text = metrics.text();
    for name in [
        "fingertip_events_accepted_total",
        "fingertip_wal_fsyncs_total",
        "fingertip_wal_writable",
        "fingertip_compaction_pending_segments",
        "fingertip_wal_quarantined_segments_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} missing from /metrics"
        );
    }
    assert_eq!(http::metric(&text, "fingertip_wal_writable"), Some(1.0));
    let before_202 = get_metric(server.addr, "fingertip_http_requests_total{status=\"202\"}");
    let before_401 = get_metric(server.addr, "fingertip_http_requests_total{status=\"401\"}");
    let mut batch = events(7);
    batch.push(with(event(1), "event_type", json!("teleport")));
    let r = post(&server, &token, &batch);
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(post(&server, "ft_00000000_nope", &batch).status, 401);
    assert_eq!(
        get_metric(server.addr, "fingertip_events_accepted_total"),
        7.0
    );
    assert_eq!(
        get_metric(
            server.addr,
            "fingertip_events_rejected_total{reason=\"unknown_event_type\"}"
        ),
        1.0
    );
    assert_eq!(
        get_metric(server.addr, "fingertip_http_requests_total{status=\"202\"}"),
        before_202 + 1.0
    );
    assert_eq!(
        get_metric(server.addr, "fingertip_http_requests_total{status=\"401\"}"),
        before_401 + 1.0
    );
    assert!(get_metric(server.addr, "fingertip_wal_records_total") >= 1.0);
    assert!(get_metric(server.addr, "fingertip_wal_fsync_seconds_count") >= 1.0);
    assert!(get_metric(server.addr, "fingertip_http_request_bytes_total") > 0.0);
    post(&server, &token, &batch[..3]);
    assert_eq!(
        get_metric(server.addr, "fingertip_events_duplicate_total"),
        3.0
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn missing_malformed_and_unknown_tokens_get_401() {
    let (_tmp, server, _token) = start_fresh("attendance", &[]);
    let body = json_body(&events(1));
    assert_error(
        &post_with_auth(&server, "/v1/events", None, &body),
        401,
        "missing_token",
    );
    assert_error(
        &post_with_auth(&server, "/v1/events", Some("Basic dXNlcjpwYXNz"), &body),
        401,
        "missing_token",
    );
    assert_error(
        &post_with_auth(
            &server,
            "/v1/events",
            Some("Bearer ft_deadbeef_0123"),
            &body,
        ),
        401,
        "invalid_token",
    );
    assert_error(
        &post_with_auth(&server, "/v1/events", Some("Bearer not-a-token"), &body),
        401,
        "invalid_token",
    );
    assert_error(
        &post_with_auth(&server, "/v1/query", None, b"{}"),
        401,
        "missing_token",
    );
    assert_error(
        &get(server.addr, "/v1/indices", Some("ft_deadbeef_0123")),
        401,
        "invalid_token",
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn each_role_only_reaches_its_routes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let app = create_token(&data, "app", Some("attendance"));
    let researcher = create_token(&data, "researcher", None);
    let oversight = create_token(&data, "oversight", None);
    let server = Server::start(&data, &[]);
    let body = json_body(&events(2));
    for token in [&researcher, &oversight] {
        let r = post_body(server.addr, token, JSON, None, &body).unwrap();
        assert_error(&r, 403, "wrong_role");
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("app token"),
            "{}",
            r.text()
        );
    }
    let query = br#"{"sql": "SELECT COUNT(*) FROM events", "epsilon": 0.5}"#;
    assert_error(
        &post_with_auth(&server, "/v1/query", Some(&format!("Bearer {app}")), query),
        403,
        "wrong_role",
    );
    assert_error(
        &post_with_auth(
            &server,
            "/v1/query",
            Some(&format!("Bearer {oversight}")),
            query,
        ),
        403,
        "wrong_role",
    );
    assert_error(
        &get(server.addr, "/v1/indices", Some(&app)),
        403,
        "wrong_role",
    );
    assert_error(
        &get(server.addr, "/v1/indices", Some(&researcher)),
        403,
        "wrong_role",
    );
    assert_accepted(
        &post_body(server.addr, &app, JSON, None, &body).unwrap(),
        2,
        0,
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn a_revoked_token_is_refused_by_the_running_server() {
    let (_tmp, server, token) = start_fresh("attendance", &[]);
    assert_accepted(&post(&server, &token, &events(1)), 1, 0);
    revoke_token(&server.data, &token);
    let mut last = None;
    let refused = wait_until(Duration::from_secs(3), || {
        let r = post(&server, &token, &events(1));
        let done = r.status == 401;
        last = Some(r);
        done
    });
    let last = last.unwrap();
    assert!(
        refused,
        "revoked token still accepted after 3 s: {} {}",
        last.status,
        last.text()
    );
    assert_error(&last, 401, "invalid_token");
    assert_eq!(server.stop(), 0);
}

#[test]
fn unknown_routes_404_and_wrong_methods_405() {
    let (_tmp, server, token) = start_fresh("attendance", &[]);
    assert_error(&get(server.addr, "/nope", None), 404, "not_found");
    assert_error(
        &get(server.addr, "/v1/events/extra", Some(&token)),
        404,
        "not_found",
    );
    assert_error(
        &get(server.addr, "/v1/events", Some(&token)),
        405,
        "method_not_allowed",
    );
    assert_error(
        &request(server.addr, "DELETE", "/healthz", &[], b"").unwrap(),
        405,
        "method_not_allowed",
    );
    assert_error(
        &request(server.addr, "PUT", "/v1/events", &[], b"{}").unwrap(),
        405,
        "method_not_allowed",
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn unsupported_content_types_and_encodings_get_415() {
    let (_tmp, server, token) = start_fresh("attendance", &[]);
    let body = json_body(&events(1));
    for ct in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "",
    ] {
        assert_error(
            &post_body(server.addr, &token, ct, None, &body).unwrap(),
            415,
            "unsupported_media_type",
        );
    }
    for enc in ["br", "deflate", "gzip, zstd", "compress"] {
        assert_error(
            &post_body(server.addr, &token, JSON, Some(enc), &body).unwrap(),
            415,
            "unsupported_encoding",
        );
    }
    assert_accepted(
        &post_body(
            server.addr,
            &token,
            "application/json; charset=utf-8",
            Some("identity"),
            &body,
        )
        .unwrap(),
        1,
        0,
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn malformed_bodies_get_400() {
    let (_tmp, server, token) = start_fresh("attendance", &[]);
    let cases: [(&str, Option<&str>, Vec<u8>, &str); 9] = [
        (JSON, None, b"{\"events\": [".to_vec(), "malformed_json"),
        (JSON, None, b"not json at all".to_vec(), "malformed_json"),
        (
            JSON,
            None,
            b"[{\"event_id\": \"x\"}]".to_vec(),
            "malformed_json",
        ),
        (JSON, None, b"{\"events\": {}}".to_vec(), "malformed_json"),
        (
            JSON,
            None,
            b"{\"events\": [], \"batch\": 1}".to_vec(),
            "malformed_json",
        ),
        (
            JSON,
            None,
            b"{\"events\": [{\"event_id\": \"\xff\xfe\"}]}".to_vec(),
            "invalid_utf8",
        ),
        (
            NDJSON,
            None,
            b"{\"event_type\": \"login\"}\n\xc3\x28\n".to_vec(),
            "invalid_utf8",
        ),
        (
            JSON,
            Some("gzip"),
            b"this is not gzip".to_vec(),
            "bad_encoding",
        ),
        (
            JSON,
            Some("zstd"),
            b"this is not zstd either".to_vec(),
            "bad_encoding",
        ),
    ];
    for (ct, enc, body, code) in cases {
        let r = post_body(server.addr, &token, ct, enc, &body).unwrap();
        assert_error(&r, 400, code);
    }
    let mut truncated = gzip(&json_body(&events(20)));
    truncated.truncate(truncated.len() / 2);
    assert_error(
        &post_body(server.addr, &token, JSON, Some("gzip"), &truncated).unwrap(),
        400,
        "bad_encoding",
    );
    assert_eq!(
        get_metric(server.addr, "fingertip_events_accepted_total"),
        0.0
    );
    assert_eq!(server.stop(), 0);
}

#[test]
fn a_batch_with_nothing_valid_gets_422_with_every_reason() {
    let (_tmp, server, token) = start_fresh("attendance", &[]);
    let batch = vec![
        with(event(0), "event_type", json!("teleport")),
        with(event(1), "event_id", json!("not-a-uuid")),
        with(event(2), "person_ref", Value::Null),
        with(event(3), "started_at", json!("2001-01-01T00:00:00Z")),
        with(event(4), "duration_s", json!(-5)),
        with(event(5), "surprise", json!("extra")),
        json!("not an object"),
    ];
    let r = post(&server, &token, &batch);
    assert_error(&r, 422, "no_valid_events");
    let rejected = r.json()["error"]["rejected"].clone();
    let got: Vec<(u64, String, String)> = rejected
        .as_array()
        .expect("rejected list")
        .iter()
        .map(|x| {
            (
                x["index"].as_u64().unwrap(),
                x["code"].as_str().unwrap().to_string(),
                x["field"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        (0, "unknown_event_type", "event_type"),
        (1, "invalid_event_id", "event_id"),
        (2, "missing_field", "person_ref"),
        (3, "timestamp_too_old", "started_at"),
        (4, "invalid_duration", "duration_s"),
        (5, "unknown_field", "event"),
        (6, "not_an_object", "event"),
    ];
    let want: Vec<(u64, String, String)> = want
        .iter()
        .map(|(i, c, f)| (*i, c.to_string(), f.to_string()))
        .collect();
    assert_eq!(got, want);
    assert!(
        rejected
            .as_array()
            .unwrap()
            .iter()
            .all(|x| !x["message"].as_str().unwrap_or_default().is_empty())
    );
    assert_error(&post(&server, &token, &[]), 422, "no_valid_events");
    assert_eq!(server.stop(), 0);
}

#[test]
fn a_mixed_batch_stores_the_valid_events_and_lists_the_rest() {
    let (_tmp, server, token) = start_fresh("attendance", &[]);
    let future = fingertip_model::format_rfc3339_ms(events::now_ms() + 3_600_000);
    let batch = vec![
        event(0),
        with(event(1), "event_type", json!("teleport")),
        event(2),
        with(event(3), "event_id", json!("1234")),
        with(event(4), "started_at", json!(future)),
        event(5),
        with(event(6), "org_unit", json!("unit/7")),
        with(event(7), "data_elements", json!(["ok", "not ok"])),
        with(
            with(event(8), "event_type", json!("login")),
            "duration_s",
            json!(601),
        ),
    ];
    let r = post(&server, &token, &batch);
    assert_eq!(r.status, 202, "{}", r.text());
    let body = r.json();
    assert_eq!(
        (body["accepted"].as_u64(), body["duplicates"].as_u64()),
        (Some(3), Some(0)),
        "{body}"
    );
    let rejected: Vec<(u64, &str)> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["index"].as_u64().unwrap(), x["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        [
            (1, "unknown_event_type"),
            (3, "invalid_event_id"),
            (4, "timestamp_in_future"),
            (6, "invalid_org_unit"),
            (7, "invalid_data_element"),
            (8, "duration_over_max")
        ]
    );
    assert_eq!(server.stop(), 0);
    let stored: BTreeSet<String> = read_rows(&_tmp.path().join("data"))
        .into_iter()
        .map(|r| r.event_id)
        .collect();
    let valid: BTreeSet<String> = [0, 2, 5]
        .iter()
        .map(|i| batch[*i]["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored, valid);
}

#[test]
fn ndjson_gzip_and_zstd_bodies_are_accepted() {
    let (tmp, server, token) = start_fresh("survey", &[]);
    let mut sent = Vec::new();
    // NDJSON with a blank line and a malformed line: the line is one rejected event.
    let batch = events(5);
    let mut body = ndjson_body(&batch[..2]);
    body.extend_from_slice(b"\n{\"event_id\": broken\n");
    body.extend_from_slice(&ndjson_body(&batch[2..]));
    let r = post_body(server.addr, &token, NDJSON, None, &body).unwrap();
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["accepted"], 5);
    assert_eq!(
        r.json()["rejected"],
        json!([{"index": 2, "code": "malformed_json", "field": "event", "message": "the line is not valid JSON"}])
    );
    sent.extend(ids(&batch));
    for (ct, enc) in [
        (JSON, "gzip"),
        (JSON, "zstd"),
        (NDJSON, "gzip"),
        (NDJSON, "zstd"),
        ("application/x-ndjson; charset=utf-8", "x-gzip"),
        (JSON, "ZSTD"),
    ] {
        let batch = events(40);
        let plain = if ct.starts_with(JSON) {
            json_body(&batch)
        } else {
            ndjson_body(&batch)
        };
        let encoded = if enc.eq_ignore_ascii_case("zstd") {
            zstd(&plain)
        } else {
            gzip(&plain)
        };
        assert!(encoded.len() < plain.len());
        assert_accepted(
            &post_body(server.addr, &token, ct, Some(enc), &encoded).unwrap(),
            40,
            0,
        );
        sent.extend(ids(&batch));
    }
    assert_eq!(
        get_metric(server.addr, "fingertip_events_accepted_total"),
        sent.len() as f64
    );
    assert_eq!(server.stop(), 0);
    let counts = id_counts(&tmp.path().join("data"));
    assert_eq!(counts.len(), sent.len());
    assert!(sent.iter().all(|id| counts.get(id) == Some(&1)));
}

#[test]
fn app_id_in_the_body_is_ignored() {
    let (tmp, server, token) = start_fresh("attendance", &[]);
    let batch: Vec<Value> = (0..4)
        .map(|i| with(event(i), "app_id", json!("someone-else")))
        .collect();
    assert_accepted(&post(&server, &token, &batch), 4, 0);
    assert_eq!(server.stop(), 0);
    let rows = read_rows(&tmp.path().join("data"));
    assert_eq!(rows.len(), 4);
    for row in &rows {
        assert_eq!(row.app_id, "attendance");
        let dir = row
            .file
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(dir, "app_id=attendance");
    }
}

#[test]
fn resent_events_are_duplicates_within_a_batch_across_restarts_and_crashes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let token = create_token(&data, "app", Some("attendance"));
    let other = create_token(&data, "app", Some("survey"));
    let keep_wal = [("FINGERTIP__STORE__SEGMENT_MAX_AGE_MS", "600000")];
    let server = Server::start(&data, &keep_wal);
    let first = events(10);
    let mut twice = first[..3].to_vec();
    twice.push(first[0].clone());
    assert_accepted(&post(&server, &token, &twice), 3, 1);
    assert_accepted(&post(&server, &token, &first), 7, 3);
    assert_accepted(&post(&server, &token, &first), 0, 10);
    // Dedup is per app: the same event id from another app is a different event.
    assert_accepted(&post(&server, &other, &first[..2]), 2, 0);
    assert_eq!(server.stop(), 0);
    assert!(
        lake::wal_segments(&data).is_empty(),
        "a graceful stop compacts the whole WAL"
    );

    // Across a graceful restart: the keys come from the dedup day files.
    let server = Server::start(&data, &keep_wal);
    assert_accepted(&post(&server, &token, &first), 0, 10);
    let second = events(10);
    assert_accepted(&post(&server, &token, &second), 10, 0);
    server.kill();
    assert!(
        !lake::wal_segments(&data).is_empty(),
        "the crash left the WAL"
    );

    // Across a crash: the keys come from WAL replay.
    let server = Server::start(&data, &keep_wal);
    assert_accepted(&post(&server, &token, &second), 0, 10);
    assert_accepted(&post(&server, &token, &first[..5]), 0, 5);
    let third = events(10);
    assert_accepted(&post(&server, &token, &third), 10, 0);
    assert_eq!(server.stop(), 0);

    let rows = read_rows(&data);
    let counts = id_counts(&data);
    for id in ids(&first).iter().chain(&ids(&second)).chain(&ids(&third)) {
        let n = rows
            .iter()
            .filter(|r| &r.event_id == id && r.app_id == "attendance")
            .count();
        assert_eq!(n, 1, "event {id} is stored {n} times for attendance");
    }
    assert_eq!(rows.len(), 32, "{counts:?}");
}
