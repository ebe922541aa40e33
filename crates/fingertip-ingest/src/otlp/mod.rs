//! OTLP/HTTP logs (`POST /v1/logs`): this module owns the mapping from an OTLP log record to
//! an [`IncomingEvent`], the one type `/v1/events` parses into, so that OTLP records go
//! through exactly the same validation, anonymization, WAL and de-duplication.
//!
//! | OTLP | event field |
//! |---|---|
//! | attribute `fingertip.event_id`, `.person_ref`, `.org_unit`, `.event_type`, `.trigger` (string) | the field of that name |
//! | attribute `fingertip.duration_s` (double or int) | `duration_s` |
//! | attribute `fingertip.data_elements` (array of strings) | `data_elements` |
//! | `time_unix_nano` (0 = unset) | `started_at` |
//!
//! Everything else (other attributes, the body, severity, resource and scope attributes,
//! trace context) is skipped while decoding and never stored. The app is always the token's.
//!
//! Both encodings are read under the same limits as `/v1/events`: protobuf by a streaming
//! reader of the wire format ([`wire`]) that keeps only the attributes above and stops at
//! record `max_events + 1`; JSON through small serde structs of the used fields after a bound
//! on their memory ([`json`]). The generated `opentelemetry-proto` messages are the reference
//! both are tested against, and encode the answers ([`reply`]).

mod json;
pub mod reply;
mod wire;

use std::borrow::Cow;

use fingertip_model::{IncomingEvent, MAX_LIST_ITEMS, RejectReason, Text};

use crate::BodyError;

pub(crate) use json::{memory_bound as json_memory_bound, parse_json};
pub(crate) use wire::parse_protobuf;

/// The attribute key of each event field; the order is the bit of `seen` in [`Record`].
const ATTRIBUTES: [(&str, &str); 7] = [
    ("fingertip.event_id", "event_id"),
    ("fingertip.person_ref", "person_ref"),
    ("fingertip.org_unit", "org_unit"),
    ("fingertip.event_type", "event_type"),
    ("fingertip.trigger", "trigger"),
    ("fingertip.duration_s", "duration_s"),
    ("fingertip.data_elements", "data_elements"),
];

/// The OTLP name of an event field, for messages: `fingertip.<field>`, or `time_unix_nano`
/// for `started_at`. Record-level reasons (`event`) name the log record.
pub fn attribute_of(field: &str) -> Cow<'static, str> {
    match field {
        "started_at" => "time_unix_nano".into(),
        "event" => "log record".into(),
        f => ATTRIBUTES
            .iter()
            .find(|(_, name)| *name == f)
            .map_or(Cow::Owned(f.to_string()), |(key, _)| Cow::Borrowed(*key)),
    }
}

/// An attribute value, as much of it as an event field can use.
#[derive(Debug)]
pub(crate) enum Value<'a> {
    Str(Text<'a>),
    Int(i64),
    Double(f64),
    /// At most [`MAX_LIST_ITEMS`] + 1 items; `None` items were not strings.
    List(Vec<Option<Text<'a>>>),
    /// An `AnyValue` with nothing set: treated as absent, like JSON `null` on `/v1/events`.
    Empty,
    /// bool, bytes, key-value list.
    Other,
}

/// One log record being mapped.
#[derive(Debug, Default)]
pub(crate) struct Record<'a> {
    event: IncomingEvent<'a>,
    seen: u8,
}

impl<'a> Record<'a> {
    /// The index of a key this mapping keeps; `None` for attributes that are dropped.
    pub(crate) fn wanted(key: &str) -> Option<usize> {
        ATTRIBUTES.iter().position(|(k, _)| *k == key)
    }

    /// Sets the field of attribute `index` (from [`Record::wanted`]) to `value`.
    pub(crate) fn set(&mut self, index: usize, value: Value<'a>) {
        let field = ATTRIBUTES[index].1;
        if self.seen & (1 << index) != 0 {
            return self.note(RejectReason::DuplicateField, field);
        }
        self.seen |= 1 << index;
        let e = &mut self.event;
        match (index, value) {
            (_, Value::Empty) => {}
            (0, Value::Str(s)) => e.event_id = Some(s),
            (1, Value::Str(s)) => e.person_ref = Some(s),
            (2, Value::Str(s)) => e.org_unit = Some(s),
            (3, Value::Str(s)) => e.event_type = Some(s),
            (4, Value::Str(s)) => e.trigger = Some(s),
            (5, Value::Double(d)) => e.duration_s = Some(d),
            (5, Value::Int(i)) => e.duration_s = Some(i as f64),
            (6, Value::List(items)) => e.data_elements = Some(items),
            _ => self.note(RejectReason::WrongType, field),
        }
    }

    /// The record's `time_unix_nano`; 0 means unset (the OTLP rule), so `started_at` is missing.
    pub(crate) fn set_time(&mut self, time_unix_nano: u64) {
        self.event.started_at = (time_unix_nano != 0).then(|| {
            let ms = (time_unix_nano / 1_000_000) as i64;
            Cow::Owned(fingertip_model::format_rfc3339_ms(ms))
        });
    }

    fn note(&mut self, reason: RejectReason, field: &'static str) {
        self.event.problem.get_or_insert((reason, field));
    }

    pub(crate) fn finish(self) -> IncomingEvent<'a> {
        self.event
    }
}

/// Collects mapped records, failing at record `max_events + 1`.
#[derive(Debug)]
pub(crate) struct Records<'a> {
    events: Vec<IncomingEvent<'a>>,
    max_events: usize,
}

impl<'a> Records<'a> {
    pub(crate) fn new(max_events: usize) -> Self {
        Self {
            events: Vec::new(),
            max_events,
        }
    }

    pub(crate) fn push(&mut self, record: Record<'a>) -> Result<(), BodyError> {
        if self.events.len() == self.max_events {
            return Err(BodyError::TooManyEvents {
                limit: self.max_events,
            });
        }
        self.events.push(record.finish());
        Ok(())
    }

    pub(crate) fn finish(self) -> Vec<IncomingEvent<'a>> {
        self.events
    }
}

/// Keeps at most [`MAX_LIST_ITEMS`] + 1 items of a list, as `/v1/events` does.
pub(crate) fn list_room(items: &[Option<Text<'_>>]) -> bool {
    items.len() <= MAX_LIST_ITEMS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_map_and_problems_are_recorded() {
        let mut r = Record::default();
        r.set(3, Value::Str("check_in".into()));
        r.set(5, Value::Int(45));
        r.set_time(1_795_000_000_123_456_789);
        let e = r.finish();
        assert_eq!(e.event_type.as_deref(), Some("check_in"));
        assert_eq!(e.duration_s, Some(45.0));
        assert_eq!(e.started_at.as_deref(), Some("2026-11-18T11:06:40.123Z"));
        assert_eq!(e.problem, None);

        let mut r = Record::default();
        r.set(0, Value::Int(1));
        assert_eq!(
            r.finish().problem,
            Some((RejectReason::WrongType, "event_id"))
        );
        let mut r = Record::default();
        r.set(4, Value::Str("mandatory".into()));
        r.set(4, Value::Str("reminder".into()));
        assert_eq!(
            r.finish().problem,
            Some((RejectReason::DuplicateField, "trigger"))
        );
        let mut r = Record::default();
        r.set_time(0);
        assert_eq!(r.finish().started_at, None);
    }

    #[test]
    fn attribute_names_for_messages() {
        assert_eq!(attribute_of("event_type"), "fingertip.event_type");
        assert_eq!(attribute_of("started_at"), "time_unix_nano");
        assert_eq!(Record::wanted("fingertip.data_elements"), Some(6));
        assert_eq!(Record::wanted("service.name"), None);
    }
}
