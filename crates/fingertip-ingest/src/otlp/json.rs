//! OTLP/JSON (`application/json`): decoded into the generated `opentelemetry-proto` messages,
//! whose serde form is the OTLP/JSON encoding (lowerCamelCase names, 64-bit integers as
//! strings or numbers, hex trace ids), then mapped record by record.
//!
//! Those messages take far more memory than their JSON when it is mostly empty objects, so
//! [`memory_bound`] estimates the most they can take (every `{` or `[` of the body counted as
//! the largest message) and the server charges that to the memory budget before decoding.

use std::borrow::Cow;

use fingertip_model::{IncomingEvent, MAX_LIST_ITEMS, Text};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use super::{Record, Records, Value};
use crate::BodyError;

/// Reads the events of an OTLP/JSON `ExportLogsServiceRequest`.
pub(crate) fn parse_json(
    body: &[u8],
    max_events: usize,
) -> Result<Vec<IncomingEvent<'static>>, BodyError> {
    let request: ExportLogsServiceRequest =
        serde_json::from_slice(body).map_err(|_| BodyError::MalformedOtlp("JSON"))?;
    from_request(request, max_events)
}

/// Maps every log record of a decoded request, failing at record `max_events + 1`.
pub(crate) fn from_request(
    request: ExportLogsServiceRequest,
    max_events: usize,
) -> Result<Vec<IncomingEvent<'static>>, BodyError> {
    let mut records = Records::new(max_events);
    let scopes = request.resource_logs.into_iter().flat_map(|r| r.scope_logs);
    for record in scopes.flat_map(|s| s.log_records) {
        records.push(map_record(record))?;
    }
    Ok(records.finish())
}

fn map_record(record: LogRecord) -> Record<'static> {
    let mut mapped = Record::default();
    mapped.set_time(record.time_unix_nano);
    for kv in record.attributes {
        if let Some(index) = Record::wanted(&kv.key) {
            mapped.set(index, value(kv.value));
        }
    }
    mapped
}

fn value(v: Option<AnyValue>) -> Value<'static> {
    use any_value::Value as V;
    match v.and_then(|v| v.value) {
        None => Value::Empty,
        Some(V::StringValue(s)) => Value::Str(Cow::Owned(s)),
        Some(V::IntValue(i)) => Value::Int(i),
        Some(V::DoubleValue(d)) => Value::Double(d),
        Some(V::ArrayValue(a)) => Value::List(
            a.values
                .into_iter()
                .take(MAX_LIST_ITEMS + 1)
                .map(string_item)
                .collect(),
        ),
        Some(_) => Value::Other,
    }
}

fn string_item(v: AnyValue) -> Option<Text<'static>> {
    match v.value {
        Some(any_value::Value::StringValue(s)) => Some(Cow::Owned(s)),
        _ => None,
    }
}

/// The most memory decoding `body` into the generated messages can take: each JSON object or
/// array (counted outside strings) becomes at most one message or list of the size of the
/// largest one, twice over for list growth.
pub(crate) fn memory_bound(body: &[u8]) -> usize {
    let mut containers = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (false, _, b'"') => in_string = true,
            (false, _, b'{' | b'[') => containers += 1,
            _ => {}
        }
    }
    containers.saturating_mul(2 * size_of::<LogRecord>())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The OTLP/JSON example of the specification's encoding rules: ids in hex, 64-bit
    /// integers as strings, enums as numbers, unknown fields ignored.
    const SPEC_EXAMPLE: &str = r#"{"resourceLogs":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"attendance"}}]},
      "scopeLogs":[{"scope":{"name":"app"},"logRecords":[{
        "timeUnixNano":"1795000000000000000","observedTimeUnixNano":"1795000000000000001",
        "severityNumber":9,"severityText":"INFO","body":{"stringValue":"checked in"},
        "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
        "futureField":{"x":1},
        "attributes":[
          {"key":"fingertip.event_type","value":{"stringValue":"check_in"}},
          {"key":"fingertip.duration_s","value":{"intValue":"45"}},
          {"key":"fingertip.data_elements","value":{"arrayValue":{"values":[
            {"stringValue":"hh.size"},{"intValue":3}]}}},
          {"key":"http.route","value":{"stringValue":"/x"}}]}]}]}]}"#;

    #[test]
    fn reads_the_otlp_json_encoding() {
        let events = parse_json(SPEC_EXAMPLE.as_bytes(), 10).unwrap();
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.event_type.as_deref(), Some("check_in"));
        assert_eq!(e.duration_s, Some(45.0));
        assert_eq!(e.started_at.as_deref(), Some("2026-11-18T11:06:40.000Z"));
        let elements = e.data_elements.as_ref().unwrap();
        assert_eq!(elements[0].as_deref(), Some("hh.size"));
        assert_eq!(elements[1], None);
        assert_eq!(e.problem, None);
    }

    #[test]
    fn bad_json_and_the_record_limit() {
        assert_eq!(
            parse_json(b"{\"resourceLogs\":", 10).unwrap_err(),
            BodyError::MalformedOtlp("JSON")
        );
        assert_eq!(parse_json(b"{}", 10).unwrap().len(), 0);
        let two = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{},{}]}]}]}"#;
        assert_eq!(
            parse_json(two.as_bytes(), 1).unwrap_err(),
            BodyError::TooManyEvents { limit: 1 }
        );
    }

    #[test]
    fn the_memory_bound_counts_containers_outside_strings() {
        let unit = 2 * size_of::<LogRecord>();
        assert_eq!(memory_bound(br#"{"a":["{[","\"{"]}"#), 2 * unit);
        assert_eq!(memory_bound(b"{},{},{}"), 3 * unit);
    }
}
