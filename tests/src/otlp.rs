//! OTLP logs for `POST /v1/logs`: the events of [`crate::events`] as OTLP log records (built
//! with the generated `opentelemetry-proto` messages, or as OTLP/JSON written by hand, or as
//! the record list `tests/python/otel_emit.py` emits with the real OpenTelemetry SDK), and the
//! check that what the lake holds is what was emitted.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use fingertip_anonymize::{KeyStore, KeysConfig};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::{Value, json};

use crate::http::{Response, request};
use crate::lake::read_rows;

pub const PROTOBUF: &str = "application/x-protobuf";
pub const JSON: &str = "application/json";

/// Text planted in what the mapping drops (body, resource, unknown attributes): it must never
/// reach the data directory.
pub const DROPPED: &str = "DROPPED-TEXT-QX81";

/// `time_unix_nano` of an event's `started_at`, with nanoseconds below the millisecond.
pub fn time_unix_nano(event: &Value) -> u64 {
    let ms = fingertip_model::parse_rfc3339_ms(event["started_at"].as_str().expect("started_at"))
        .expect("RFC 3339");
    ms as u64 * 1_000_000 + 456_789
}

const FIELDS: [&str; 7] = [
    "event_id",
    "person_ref",
    "org_unit",
    "event_type",
    "trigger",
    "duration_s",
    "data_elements",
];

fn any(value: &Value) -> AnyValue {
    use any_value::Value as V;
    let value = match value {
        Value::String(s) => V::StringValue(s.clone()),
        Value::Number(n) if n.is_i64() => V::IntValue(n.as_i64().unwrap_or_default()),
        Value::Number(n) => V::DoubleValue(n.as_f64().unwrap_or_default()),
        Value::Array(items) => V::ArrayValue(ArrayValue {
            values: items.iter().map(any).collect(),
        }),
        other => V::StringValue(other.to_string()),
    };
    AnyValue { value: Some(value) }
}

fn kv(key: &str, value: &Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(any(value)),
        ..Default::default()
    }
}

/// The log record of an event: `fingertip.*` attributes and `time_unix_nano`, plus a body, an
/// unknown attribute and a trace id, all to be dropped.
pub fn log_record(event: &Value) -> LogRecord {
    let mut attributes: Vec<KeyValue> = FIELDS
        .iter()
        .filter(|f| !event[**f].is_null())
        .map(|f| kv(&format!("fingertip.{f}"), &event[*f]))
        .collect();
    attributes.push(kv("user.note", &json!(DROPPED)));
    LogRecord {
        time_unix_nano: time_unix_nano(event),
        severity_text: "INFO".into(),
        body: Some(any(&json!(DROPPED))),
        attributes,
        trace_id: vec![7; 16],
        span_id: vec![9; 8],
        ..Default::default()
    }
}

/// One resource (with a planted attribute) and one scope holding a record per event.
pub fn request_of(events: &[Value]) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("host.name", &json!(DROPPED))],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: events.iter().map(log_record).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn protobuf_body(events: &[Value]) -> Vec<u8> {
    prost::Message::encode_to_vec(&request_of(events))
}

/// OTLP/JSON written by hand as the specification shows it (not by the generated types):
/// lowerCamelCase names, `timeUnixNano` and `intValue` as strings, hex trace ids.
pub fn json_body(events: &[Value]) -> Vec<u8> {
    let records: Vec<Value> = events.iter().map(json_record).collect();
    json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "host.name", "value": {"stringValue": DROPPED}}]},
        "scopeLogs": [{"scope": {"name": "attendance-app"}, "logRecords": records}]
    }]})
    .to_string()
    .into_bytes()
}

fn json_value(value: &Value) -> Value {
    match value {
        Value::Number(n) if n.is_i64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n}),
        Value::Array(items) => {
            json!({"arrayValue": {"values": items.iter().map(json_value).collect::<Vec<_>>()}})
        }
        other => json!({"stringValue": other}),
    }
}

fn json_record(event: &Value) -> Value {
    let mut attributes: Vec<Value> = FIELDS
        .iter()
        .filter(|f| !event[**f].is_null())
        .map(|f| json!({"key": format!("fingertip.{f}"), "value": json_value(&event[*f])}))
        .collect();
    attributes.push(json!({"key": "user.note", "value": {"stringValue": DROPPED}}));
    json!({
        "timeUnixNano": time_unix_nano(event).to_string(),
        "severityNumber": 9,
        "severityText": "INFO",
        "body": {"stringValue": DROPPED},
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "attributes": attributes,
    })
}

/// `POST /v1/logs` with a token (when given), a content type and an optional encoding.
pub fn post_logs(
    addr: SocketAddr,
    token: Option<&str>,
    content_type: &str,
    encoding: Option<&str>,
    body: &[u8],
) -> Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    if let Some(e) = encoding {
        headers.push(("Content-Encoding", e));
    }
    request(addr, "POST", "/v1/logs", &headers, body).expect("request")
}

/// The record list `otel_emit.py` reads: attributes as the SDK takes them, and the time.
pub fn emit_spec(events: &[Value]) -> Value {
    let records: Vec<Value> = events
        .iter()
        .map(|e| {
            let attributes: serde_json::Map<String, Value> = FIELDS
                .iter()
                .filter(|f| !e[**f].is_null())
                .map(|f| (format!("fingertip.{f}"), e[*f].clone()))
                .collect();
            json!({"time_unix_nano": time_unix_nano(e), "attributes": attributes})
        })
        .collect();
    json!(records)
}

/// Runs a Python script of this repository; its stdout parsed as JSON. Fails with a clear
/// message when Python or the OpenTelemetry SDK is missing.
pub fn run_python(script: &Path, args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed to run {} ({e})", script.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() != Some(2),
        "{stderr}\nInstall the OpenTelemetry SDK: `pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http` (scripts/test.sh does)."
    );
    assert!(
        out.status.success(),
        "{} failed: {stderr}",
        script.display()
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{} printed no JSON ({e}): {}\n{stderr}",
            script.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Asserts that the lake holds every emitted event exactly once, field by field as stored:
/// the token's app, `started_at` coarsened to the minute, and the keyed pseudonym of
/// `person_ref` in place of it.
pub fn assert_stored(data: &Path, app: &str, emitted: &[Value]) {
    let rows = read_rows(data);
    let mut by_id: BTreeMap<&str, Vec<_>> = BTreeMap::new();
    for row in &rows {
        by_id.entry(row.event_id.as_str()).or_default().push(row);
    }
    let keys = KeyStore::open(data, KeysConfig::default()).expect("key store");
    for e in emitted {
        let id = e["event_id"].as_str().expect("event_id");
        let found = by_id.get(id).map(Vec::as_slice).unwrap_or_default();
        assert_eq!(found.len(), 1, "event {id} is stored {} times", found.len());
        let row = found[0];
        let ms = fingertip_model::parse_rfc3339_ms(e["started_at"].as_str().unwrap()).unwrap();
        let started_at_ms = fingertip_model::coarsen_ms(ms, 60);
        let epoch = keys.epoch_of(started_at_ms).label;
        let person = keys
            .pseudonym(&epoch, e["person_ref"].as_str().unwrap())
            .unwrap();
        let elements: Vec<String> = e["data_elements"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default();
        let expected = (
            app,
            e["org_unit"].as_str().unwrap(),
            e["event_type"].as_str().unwrap(),
            e["trigger"].as_str().unwrap_or("unknown"),
            started_at_ms,
            e["duration_s"].as_f64().unwrap_or(0.0),
            elements,
            person.to_vec(),
        );
        let stored = (
            row.app_id.as_str(),
            row.org_unit.as_str(),
            row.event_type.as_str(),
            row.trigger.as_str(),
            row.started_at_ms,
            row.duration_s,
            row.data_elements.clone(),
            row.person.clone(),
        );
        assert_eq!(stored, expected, "event {id}");
    }
    assert_eq!(rows.len(), emitted.len(), "the lake holds other rows too");
}
