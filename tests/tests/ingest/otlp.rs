//! `POST /v1/logs` (OTLP/HTTP logs) over real sockets against the real binary: the real
//! Python OpenTelemetry SDK (`BatchLogRecordProcessor` + `OTLPLogExporter`, gzip and not),
//! hand-written OTLP/JSON and protobuf built with the generated messages; the lake must hold
//! exactly what was emitted (pseudonymized, coarsened) and nothing that the mapping drops.
//! Then the OTLP answers: partial success, 400 with a `google.rpc.Status`, 401/403/415, and
//! 429/503 with `Retry-After`, which the SDK honours.

use std::path::{Path, PathBuf};
use std::process::Command;

use fingertip_tests::events::{event, events, gzip, ids, with};
use fingertip_tests::http::{Response, get_metric};
use fingertip_tests::lake::{contains, files_under, id_counts};
use fingertip_tests::otlp::{
    self, DROPPED, JSON, PROTOBUF, assert_stored, emit_spec, post_logs, run_python,
};
use fingertip_tests::server::{Server, create_token, start_fresh};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use prost::Message;
use serde_json::{Value, json};

const APP: &str = "attendance";

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Runs `tests/python/otel_emit.py` for `emitted`; every export must succeed.
fn emit_with_sdk(server: &Server, token: &str, emitted: &[Value], extra: &[&str]) -> Value {
    let spec = server.data.with_extension("records.json");
    std::fs::write(&spec, emit_spec(emitted).to_string()).unwrap();
    let endpoint = format!("http://{}/v1/logs", server.addr);
    let mut args = vec![endpoint.as_str(), token, spec.to_str().unwrap()];
    args.extend(extra);
    let out = run_python(&repo_file("tests/python/otel_emit.py"), &args);
    let exports = out["exports"].as_array().expect("exports");
    assert!(
        !exports.is_empty() && exports.iter().all(|e| e == "SUCCESS"),
        "{out}"
    );
    assert_eq!(out["records"], json!(emitted.len()), "{out}");
    out
}

/// No file of the data directory (nor the server's log, when given) holds text the mapping
/// must drop, or a `person_ref` of `emitted`.
fn assert_nothing_dropped_is_stored(data: &Path, log: Option<&Path>, emitted: &[Value]) {
    let files = files_under(data);
    assert!(!files.is_empty());
    let refs = emitted.iter().map(|e| e["person_ref"].as_str().unwrap());
    let needles: Vec<&str> = refs.chain([DROPPED]).collect();
    for file in files.iter().map(PathBuf::as_path).chain(log) {
        let bytes = std::fs::read(file).unwrap();
        for needle in &needles {
            assert!(
                !contains(&bytes, needle.as_bytes()),
                "{} holds {needle:?}",
                file.display()
            );
        }
    }
}

/// Events with integer durations for odd `n` (sent as `intValue`), doubles for even.
fn mixed_events(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let e = event(i);
            match i % 2 {
                1 => {
                    let d = e["duration_s"].as_f64().unwrap() as i64;
                    with(e, "duration_s", json!(d))
                }
                _ => e,
            }
        })
        .collect()
}

#[test]
fn the_python_sdk_batches_arrive_as_emitted_with_and_without_gzip() {
    for gzip in [false, true] {
        let (_tmp, server, token) = start_fresh(APP, &[]);
        let emitted = mixed_events(23);
        let flag: &[&str] = if gzip { &["--gzip"] } else { &[] };
        let out = emit_with_sdk(
            &server,
            &token,
            &emitted,
            &[flag, &["--batch", "5"]].concat(),
        );
        assert!(out["exports"].as_array().unwrap().len() >= 5, "{out}");
        let (data, log) = (server.data.clone(), server.log.clone());
        assert_eq!(server.stop(), 0);
        assert_stored(&data, APP, &emitted);
        assert_nothing_dropped_is_stored(&data, Some(&log), &emitted);
    }
}

#[test]
fn hand_written_json_and_generated_protobuf_are_stored() {
    let (_tmp, server, token) = start_fresh(APP, &[]);
    let (a, b, c) = (mixed_events(7), mixed_events(6), mixed_events(5));
    let cases = [
        (JSON, None, otlp::json_body(&a)),
        (PROTOBUF, None, otlp::protobuf_body(&b)),
        (PROTOBUF, Some("gzip"), gzip(&otlp::protobuf_body(&c))),
    ];
    for (content_type, encoding, body) in cases {
        let r = post_logs(server.addr, Some(&token), content_type, encoding, &body);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("content-type"), Some(content_type));
        assert_full_success(&r, content_type);
    }
    let (data, log) = (server.data.clone(), server.log.clone());
    assert_eq!(server.stop(), 0);
    let all = [a, b, c].concat();
    assert_stored(&data, APP, &all);
    assert_nothing_dropped_is_stored(&data, Some(&log), &all);
}

#[test]
fn protobufs_own_json_printer_is_read_including_omitted_defaults() {
    let (_tmp, server, token) = start_fresh(APP, &[]);
    let emitted = mixed_events(6); // odd events have no data elements: `{"arrayValue": {}}`
    let spec = server.data.with_extension("records.json");
    std::fs::write(&spec, emit_spec(&emitted).to_string()).unwrap();
    let json = run_python(
        &repo_file("tests/python/otlp_json.py"),
        &[spec.to_str().unwrap()],
    );
    assert!(json.to_string().contains(r#"{"arrayValue":{}}"#), "{json}");
    let body = json.to_string().into_bytes();
    let r = post_logs(server.addr, Some(&token), JSON, None, &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_full_success(&r, JSON);
    let data = server.data.clone();
    assert_eq!(server.stop(), 0);
    assert_stored(&data, APP, &emitted);
}

/// A 200 without `partial_success` (or with an empty one).
fn assert_full_success(r: &Response, content_type: &str) {
    if content_type == PROTOBUF {
        let answer = ExportLogsServiceResponse::decode(&r.body[..]).expect("protobuf answer");
        assert_eq!(
            answer
                .partial_success
                .unwrap_or_default()
                .rejected_log_records,
            0
        );
    } else {
        assert_eq!(r.json(), json!({}), "{}", r.text());
    }
}

/// `(rejected_log_records, error_message)` of a 200 answer.
fn partial_success(r: &Response, content_type: &str) -> (i64, String) {
    assert_eq!(r.status, 200, "{}", r.text());
    if content_type == PROTOBUF {
        let p = ExportLogsServiceResponse::decode(&r.body[..])
            .expect("protobuf answer")
            .partial_success
            .expect("partial_success");
        (p.rejected_log_records, p.error_message)
    } else {
        let p = &r.json()["partialSuccess"];
        let n = p["rejectedLogRecords"].as_str().expect("int64 as a string");
        (
            n.parse().unwrap(),
            p["errorMessage"].as_str().unwrap().into(),
        )
    }
}

#[test]
fn invalid_records_are_counted_in_partial_success_and_the_rest_stored() {
    let (_tmp, server, token) = start_fresh(APP, &[]);
    let mut stored = Vec::new();
    for content_type in [PROTOBUF, JSON] {
        let good = events(3);
        let batch = vec![
            good[0].clone(),
            with(event(1), "event_type", json!("teleport")),
            good[1].clone(),
            with(event(2), "org_unit", json!("a/b")),
            with(event(3), "duration_s", json!("long")),
            good[2].clone(),
        ];
        let body = body_of(content_type, &batch);
        let r = post_logs(server.addr, Some(&token), content_type, None, &body);
        let (rejected, message) = partial_success(&r, content_type);
        assert_eq!(rejected, 3, "{message}");
        for expected in [
            "record 1: unknown_event_type (fingertip.event_type)",
            "record 3: invalid_org_unit (fingertip.org_unit)",
            "record 4: wrong_type (fingertip.duration_s)",
        ] {
            assert!(message.contains(expected), "{message}");
        }
        // Re-sent (an exporter retrying): stored once, a full success.
        let r = post_logs(server.addr, Some(&token), content_type, None, &body);
        assert_eq!(partial_success(&r, content_type).0, 3);
        // Only invalid records: still a 200 (OTLP has no per-record 4xx), all counted.
        let bad = [with(event(4), "trigger", json!("forced"))];
        let r = post_logs(
            server.addr,
            Some(&token),
            content_type,
            None,
            &body_of(content_type, &bad),
        );
        assert_eq!(partial_success(&r, content_type).0, 1);
        stored.extend(good);
    }
    // A record without time_unix_nano has no started_at.
    let mut request = otlp::request_of(&events(1));
    request.resource_logs[0].scope_logs[0].log_records[0].time_unix_nano = 0;
    let r = post_logs(
        server.addr,
        Some(&token),
        PROTOBUF,
        None,
        &request.encode_to_vec(),
    );
    let (_, message) = partial_success(&r, PROTOBUF);
    assert!(
        message.contains("missing_field (time_unix_nano)"),
        "{message}"
    );
    let counts = id_counts(&server.data);
    let data = server.data.clone();
    assert_eq!(server.stop(), 0);
    assert!(counts.values().all(|n| *n == 1));
    assert_stored(&data, APP, &stored);
}

fn body_of(content_type: &str, events: &[Value]) -> Vec<u8> {
    match content_type {
        PROTOBUF => otlp::protobuf_body(events),
        _ => otlp::json_body(events),
    }
}

/// `(gRPC code, message)` of a `google.rpc.Status` answer in the request's encoding.
fn status_of(r: &Response, content_type: &str) -> (i32, String) {
    assert_eq!(r.header("content-type"), Some(content_type), "{}", r.text());
    if content_type == PROTOBUF {
        #[derive(Clone, PartialEq, prost::Message)]
        struct Status {
            #[prost(int32, tag = "1")]
            code: i32,
            #[prost(string, tag = "2")]
            message: String,
        }
        let s = Status::decode(&r.body[..]).expect("a google.rpc.Status");
        (s.code, s.message)
    } else {
        let v = r.json();
        (
            v["code"].as_i64().unwrap() as i32,
            v["message"].as_str().unwrap().into(),
        )
    }
}

fn assert_status(r: &Response, status: u16, content_type: &str, code: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    let (_, message) = status_of(r, content_type);
    assert!(message.starts_with(&format!("{code}: ")), "{message}");
}

/// Content type, encoding, body, expected status and code.
type Case<'a> = (&'a str, Option<&'a str>, &'a [u8], u16, &'a str);

#[test]
fn undecodable_bodies_and_bad_credentials_are_refused_in_the_otlp_way() {
    let (tmp, server, token) = start_fresh(APP, &[]);
    let researcher = create_token(&tmp.path().join("data"), "researcher", None);
    let good = otlp::protobuf_body(&events(1));
    let cases: [Case; 6] = [
        (
            PROTOBUF,
            None,
            b"\x0a\xff\xff\xff\x0f garbage",
            400,
            "malformed_otlp",
        ),
        (
            PROTOBUF,
            None,
            &good[..good.len() - 3],
            400,
            "malformed_otlp",
        ),
        (JSON, None, b"{\"resourceLogs\": [", 400, "malformed_otlp"),
        (JSON, None, b"{\"resourceLogs\": 7}", 400, "malformed_otlp"),
        (PROTOBUF, Some("gzip"), b"not gzip", 400, "bad_encoding"),
        (PROTOBUF, Some("br"), &good, 415, "unsupported_encoding"),
    ];
    for (content_type, encoding, body, status, code) in cases {
        let r = post_logs(server.addr, Some(&token), content_type, encoding, body);
        assert_status(&r, status, content_type, code);
    }
    let r = post_logs(server.addr, Some(&token), "text/plain", None, &good);
    assert_status(&r, 415, JSON, "unsupported_media_type");
    let r = post_logs(server.addr, None, PROTOBUF, None, &good);
    assert_status(&r, 401, PROTOBUF, "missing_token");
    assert_eq!(status_of(&r, PROTOBUF).0, 16, "UNAUTHENTICATED");
    let r = post_logs(server.addr, Some("ft_nope_nope"), JSON, None, &good);
    assert_status(&r, 401, JSON, "invalid_token");
    let r = post_logs(server.addr, Some(&researcher), PROTOBUF, None, &good);
    assert_status(&r, 403, PROTOBUF, "wrong_role");
    let data = server.data.clone();
    assert_eq!(server.stop(), 0);
    assert!(id_counts(&data).is_empty(), "nothing was stored");
}

#[test]
fn over_the_rate_the_answer_is_429_with_retry_after_and_the_sdk_honours_it() {
    let env = [
        ("FINGERTIP__SERVER__RATE_LIMIT_EVENTS_PER_S", "2"),
        ("FINGERTIP__SERVER__RATE_LIMIT_BURST_EVENTS", "2"),
    ];
    let (_tmp, server, token) = start_fresh(APP, &env);
    let first = events(3);
    let r = post_logs(
        server.addr,
        Some(&token),
        PROTOBUF,
        None,
        &otlp::protobuf_body(&first),
    );
    assert_full_success(&r, PROTOBUF);
    let r = post_logs(
        server.addr,
        Some(&token),
        PROTOBUF,
        None,
        &otlp::protobuf_body(&events(1)),
    );
    assert_status(&r, 429, PROTOBUF, "rate_limited");
    assert_eq!(status_of(&r, PROTOBUF).0, 8, "RESOURCE_EXHAUSTED");
    assert_eq!(r.header("retry-after"), Some("1"));
    // The SDK's batches of 5 put the app in debt again: its exporter meets 429s, waits as
    // told, retries, and every record gets in.
    let before = get_metric(server.addr, "fingertip_http_requests_total{status=\"429\"}");
    let later = mixed_events(12);
    emit_with_sdk(&server, &token, &later, &["--batch", "5"]);
    let after = get_metric(server.addr, "fingertip_http_requests_total{status=\"429\"}");
    assert!(
        after > before,
        "the SDK was never refused: {before} → {after}"
    );
    let data = server.data.clone();
    assert_eq!(server.stop(), 0);
    assert_stored(&data, APP, &[first, later].concat());
}

#[test]
fn over_the_memory_budget_the_answer_is_429_overloaded_with_retry_after() {
    let env = [("FINGERTIP__SERVER__MAX_IN_FLIGHT_BODY_BYTES", "2048")];
    let (_tmp, server, token) = start_fresh(APP, &env);
    // OTLP/JSON of mostly empty records: the decoded messages would take far more memory
    // than the body, and that is charged before decoding.
    let records = vec!["{}"; 60].join(",");
    let body = format!("{{\"resourceLogs\":[{{\"scopeLogs\":[{{\"logRecords\":[{records}]}}]}}]}}");
    assert!(body.len() < 1024);
    let r = post_logs(server.addr, Some(&token), JSON, None, body.as_bytes());
    assert_status(&r, 429, JSON, "overloaded");
    assert_eq!(r.header("retry-after"), Some("1"));
    // A real record of the same size fits the same budget.
    let one = otlp::protobuf_body(&events(1));
    assert!(one.len() < 1024);
    let r = post_logs(server.addr, Some(&token), PROTOBUF, None, &one);
    assert_full_success(&r, PROTOBUF);
    assert_eq!(server.stop(), 0);
}

fn prlimit(pid: u32, limits: &str) -> bool {
    Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--fsize={limits}")])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_failing_wal_answers_503_with_retry_after_and_nothing_of_it_is_stored() {
    if Command::new("prlimit").arg("--version").output().is_err() {
        println!("SKIPPED: prlimit (util-linux) is not installed");
        return;
    }
    let env = [
        ("FINGERTIP__STORE__SEGMENT_MAX_AGE_MS", "600000"),
        ("FINGERTIP__STORE__SEGMENT_MAX_BYTES", "1073741824"),
        ("RUST_LOG", "info"),
    ];
    let (_tmp, server, token) = start_fresh(APP, &env);
    assert!(prlimit(server.pid(), "49152:49152"), "prlimit --pid failed");
    let (mut acked, mut refused) = (Vec::new(), Vec::new());
    for _ in 0..120 {
        let batch = events(10);
        let r = post_logs(
            server.addr,
            Some(&token),
            PROTOBUF,
            None,
            &otlp::protobuf_body(&batch),
        );
        match r.status {
            200 => acked.extend(batch),
            _ => {
                assert_status(&r, 503, PROTOBUF, "wal_unavailable");
                assert_eq!(r.header("retry-after"), Some("1"));
                refused.extend(ids(&batch));
                break;
            }
        }
    }
    assert!(!refused.is_empty(), "no write failed");
    // Crash while the limit holds (it cannot be raised again); start again without it.
    let data = server.data.clone();
    server.kill();
    assert_eq!(Server::start(&data, &env).stop(), 0);
    let counts = id_counts(&data);
    assert!(refused.iter().all(|id| !counts.contains_key(id)));
    assert_stored(&data, APP, &acked);
}

#[test]
fn the_operators_example_sends_a_check_in_that_is_stored() {
    let (_tmp, server, token) = start_fresh(APP, &[]);
    let out = Command::new("python3")
        .arg(repo_file("examples/otel_app.py"))
        .env("FINGERTIP_URL", format!("http://{}", server.addr))
        .env("FINGERTIP_TOKEN", &token)
        .output()
        .expect("python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "examples/otel_app.py failed: {stderr}"
    );
    let event_id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let data = server.data.clone();
    assert_eq!(server.stop(), 0);
    let rows = fingertip_tests::lake::read_rows(&data);
    let row = rows.iter().find(|r| r.event_id == event_id);
    let row = row.unwrap_or_else(|| panic!("{event_id} is not in the lake; stderr: {stderr}"));
    assert_eq!(
        (
            row.app_id.as_str(),
            row.event_type.as_str(),
            row.trigger.as_str()
        ),
        (APP, "check_in", "mandatory")
    );
    assert_eq!(row.data_elements, ["location.gps", "photo.selfie"]);
    assert_eq!((row.duration_s, row.started_at_ms % 60_000), (45.0, 0));
}
