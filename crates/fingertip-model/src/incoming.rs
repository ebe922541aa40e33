//! One incoming event as an app sends it, read in a single pass without ever failing on
//! content: a wrong type, an unknown or a repeated field is remembered as the event's
//! `problem` and the rest of the object is skipped, so one bad event cannot spoil its batch.
//! Only invalid JSON syntax is an error. Strings borrow from the request body when they can.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::RejectReason;

/// A string borrowed from the body where possible (no escapes), owned otherwise.
pub type Text<'a> = Cow<'a, str>;

/// The fields of one event as sent. `app_id` in the body is accepted and ignored: the app is
/// always the one the token is bound to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct IncomingEvent<'a> {
    pub event_id: Option<Text<'a>>,
    pub person_ref: Option<Text<'a>>,
    pub org_unit: Option<Text<'a>>,
    pub event_type: Option<Text<'a>>,
    pub trigger: Option<Text<'a>>,
    pub started_at: Option<Text<'a>>,
    pub duration_s: Option<f64>,
    /// `None` entries were not strings.
    pub data_elements: Option<Vec<Option<Text<'a>>>>,
    /// The first structural problem met while reading, with the field it concerns.
    pub problem: Option<(RejectReason, &'static str)>,
}

/// The most list items (`data_elements`) one event keeps while it is read; a longer list is
/// cut to this many + 1 and rejected by the validator (`max_data_elements` may not exceed it).
pub const MAX_LIST_ITEMS: usize = 128;

/// Any JSON value, keeping only what event fields can use.
enum Loose<'a> {
    Str(Text<'a>),
    Num(f64),
    Null,
    List(Vec<Option<Text<'a>>>),
    Other,
}

const FIELDS: [&str; 8] = [
    "event_id",
    "person_ref",
    "org_unit",
    "event_type",
    "trigger",
    "started_at",
    "duration_s",
    "data_elements",
];

impl<'a> IncomingEvent<'a> {
    fn note(&mut self, reason: RejectReason, field: &'static str) {
        self.problem.get_or_insert((reason, field));
    }

    fn set(&mut self, index: usize, value: Loose<'a>) {
        let field = FIELDS[index];
        match (index, value) {
            (_, Loose::Null) => {}
            (6, Loose::Num(n)) => self.duration_s = Some(n),
            (7, Loose::List(items)) => self.data_elements = Some(items),
            (0..=5, Loose::Str(s)) => *self.text_slot(index) = Some(s),
            _ => self.note(RejectReason::WrongType, field),
        }
    }

    fn text_slot(&mut self, index: usize) -> &mut Option<Text<'a>> {
        match index {
            0 => &mut self.event_id,
            1 => &mut self.person_ref,
            2 => &mut self.org_unit,
            3 => &mut self.event_type,
            4 => &mut self.trigger,
            _ => &mut self.started_at,
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for IncomingEvent<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = IncomingEvent<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut event = IncomingEvent::default();
        let mut seen = 0u16;
        while let Some(key) = map.next_key::<Loose<'de>>()? {
            let Loose::Str(key) = key else {
                return Err(de::Error::custom("object keys must be strings"));
            };
            match FIELDS.iter().position(|f| *f == key) {
                Some(i) if seen & (1 << i) != 0 => {
                    event.note(RejectReason::DuplicateField, FIELDS[i]);
                    map.next_value::<IgnoredAny>()?;
                }
                Some(i) => {
                    seen |= 1 << i;
                    let value = map.next_value::<Loose<'de>>()?;
                    event.set(i, value);
                }
                None => {
                    if key != "app_id" {
                        event.note(RejectReason::UnknownField, "event");
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(event)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(not_an_object())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(not_an_object())
    }
}

fn not_an_object<'a>() -> IncomingEvent<'a> {
    IncomingEvent {
        problem: Some((RejectReason::NotAnObject, "event")),
        ..Default::default()
    }
}

impl<'de> Deserialize<'de> for Loose<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Loose::Num(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Loose::Num(v as f64))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Loose::Num(v as f64))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Loose::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Null)
    }
    /// Keeps at most [`MAX_LIST_ITEMS`] + 1 items (enough for the validator to see that a list
    /// is too long) and skips the rest unread into memory, so a body of millions of tiny items
    /// costs no more than a short list.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        while items.len() <= MAX_LIST_ITEMS {
            let Some(item) = seq.next_element::<Loose<'de>>()? else {
                return Ok(Loose::List(items));
            };
            items.push(match item {
                Loose::Str(s) => Some(s),
                _ => None,
            });
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> IncomingEvent<'_> {
        serde_json::from_str(s).unwrap()
    }

    #[test]
    fn reads_all_fields_borrowed() {
        let e = parse(
            r#"{"event_id":"e","person_ref":"p","org_unit":"u","event_type":"login",
            "trigger":"mandatory","started_at":"t","duration_s":3,"data_elements":["a","b"],
            "app_id":"ignored"}"#,
        );
        assert!(matches!(e.person_ref, Some(Cow::Borrowed("p"))));
        assert_eq!(e.duration_s, Some(3.0));
        assert_eq!(e.data_elements.unwrap().len(), 2);
        assert_eq!(e.problem, None);
    }

    #[test]
    fn problems_are_recorded_not_raised() {
        let e = parse(r#"{"duration_s":"long","event_type":"login"}"#);
        assert_eq!(e.problem, Some((RejectReason::WrongType, "duration_s")));
        assert_eq!(e.event_type.as_deref(), Some("login"));
        let e = parse(r#"{"surprise":{"deep":[1,2]},"event_type":"x"}"#);
        assert_eq!(e.problem, Some((RejectReason::UnknownField, "event")));
        let e = parse(r#"{"event_type":"x","event_type":"y"}"#);
        assert_eq!(
            e.problem,
            Some((RejectReason::DuplicateField, "event_type"))
        );
        assert_eq!(
            parse("[1]").problem,
            Some((RejectReason::NotAnObject, "event"))
        );
        let e = parse(r#"{"data_elements":["a",1]}"#);
        assert_eq!(e.data_elements.unwrap()[1], None);
    }

    #[test]
    fn long_lists_are_cut_while_reading() {
        let body = format!(r#"{{"data_elements":[{}"x"]}}"#, "1,".repeat(100_000));
        let e = parse(&body);
        assert_eq!(e.data_elements.unwrap().len(), MAX_LIST_ITEMS + 1);
    }

    #[test]
    fn escaped_strings_are_owned() {
        let e = parse(r#"{"person_ref":"a\"b"}"#);
        assert_eq!(e.person_ref.as_deref(), Some("a\"b"));
    }

    #[test]
    fn syntax_errors_are_errors() {
        assert!(serde_json::from_str::<IncomingEvent>(r#"{"a":"#).is_err());
    }
}
