//! Request bodies: decompression under a size cap, and JSON / NDJSON batch parsing, with
//! every limit enforced *while* decoding: decompression stops at the decoded-size cap and
//! charges the memory budget as its output grows; parsing stops at the event limit; a list
//! inside an event keeps at most [`fingertip_model::MAX_LIST_ITEMS`] + 1 items. A small body
//! can therefore never make the server allocate much more than the limits say.

use std::cell::Cell;
use std::fmt;
use std::io::Read;

use fingertip_model::IncomingEvent;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::budget::{Charge, Overloaded};

/// How the events are laid out in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json`: `{"events": [ ... ]}`.
    Json,
    /// `application/x-ndjson`: one event object per line.
    Ndjson,
    /// `POST /v1/logs`, `application/x-protobuf`: an OTLP `ExportLogsServiceRequest`.
    OtlpProtobuf,
    /// `POST /v1/logs`, `application/json`: an OTLP/JSON `ExportLogsServiceRequest`.
    OtlpJson,
}

/// `Content-Encoding` of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

impl Encoding {
    /// Parses a `Content-Encoding` header value (one coding: stacked codings are refused).
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("identity") => Some(Self::Identity),
            Some("gzip") | Some("x-gzip") => Some(Self::Gzip),
            Some("zstd") => Some(Self::Zstd),
            _ => None,
        }
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the decompressed body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the body is not valid {0} data")]
    BadEncoding(&'static str),
    #[error("the body is not valid JSON of the form {{\"events\": [...]}}")]
    MalformedJson,
    #[error("the body is not a valid OTLP ExportLogsServiceRequest in {0}")]
    MalformedOtlp(&'static str),
    #[error("the body is not valid UTF-8")]
    NotUtf8,
    #[error("a batch may hold at most {limit} events")]
    TooManyEvents { limit: usize },
    #[error(transparent)]
    Overloaded(#[from] Overloaded),
}

/// zstd frames may not ask for a window larger than 2^23 bytes (8 MiB): a tiny frame that
/// declares a huge window cannot make us allocate it.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// Decompresses `raw`, refusing to produce more than `limit` bytes, and charging what the
/// output holds to `charge` as it grows. Blocking (CPU): run it off the async workers.
pub fn decode_body(
    raw: bytes::Bytes,
    encoding: Encoding,
    limit: usize,
    charge: &mut Charge,
) -> Result<bytes::Bytes, BodyError> {
    match encoding {
        Encoding::Identity if raw.len() > limit => Err(BodyError::TooLarge { limit }),
        Encoding::Identity => Ok(raw),
        Encoding::Gzip => {
            let reader = flate2::read::MultiGzDecoder::new(&raw[..]);
            read_capped(reader, limit, charge, "gzip")
        }
        Encoding::Zstd => {
            let bad = |_| BodyError::BadEncoding("zstd");
            let mut decoder = zstd::stream::read::Decoder::new(&raw[..]).map_err(bad)?;
            decoder.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(bad)?;
            read_capped(decoder, limit, charge, "zstd")
        }
    }
}

/// Reads `reader` to its end in chunks, failing as soon as the output passes `limit` or the
/// budget refuses the memory it needs.
fn read_capped(
    mut reader: impl Read,
    limit: usize,
    charge: &mut Charge,
    name: &'static str,
) -> Result<bytes::Bytes, BodyError> {
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let base = charge.bytes();
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(out.into()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(BodyError::BadEncoding(name)),
        };
        if out.len() + n > limit {
            return Err(BodyError::TooLarge { limit });
        }
        if out.capacity() < out.len() + n {
            let want = (out.len() + n).max(out.capacity() * 2).min(limit);
            charge.grow_to(base + want)?;
            out.reserve_exact(want - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Parses the events of a body, stopping with [`BodyError::TooManyEvents`] as soon as it
/// meets event `max_events + 1`. A JSON body that is not valid JSON fails as a whole; an
/// NDJSON line that is not valid JSON becomes one event rejected with `malformed_json`. Blank
/// NDJSON lines are skipped and do not count as events. OTLP log records are mapped to events
/// by [`crate::otlp`].
pub fn parse_events(
    body: &[u8],
    format: BodyFormat,
    max_events: usize,
) -> Result<Vec<IncomingEvent<'_>>, BodyError> {
    let text = || std::str::from_utf8(body).map_err(|_| BodyError::NotUtf8);
    match format {
        BodyFormat::Json => parse_envelope(text()?, max_events),
        BodyFormat::Ndjson => parse_ndjson(text()?, max_events),
        BodyFormat::OtlpProtobuf => crate::otlp::parse_protobuf(body, max_events),
        BodyFormat::OtlpJson => crate::otlp::parse_json(body, max_events),
    }
}

/// The most memory [`parse_events`] may take for `body` beyond the body itself, to be charged
/// to the memory budget before parsing: the parsed events hold at most about as much again as
/// the body, except OTLP/JSON, whose containers may each become a struct (see
/// [`crate::otlp`]).
pub fn parse_memory(body: &[u8], format: BodyFormat) -> usize {
    match format {
        BodyFormat::OtlpJson => crate::otlp::json_memory_bound(body).max(body.len()),
        _ => body.len(),
    }
}

fn parse_ndjson(text: &str, max_events: usize) -> Result<Vec<IncomingEvent<'_>>, BodyError> {
    let mut events = Vec::new();
    for line in text.split('\n').filter(|line| !line.trim().is_empty()) {
        if events.len() == max_events {
            return Err(BodyError::TooManyEvents { limit: max_events });
        }
        events.push(
            serde_json::from_str(line).unwrap_or_else(|_| IncomingEvent {
                problem: Some((fingertip_model::RejectReason::MalformedJson, "event")),
                ..Default::default()
            }),
        );
    }
    Ok(events)
}

fn parse_envelope(text: &str, max_events: usize) -> Result<Vec<IncomingEvent<'_>>, BodyError> {
    let over = Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Envelope {
        max_events,
        over: &over,
    }
    .deserialize(&mut de)
    .and_then(|events| de.end().map(|_| events));
    parsed.map_err(|_| match over.get() {
        true => BodyError::TooManyEvents { limit: max_events },
        false => BodyError::MalformedJson,
    })
}

/// `{"events": [...]}` and nothing else, read with a count that stops at the limit.
struct Envelope<'c> {
    max_events: usize,
    over: &'c Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Envelope<'_> {
    type Value = Vec<IncomingEvent<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Envelope<'_> {
    type Value = Vec<IncomingEvent<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object {\"events\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut events = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key != "events" || events.is_some() {
                return Err(de::Error::custom("only one field, `events`, is allowed"));
            }
            events = Some(map.next_value_seed(Events {
                max_events: self.max_events,
                over: self.over,
            })?);
        }
        events.ok_or_else(|| de::Error::missing_field("events"))
    }
}

struct Events<'c> {
    max_events: usize,
    over: &'c Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = Vec<IncomingEvent<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Events<'_> {
    type Value = Vec<IncomingEvent<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max_events));
        while let Some(event) = seq.next_element::<IncomingEvent<'de>>()? {
            if events.len() == self.max_events {
                self.over.set(true);
                return Err(de::Error::custom("too many events"));
            }
            events.push(event);
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn charge() -> Charge {
        crate::MemoryBudget::new(1 << 30).charge(0).unwrap()
    }

    #[test]
    fn zstd_bomb_is_capped() {
        let zeros = vec![0u8; 64 << 20];
        let bomb = zstd::encode_all(&zeros[..], 19).unwrap();
        assert!(bomb.len() < 8 << 10, "bomb is {} bytes", bomb.len());
        let err = decode_body(bomb.into(), Encoding::Zstd, 1 << 20, &mut charge()).unwrap_err();
        assert_eq!(err, BodyError::TooLarge { limit: 1 << 20 });
    }

    #[test]
    fn gzip_round_trip_and_cap() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"{\"events\":[]}").unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(
            &decode_body(gz.clone().into(), Encoding::Gzip, 100, &mut charge()).unwrap()[..],
            b"{\"events\":[]}"
        );
        assert!(matches!(
            decode_body(gz.into(), Encoding::Gzip, 5, &mut charge()),
            Err(BodyError::TooLarge { .. })
        ));
        assert_eq!(
            decode_body(b"nope".to_vec().into(), Encoding::Gzip, 100, &mut charge()),
            Err(BodyError::BadEncoding("gzip"))
        );
    }

    #[test]
    fn ndjson_lines_fail_alone() {
        let events = parse_events(
            b"{\"event_type\":\"login\"}\n\nnot json\n",
            BodyFormat::Ndjson,
            10,
        )
        .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1].problem.unwrap().0,
            fingertip_model::RejectReason::MalformedJson
        );
        assert_eq!(
            parse_events(b"{\"events\":[", BodyFormat::Json, 10).unwrap_err(),
            BodyError::MalformedJson
        );
        assert_eq!(
            parse_events(b"{\"events\":[],\"x\":1}", BodyFormat::Json, 10).unwrap_err(),
            BodyError::MalformedJson
        );
    }

    #[test]
    fn parsing_stops_at_the_event_limit() {
        let body = format!("{{\"events\":[{}0]}}", "0,".repeat(100_000));
        assert_eq!(
            parse_events(body.as_bytes(), BodyFormat::Json, 10).unwrap_err(),
            BodyError::TooManyEvents { limit: 10 }
        );
        assert_eq!(
            parse_events(b"{\"events\":[0,0]}", BodyFormat::Json, 2)
                .unwrap()
                .len(),
            2
        );
        let lines = "{}\n".repeat(11);
        assert_eq!(
            parse_events(lines.as_bytes(), BodyFormat::Ndjson, 10).unwrap_err(),
            BodyError::TooManyEvents { limit: 10 }
        );
        assert_eq!(
            parse_events(b"{\"events\":[],\"events\":[]}", BodyFormat::Json, 10).unwrap_err(),
            BodyError::MalformedJson
        );
        assert_eq!(
            parse_events(b"{}", BodyFormat::Json, 10).unwrap_err(),
            BodyError::MalformedJson
        );
    }

    #[test]
    fn decompression_charges_the_budget_and_stops_when_it_is_spent() {
        let budget = crate::MemoryBudget::new(1 << 20);
        let body = gzip(&vec![b' '; 4 << 20]);
        let mut charge = budget.charge(0).unwrap();
        let err = decode_body(body.into(), Encoding::Gzip, 8 << 20, &mut charge).unwrap_err();
        assert!(matches!(err, BodyError::Overloaded(_)), "{err:?}");
        drop(charge);
        assert_eq!(budget.used(), 0);
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }
}
