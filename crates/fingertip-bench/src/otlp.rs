//! The same bodies as OTLP/HTTP logs (`POST /v1/logs`, protobuf): each `{"events": [...]}`
//! template becomes one `ExportLogsServiceRequest` with a log record per event (the fields as
//! `fingertip.*` attributes, `started_at` as `time_unix_nano`), and its event ids, which are
//! 36 contiguous bytes in protobuf too, are patched per request exactly as in JSON.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use serde_json::Value;

use crate::bodies::Template;

/// The OTLP protobuf form of a JSON template.
pub fn to_otlp(template: &Template) -> Template {
    let parsed: Value = serde_json::from_slice(&template.json).unwrap_or_default();
    let events = parsed["events"].as_array().cloned().unwrap_or_default();
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: events.iter().map(log_record).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let body = request.encode_to_vec();
    let mut id_offsets = Vec::with_capacity(events.len());
    let mut from = 0;
    for e in &events {
        let id = e["event_id"].as_str().unwrap_or_default().as_bytes();
        if let Some(at) = body[from..].windows(id.len()).position(|w| w == id) {
            id_offsets.push(from + at);
            from += at + id.len();
        }
    }
    Template {
        app_id: template.app_id.clone(),
        json: body,
        id_offsets,
    }
}

fn log_record(e: &Value) -> LogRecord {
    let text = |f: &str| string(e[f].as_str().unwrap_or_default());
    let elements = e["data_elements"].as_array().into_iter().flatten();
    let elements = elements.map(|v| AnyValue {
        value: Some(string(v.as_str().unwrap_or_default())),
    });
    let list = any_value::Value::ArrayValue(ArrayValue {
        values: elements.collect(),
    });
    let duration = any_value::Value::DoubleValue(e["duration_s"].as_f64().unwrap_or_default());
    let started = e["started_at"].as_str().unwrap_or_default();
    let ms = fingertip_model::parse_rfc3339_ms(started).unwrap_or_default();
    let attributes = [
        ("event_id", text("event_id")),
        ("person_ref", text("person_ref")),
        ("org_unit", text("org_unit")),
        ("event_type", text("event_type")),
        ("trigger", text("trigger")),
        ("duration_s", duration),
        ("data_elements", list),
    ];
    LogRecord {
        time_unix_nano: ms.max(0) as u64 * 1_000_000,
        attributes: attributes.into_iter().map(|(k, v)| kv(k, v)).collect(),
        ..Default::default()
    }
}

fn string(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.to_string())
}

fn kv(field: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: format!("fingertip.{field}"),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// Records acknowledged by a `200` answer: all but `partial_success.rejected_log_records`.
pub fn accepted(body: &[u8], events: u64) -> Option<u64> {
    let answer = ExportLogsServiceResponse::decode(body).ok()?;
    let rejected = answer.partial_success.map_or(0, |p| p.rejected_log_records);
    Some(events.saturating_sub(rejected.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bodies::{BodyOptions, IdSource, simulate_bodies};

    #[test]
    fn otlp_bodies_carry_the_same_events_with_patched_ids() {
        let options = BodyOptions {
            workers: 50,
            seed: 7,
            distribution: fingertip_sim::Distribution::Realistic,
            batch: 10,
            max_events: 2_000,
            recent: true,
            now_ms: 1_795_000_000_000,
        };
        let json = &simulate_bodies(&options)[0];
        let otlp = to_otlp(json);
        assert_eq!(otlp.events(), 10);
        let (mut a, mut b) = (IdSource::new(9, 1), IdSource::new(9, 1));
        let (mut json_body, mut otlp_body) = (Vec::new(), Vec::new());
        json.render(&mut a, &mut json_body);
        otlp.render(&mut b, &mut otlp_body);
        let events: Value = serde_json::from_slice(&json_body).unwrap();
        let request = ExportLogsServiceRequest::decode(&otlp_body[..]).unwrap();
        let records = &request.resource_logs[0].scope_logs[0].log_records;
        for (e, r) in events["events"].as_array().unwrap().iter().zip(records) {
            let id = match &r.attributes[0].value.as_ref().unwrap().value {
                Some(any_value::Value::StringValue(s)) => s.clone(),
                _ => panic!("no id"),
            };
            assert_eq!(e["event_id"].as_str().unwrap(), id);
        }
        assert_eq!(accepted(&[], 10), Some(10));
    }
}
