//! OTLP/JSON (`application/json`), read into small structs of only the fields the mapping
//! uses; everything else (body, resource, trace context, unknown fields) is skipped unread.
//!
//! Not the generated `opentelemetry-proto` messages: their serde form refuses valid OTLP/JSON
//! that omits fields holding default values (an empty list is `{"arrayValue": {}}`, which
//! protobuf's own JSON printer writes), and they would keep the dropped fields in memory. The
//! rules here are the OTLP/JSON encoding's: lowerCamelCase names, 64-bit integers as strings or
//! numbers, every field optional, unknown fields ignored. The generated messages remain the
//! reference the protobuf reader is tested against ([`from_request`]).
//!
//! [`memory_bound`] estimates the most the structs can take (every `{` or `[` of the body
//! counted as the largest one) and the server charges that to the memory budget first.

use std::borrow::Cow;

use fingertip_model::{IncomingEvent, MAX_LIST_ITEMS, Text};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny};

use super::{Record, Records, Value};
use crate::BodyError;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Request {
    resource_logs: Vec<ResourceLogs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ResourceLogs {
    scope_logs: Vec<ScopeLogs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ScopeLogs {
    log_records: Vec<LogRecord>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct LogRecord {
    #[serde(deserialize_with = "uint64")]
    time_unix_nano: u64,
    attributes: Vec<KeyValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct KeyValue {
    key: String,
    value: Option<AnyValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct AnyValue {
    string_value: Option<String>,
    #[serde(deserialize_with = "int64")]
    int_value: Option<i64>,
    double_value: Option<f64>,
    array_value: Option<ArrayValue>,
    bool_value: Option<IgnoredAny>,
    kvlist_value: Option<IgnoredAny>,
    bytes_value: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ArrayValue {
    values: Vec<AnyValue>,
}

/// A 64-bit integer as OTLP/JSON writes it: a decimal string, or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Int {
    Signed(i64),
    Unsigned(u64),
    Text(String),
}

impl Int {
    fn value(&self) -> Option<i128> {
        match self {
            Int::Signed(n) => Some(i128::from(*n)),
            Int::Unsigned(n) => Some(i128::from(*n)),
            Int::Text(s) => s.parse().ok(),
        }
    }
}

fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let int = Option::<Int>::deserialize(d)?;
    int.map(|i| i.value().and_then(|v| i64::try_from(v).ok()))
        .map(|v| v.ok_or_else(|| serde::de::Error::custom("not an int64")))
        .transpose()
}

fn uint64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let int = Option::<Int>::deserialize(d)?;
    let value = int.map_or(Some(0), |i| i.value().and_then(|v| u64::try_from(v).ok()));
    value.ok_or_else(|| serde::de::Error::custom("not a uint64"))
}

/// Reads the events of an OTLP/JSON `ExportLogsServiceRequest`.
pub(crate) fn parse_json(
    body: &[u8],
    max_events: usize,
) -> Result<Vec<IncomingEvent<'static>>, BodyError> {
    // The serde error is not logged: it can quote a value of the body.
    let request: Request =
        serde_json::from_slice(body).map_err(|_| BodyError::MalformedOtlp("JSON"))?;
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
            mapped.set(index, kv.value.map_or(Value::Empty, value));
        }
    }
    mapped
}

fn value(v: AnyValue) -> Value<'static> {
    match v {
        AnyValue {
            string_value: Some(s),
            ..
        } => Value::Str(Cow::Owned(s)),
        AnyValue {
            int_value: Some(i), ..
        } => Value::Int(i),
        AnyValue {
            double_value: Some(d),
            ..
        } => Value::Double(d),
        AnyValue {
            array_value: Some(a),
            ..
        } => Value::List(
            a.values
                .into_iter()
                .take(MAX_LIST_ITEMS + 1)
                .map(|item| item.string_value.map(Cow::Owned))
                .collect::<Vec<Option<Text<'static>>>>(),
        ),
        AnyValue {
            bool_value: None,
            kvlist_value: None,
            bytes_value: None,
            ..
        } => Value::Empty,
        _ => Value::Other,
    }
}

/// The mapping applied to the generated messages: the reference the streaming protobuf reader
/// is tested against.
#[cfg(test)]
pub(crate) fn from_request(
    request: opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest,
    max_events: usize,
) -> Result<Vec<IncomingEvent<'static>>, BodyError> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value as V;
    let mut records = Records::new(max_events);
    let scopes = request.resource_logs.into_iter().flat_map(|r| r.scope_logs);
    for record in scopes.flat_map(|s| s.log_records) {
        let mut mapped = Record::default();
        mapped.set_time(record.time_unix_nano);
        for kv in record.attributes {
            let Some(index) = Record::wanted(&kv.key) else {
                continue;
            };
            let v = match kv.value.and_then(|v| v.value) {
                None => Value::Empty,
                Some(V::StringValue(s)) => Value::Str(Cow::Owned(s)),
                Some(V::IntValue(i)) => Value::Int(i),
                Some(V::DoubleValue(d)) => Value::Double(d),
                Some(V::ArrayValue(a)) => Value::List(
                    a.values
                        .into_iter()
                        .take(MAX_LIST_ITEMS + 1)
                        .map(|v| match v.value {
                            Some(V::StringValue(s)) => Some(Cow::Owned(s)),
                            _ => None,
                        })
                        .collect(),
                ),
                Some(_) => Value::Other,
            };
            mapped.set(index, v);
        }
        records.push(mapped)?;
    }
    Ok(records.finish())
}

/// The most memory decoding `body` into the structs above can take: each JSON object or
/// array (counted outside strings) becomes at most one struct or list of the size of the
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
    containers.saturating_mul(2 * LARGEST)
}

/// The largest struct a JSON container can become.
const LARGEST: usize = max(
    size_of::<AnyValue>(),
    max(size_of::<KeyValue>(), size_of::<LogRecord>()),
);

const fn max(a: usize, b: usize) -> usize {
    if a > b { a } else { b }
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
    fn fields_holding_default_values_may_be_omitted() {
        let body = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{
            "timeUnixNano":1795000000000000000,
            "attributes":[
              {"key":"fingertip.data_elements","value":{"arrayValue":{}}},
              {"key":"fingertip.duration_s","value":{"doubleValue":45}},
              {"key":"fingertip.trigger","value":{}},
              {"key":"fingertip.org_unit"},
              {"value":{"stringValue":"no key"}}]}]}]}]}"#;
        let events = parse_json(body.as_bytes(), 10).unwrap();
        let e = &events[0];
        assert_eq!(e.data_elements.as_deref(), Some(&[][..]));
        assert_eq!(e.duration_s, Some(45.0));
        assert_eq!((e.trigger.as_ref(), e.org_unit.as_ref()), (None, None));
        assert_eq!(e.started_at.as_deref(), Some("2026-11-18T11:06:40.000Z"));
        assert_eq!(e.problem, None);
        let wrong = r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[
            {"key":"fingertip.event_id","value":{"boolValue":true}}]}]}]}]}"#;
        let events = parse_json(wrong.as_bytes(), 10).unwrap();
        assert_eq!(
            events[0].problem,
            Some((fingertip_model::RejectReason::WrongType, "event_id"))
        );
    }

    #[test]
    fn the_memory_bound_counts_containers_outside_strings() {
        let unit = 2 * LARGEST;
        assert_eq!(memory_bound(br#"{"a":["{[","\"{"]}"#), 2 * unit);
        assert_eq!(memory_bound(b"{},{},{}"), 3 * unit);
    }
}
