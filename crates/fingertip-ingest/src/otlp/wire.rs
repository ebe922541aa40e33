//! A streaming reader of the protobuf wire format for `ExportLogsServiceRequest`: it walks
//! resource logs → scope logs → log records, keeps `time_unix_nano` and the wanted
//! attributes (strings borrowed from the body), and skips everything else unread. Decoding the
//! whole message into the generated types instead would let a small body of empty records or
//! attributes allocate a hundred times its size; this reader allocates only the events it
//! returns, and stops at record `max_events + 1`. The generated messages are the reference it
//! is tested against.
//!
//! Field numbers (opentelemetry-proto `logs/v1`, `common/v1`, `collector/logs/v1`):
//! request.resource_logs = 1; ResourceLogs.scope_logs = 2; ScopeLogs.log_records = 2;
//! LogRecord.time_unix_nano = 1 (fixed64), .attributes = 6; KeyValue.key = 1, .value = 2;
//! AnyValue.string_value = 1, .int_value = 3, .double_value = 4, .array_value = 5;
//! ArrayValue.values = 1.

use std::borrow::Cow;

use fingertip_model::{IncomingEvent, Text};

use super::{Record, Records, Value, list_room};
use crate::BodyError;

/// Reads the events of a protobuf `ExportLogsServiceRequest`.
pub(crate) fn parse_protobuf(
    body: &[u8],
    max_events: usize,
) -> Result<Vec<IncomingEvent<'_>>, BodyError> {
    let mut records = Records::new(max_events);
    for field in Fields(body) {
        if let (1, Wire::Len(resource)) = field? {
            for field in Fields(resource) {
                if let (2, Wire::Len(scope)) = field? {
                    read_scope(scope, &mut records)?;
                }
            }
        }
    }
    Ok(records.finish())
}

fn read_scope<'a>(scope: &'a [u8], records: &mut Records<'a>) -> Result<(), BodyError> {
    for field in Fields(scope) {
        if let (2, Wire::Len(record)) = field? {
            records.push(read_record(record)?)?;
        }
    }
    Ok(())
}

fn read_record(bytes: &[u8]) -> Result<Record<'_>, BodyError> {
    let mut record = Record::default();
    for field in Fields(bytes) {
        match field? {
            (1, Wire::Fixed64(t)) => record.set_time(t),
            (1, _) => return Err(malformed()),
            (6, Wire::Len(kv)) => read_attribute(kv, &mut record)?,
            _ => {}
        }
    }
    Ok(record)
}

fn read_attribute<'a>(kv: &'a [u8], record: &mut Record<'a>) -> Result<(), BodyError> {
    let (mut key, mut value) = ("", None);
    for field in Fields(kv) {
        match field? {
            (1, Wire::Len(k)) => key = utf8(k)?,
            (2, Wire::Len(v)) => value = Some(v),
            (1 | 2, _) => return Err(malformed()),
            _ => {}
        }
    }
    if let Some(index) = Record::wanted(key) {
        record.set(index, value.map_or(Ok(Value::Empty), read_value)?);
    }
    Ok(())
}

/// An `AnyValue`: the last field of its `oneof` wins, as protobuf says.
fn read_value(bytes: &[u8]) -> Result<Value<'_>, BodyError> {
    let mut value = Value::Empty;
    for field in Fields(bytes) {
        value = match field? {
            (1, Wire::Len(s)) => Value::Str(Cow::Borrowed(utf8(s)?)),
            (3, Wire::Varint(i)) => Value::Int(i as i64),
            (4, Wire::Fixed64(d)) => Value::Double(f64::from_bits(d)),
            (5, Wire::Len(array)) => Value::List(read_list(array)?),
            (2 | 6 | 7 | 8, _) => Value::Other,
            (1 | 3 | 4 | 5, _) => return Err(malformed()),
            _ => value,
        };
    }
    Ok(value)
}

/// The string items of an `ArrayValue`, at most [`fingertip_model::MAX_LIST_ITEMS`] + 1 kept;
/// the rest are skipped (their framing still checked).
fn read_list(bytes: &[u8]) -> Result<Vec<Option<Text<'_>>>, BodyError> {
    let mut items = Vec::new();
    for field in Fields(bytes) {
        if let (1, Wire::Len(item)) = field?
            && list_room(&items)
        {
            items.push(read_item(item)?);
        }
    }
    Ok(items)
}

/// An item of a list: its string, or `None` for any other value. Nested lists are not read
/// (no recursion: a deeply nested body cannot exhaust the stack).
fn read_item(bytes: &[u8]) -> Result<Option<Text<'_>>, BodyError> {
    let mut item = None;
    for field in Fields(bytes) {
        item = match field? {
            (1, Wire::Len(s)) => Some(Cow::Borrowed(utf8(s)?)),
            (1, _) => return Err(malformed()),
            (2..=8, _) => None,
            _ => item,
        };
    }
    Ok(item)
}

fn utf8(bytes: &[u8]) -> Result<&str, BodyError> {
    std::str::from_utf8(bytes).map_err(|_| malformed())
}

fn malformed() -> BodyError {
    BodyError::MalformedOtlp("protobuf")
}

/// One field's value on the wire.
#[derive(Debug, Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Len(&'a [u8]),
    Fixed32,
}

/// The fields of one message, in order; an error ends the iteration.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Wire<'a>), BodyError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let field = self.field();
        if field.is_err() {
            self.0 = &[];
        }
        Some(field)
    }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Result<(u64, Wire<'a>), BodyError> {
        let tag = self.varint()?;
        let number = tag >> 3;
        if number == 0 {
            return Err(malformed());
        }
        let wire = match tag & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => Wire::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().map_err(|_| malformed())?,
            )),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| malformed())?;
                Wire::Len(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed32
            }
            _ => return Err(malformed()),
        };
        Ok((number, wire))
    }

    fn varint(&mut self) -> Result<u64, BodyError> {
        let mut value = 0u64;
        for (i, byte) in self.0.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.0 = &self.0[i + 1..];
                return Ok(value);
            }
        }
        Err(malformed())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BodyError> {
        if n > self.0.len() {
            return Err(malformed());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::json::from_request;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use proptest::prelude::*;
    use prost::Message;

    fn kv(key: &str, value: Option<any_value::Value>) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value }),
            ..Default::default()
        }
    }

    fn request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn value() -> impl Strategy<Value = Option<any_value::Value>> {
        use any_value::Value as V;
        let leaf = prop_oneof![
            Just(None),
            "[a-z.]{0,8}".prop_map(|s| Some(V::StringValue(s))),
            any::<i64>().prop_map(|i| Some(V::IntValue(i))),
            (-1e9f64..1e9).prop_map(|d| Some(V::DoubleValue(d))),
            any::<bool>().prop_map(|b| Some(V::BoolValue(b))),
        ];
        leaf.prop_recursive(2, 8, 4, |inner| {
            prop::collection::vec(inner, 0..4).prop_map(|values| {
                Some(any_value::Value::ArrayValue(ArrayValue {
                    values: values.into_iter().map(|value| AnyValue { value }).collect(),
                }))
            })
        })
    }

    fn attribute() -> impl Strategy<Value = KeyValue> {
        let key = prop_oneof![
            Just("fingertip.event_id"),
            Just("fingertip.duration_s"),
            Just("fingertip.data_elements"),
            Just("fingertip.trigger"),
            Just("service.name"),
        ];
        (key, value()).prop_map(|(k, v)| kv(k, v))
    }

    fn record() -> impl Strategy<Value = LogRecord> {
        let time = prop_oneof![Just(0u64), any::<u64>()];
        (time, prop::collection::vec(attribute(), 0..5)).prop_map(|(t, attributes)| LogRecord {
            time_unix_nano: t,
            attributes,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue("dropped".into())),
            }),
            trace_id: vec![1; 16],
            ..Default::default()
        })
    }

    proptest! {
        /// The streaming reader maps exactly what decoding the generated messages maps, and
        /// so does the JSON reader given their OTLP/JSON form.
        #[test]
        fn the_wire_reader_agrees_with_the_generated_messages(
            records in prop::collection::vec(record(), 0..4)
        ) {
            let request = request(records);
            let bytes = request.encode_to_vec();
            let streamed = parse_protobuf(&bytes, 100).unwrap();
            let decoded = from_request(ExportLogsServiceRequest::decode(&bytes[..]).unwrap(), 100).unwrap();
            prop_assert_eq!(format!("{streamed:?}"), format!("{decoded:?}"));
            // And the OTLP/JSON reader reads the generated messages' JSON form the same way.
            let json = serde_json::to_vec(&request).unwrap();
            let from_json = crate::otlp::parse_json(&json, 100).unwrap();
            prop_assert_eq!(format!("{streamed:?}"), format!("{from_json:?}"));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_protobuf(&bytes, 10);
        }
    }

    #[test]
    fn record_limit_and_truncated_bodies() {
        let bytes = request(vec![LogRecord::default(); 3]).encode_to_vec();
        assert_eq!(parse_protobuf(&bytes, 3).unwrap().len(), 3);
        assert_eq!(
            parse_protobuf(&bytes, 2).unwrap_err(),
            BodyError::TooManyEvents { limit: 2 }
        );
        let full = request(vec![LogRecord {
            attributes: vec![kv(
                "fingertip.event_type",
                Some(any_value::Value::StringValue("check_in".into())),
            )],
            ..Default::default()
        }])
        .encode_to_vec();
        for cut in 1..full.len() {
            assert!(parse_protobuf(&full[..cut], 10).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn deeply_nested_lists_are_not_recursed_into() {
        use prost::encoding::{bytes, string};
        // Built byte by byte: the generated types would recurse as deep as the nesting.
        let mut value = Vec::new();
        string::encode(1, &"x".to_string(), &mut value);
        for _ in 0..20_000 {
            let mut array = Vec::new();
            bytes::encode(1, &value, &mut array);
            value.clear();
            bytes::encode(5, &array, &mut value);
        }
        let mut kv = Vec::new();
        string::encode(1, &"fingertip.data_elements".to_string(), &mut kv);
        bytes::encode(2, &value, &mut kv);
        let mut body = kv;
        for field in [6, 2, 2, 1] {
            let mut outer = Vec::new();
            bytes::encode(field, &body, &mut outer);
            body = outer;
        }
        let events = parse_protobuf(&body, 1).unwrap();
        assert_eq!(events[0].data_elements.as_deref(), Some(&[None][..]));
    }

    #[test]
    fn long_lists_are_cut_while_reading() {
        let items = vec![
            AnyValue {
                value: Some(any_value::Value::StringValue("x".into())),
            };
            10_000
        ];
        let list = any_value::Value::ArrayValue(ArrayValue { values: items });
        let bytes = request(vec![LogRecord {
            attributes: vec![kv("fingertip.data_elements", Some(list))],
            ..Default::default()
        }])
        .encode_to_vec();
        let events = parse_protobuf(&bytes, 1).unwrap();
        let kept = events[0].data_elements.as_ref().unwrap().len();
        assert_eq!(kept, fingertip_model::MAX_LIST_ITEMS + 1);
    }
}
