//! The WAL payload codec: one record holds the accepted events of one request.
//!
//! Layout (little-endian): `version u8 = 1`, `app_id` (u8 length + bytes), `received_at_ms i64`,
//! `count u32`, then per event: `event_id [16]`, `person [16]`, `key_epoch`, `org_unit`,
//! `event_type` (each u8 length + bytes), `trigger u8`, `started_at_ms i64`, `duration_s f64`,
//! `n u16` data elements (each u8 length + bytes). Strings are at most 255 bytes; the model
//! limits them to 64.

use fingertip_model::Trigger;

const VERSION: u8 = 1;

/// One anonymized event, borrowed, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRef<'a> {
    pub event_id: u128,
    pub person: [u8; 16],
    pub key_epoch: &'a str,
    pub org_unit: &'a str,
    pub event_type: &'a str,
    pub trigger: Trigger,
    pub started_at_ms: i64,
    pub duration_s: f64,
    pub data_elements: &'a [&'a str],
}

/// One anonymized event, owned, as read back from the WAL.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub event_id: u128,
    pub person: [u8; 16],
    pub key_epoch: String,
    pub org_unit: String,
    pub event_type: String,
    pub trigger: Trigger,
    pub started_at_ms: i64,
    pub duration_s: f64,
    pub data_elements: Vec<String>,
}

impl StoredEvent {
    /// Borrows this event for re-encoding; `elements` must be its data elements.
    pub fn as_ref<'a>(&'a self, elements: &'a [&'a str]) -> EventRef<'a> {
        EventRef {
            event_id: self.event_id,
            person: self.person,
            key_epoch: &self.key_epoch,
            org_unit: &self.org_unit,
            event_type: &self.event_type,
            trigger: self.trigger,
            started_at_ms: self.started_at_ms,
            duration_s: self.duration_s,
            data_elements: elements,
        }
    }

    /// Borrows this event as the lake's writer reads it.
    pub fn view(&self) -> EventView<'_> {
        EventView {
            event_id: self.event_id,
            person: self.person,
            key_epoch: &self.key_epoch,
            org_unit: &self.org_unit,
            event_type: &self.event_type,
            trigger: self.trigger,
            started_at_ms: self.started_at_ms,
            duration_s: self.duration_s,
            data_elements: Elements::Owned(&self.data_elements),
        }
    }
}

impl From<EventView<'_>> for StoredEvent {
    fn from(v: EventView<'_>) -> Self {
        StoredEvent {
            event_id: v.event_id,
            person: v.person,
            key_epoch: v.key_epoch.to_owned(),
            org_unit: v.org_unit.to_owned(),
            event_type: v.event_type.to_owned(),
            trigger: v.trigger,
            started_at_ms: v.started_at_ms,
            duration_s: v.duration_s,
            data_elements: v.data_elements.iter().map(str::to_owned).collect(),
        }
    }
}

/// One event borrowed from a WAL payload (or from a [`StoredEvent`]): what compaction reads,
/// with no allocation per event, so its memory is the segment's bytes plus a fixed size per
/// event.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub event_id: u128,
    pub person: [u8; 16],
    pub key_epoch: &'a str,
    pub org_unit: &'a str,
    pub event_type: &'a str,
    pub trigger: Trigger,
    pub started_at_ms: i64,
    pub duration_s: f64,
    pub data_elements: Elements<'a>,
}

/// An event's data elements: still encoded in a payload the decoder checked, or owned strings.
#[derive(Debug, Clone, Copy)]
pub enum Elements<'a> {
    /// The `(u8 length, bytes)` pairs after the count, each checked to be UTF-8.
    Encoded(&'a [u8]),
    Owned(&'a [String]),
}

impl<'a> Elements<'a> {
    pub fn iter(self) -> impl Iterator<Item = &'a str> {
        let (mut encoded, owned): (&[u8], &[String]) = match self {
            Elements::Encoded(bytes) => (bytes, &[]),
            Elements::Owned(strings) => (&[], strings),
        };
        let decoded = std::iter::from_fn(move || {
            let (&n, rest) = encoded.split_first()?;
            let item = rest.get(..n as usize)?;
            encoded = &rest[n as usize..];
            Some(std::str::from_utf8(item).unwrap_or_default())
        });
        owned.iter().map(String::as_str).chain(decoded)
    }
}

/// The events of one request, borrowed from its payload.
#[derive(Debug, Clone)]
pub struct BatchView<'a> {
    pub app_id: &'a str,
    pub received_at_ms: i64,
    pub events: Vec<EventView<'a>>,
}

/// The events of one request as read back from the WAL.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBatch {
    pub app_id: String,
    pub received_at_ms: i64,
    pub events: Vec<StoredEvent>,
}

/// Builds one WAL payload.
#[derive(Debug)]
pub struct RecordBuilder {
    buf: Vec<u8>,
    count: u32,
    count_at: usize,
}

impl RecordBuilder {
    pub fn new(app_id: &str, received_at_ms: i64, capacity_events: usize) -> Self {
        let mut buf = Vec::with_capacity(16 + app_id.len() + capacity_events * 96);
        buf.push(VERSION);
        put_str(&mut buf, app_id);
        buf.extend_from_slice(&received_at_ms.to_le_bytes());
        let count_at = buf.len();
        buf.extend_from_slice(&0u32.to_le_bytes());
        Self {
            buf,
            count: 0,
            count_at,
        }
    }

    pub fn push(&mut self, e: &EventRef<'_>) {
        let b = &mut self.buf;
        b.extend_from_slice(&e.event_id.to_le_bytes());
        b.extend_from_slice(&e.person);
        put_str(b, e.key_epoch);
        put_str(b, e.org_unit);
        put_str(b, e.event_type);
        b.push(e.trigger.to_u8());
        b.extend_from_slice(&e.started_at_ms.to_le_bytes());
        b.extend_from_slice(&e.duration_s.to_le_bytes());
        let elements = &e.data_elements[..e.data_elements.len().min(usize::from(u16::MAX))];
        b.extend_from_slice(&(elements.len() as u16).to_le_bytes());
        for d in elements {
            put_str(b, d);
        }
        self.count += 1;
    }

    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf[self.count_at..self.count_at + 4].copy_from_slice(&self.count.to_le_bytes());
        self.buf
    }
}

/// Writes `s`, cut to at most 255 bytes at a character boundary (the model limits every
/// stored string to 64 characters; cutting inside a character would make the record undecodable).
fn put_str(buf: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.floor_char_boundary(255)];
    buf.push(bytes.len() as u8);
    buf.extend_from_slice(bytes);
}

/// A payload that does not decode (only possible with a checksum collision or a bug).
#[derive(Debug, thiserror::Error)]
#[error("WAL record payload does not decode at byte {offset}")]
pub struct DecodeError {
    pub offset: usize,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.buf.len());
        let end = end.ok_or(DecodeError { offset: self.pos })?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let at = self.pos;
        self.take(N)?
            .try_into()
            .map_err(|_| DecodeError { offset: at })
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.u8()? as usize;
        let at = self.pos;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes).map_err(|_| DecodeError { offset: at })
    }
    fn trigger(&mut self) -> Result<Trigger, DecodeError> {
        let at = self.pos;
        Trigger::from_u8(self.u8()?).ok_or(DecodeError { offset: at })
    }
    /// Fails unless every byte was read.
    fn finish(&self) -> Result<(), DecodeError> {
        match self.pos == self.buf.len() {
            true => Ok(()),
            false => Err(DecodeError { offset: self.pos }),
        }
    }
}

/// The batch header: the reader positioned at the first event, app id, receipt time, count.
fn decode_header(payload: &[u8]) -> Result<(Reader<'_>, &str, i64, usize), DecodeError> {
    let mut r = Reader {
        buf: payload,
        pos: 0,
    };
    if r.u8()? != VERSION {
        return Err(DecodeError { offset: 0 });
    }
    let app_id = r.str()?;
    let received_at_ms = i64::from_le_bytes(r.array()?);
    let count = u32::from_le_bytes(r.array()?) as usize;
    Ok((r, app_id, received_at_ms, count))
}

/// Decodes one payload into owned events.
pub fn decode(payload: &[u8]) -> Result<StoredBatch, DecodeError> {
    let view = decode_view(payload)?;
    Ok(StoredBatch {
        app_id: view.app_id.to_owned(),
        received_at_ms: view.received_at_ms,
        events: view.events.into_iter().map(StoredEvent::from).collect(),
    })
}

/// Decodes one payload into events borrowed from it, checking it exactly as [`decode`] does.
pub fn decode_view(payload: &[u8]) -> Result<BatchView<'_>, DecodeError> {
    let (mut r, app_id, received_at_ms, count) = decode_header(payload)?;
    let mut events = Vec::with_capacity(count.min(payload.len() / 40));
    for _ in 0..count {
        events.push(decode_event(&mut r)?);
    }
    r.finish()?;
    Ok(BatchView {
        app_id,
        received_at_ms,
        events,
    })
}

/// What WAL replay needs of a payload: who sent it, when, and its event ids.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchKeys {
    pub app_id: String,
    pub received_at_ms: i64,
    pub event_ids: Vec<u128>,
}

/// Reads a payload's event ids, checking its structure exactly as [`decode`] does but without
/// building the events: replay after a crash only rebuilds the dedup index, and building
/// owned events was most of its cost.
pub fn decode_keys(payload: &[u8]) -> Result<BatchKeys, DecodeError> {
    let (mut r, app_id, received_at_ms, count) = decode_header(payload)?;
    let mut event_ids = Vec::with_capacity(count.min(payload.len() / 40));
    for _ in 0..count {
        event_ids.push(decode_event(&mut r)?.event_id);
    }
    r.finish()?;
    Ok(BatchKeys {
        app_id: app_id.to_owned(),
        received_at_ms,
        event_ids,
    })
}

fn decode_event<'a>(r: &mut Reader<'a>) -> Result<EventView<'a>, DecodeError> {
    let event_id = u128::from_le_bytes(r.array()?);
    let person = r.array()?;
    let key_epoch = r.str()?;
    let org_unit = r.str()?;
    let event_type = r.str()?;
    let trigger = r.trigger()?;
    let started_at_ms = i64::from_le_bytes(r.array()?);
    let duration_s = f64::from_le_bytes(r.array()?);
    let n = u16::from_le_bytes(r.array()?);
    let start = r.pos;
    for _ in 0..n {
        r.str()?;
    }
    Ok(EventView {
        event_id,
        person,
        key_epoch,
        org_unit,
        event_type,
        trigger,
        started_at_ms,
        duration_s,
        data_elements: Elements::Encoded(&r.buf[start..r.pos]),
    })
}

/// The number of events in a payload built by [`RecordBuilder`] (0 if it is not one).
pub fn event_count(payload: &[u8]) -> u64 {
    let Some(&app_len) = payload.get(1) else {
        return 0;
    };
    let at = 2 + app_len as usize + 8;
    payload
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, |b| u64::from(u32::from_le_bytes(b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = RecordBuilder::new("attendance", 1_700_000_000_000, 2);
        let elements = ["hh.size", "hh.income"];
        let e = EventRef {
            event_id: 42,
            person: [7; 16],
            key_epoch: "2026Q4",
            org_unit: "u-1",
            event_type: "check_in",
            trigger: Trigger::Mandatory,
            started_at_ms: 1_700_000_000_000,
            duration_s: 12.5,
            data_elements: &elements,
        };
        b.push(&e);
        b.push(&EventRef {
            data_elements: &[],
            ..e.clone()
        });
        let payload = b.finish();
        let batch = decode(&payload).unwrap();
        let keys = decode_keys(&payload).unwrap();
        assert_eq!(keys.app_id, "attendance");
        assert_eq!(keys.received_at_ms, 1_700_000_000_000);
        assert_eq!(keys.event_ids, vec![42, 42]);
        assert_eq!(batch.app_id, "attendance");
        assert_eq!(batch.events.len(), 2);
        assert_eq!(batch.events[0].data_elements, vec!["hh.size", "hh.income"]);
        assert_eq!(batch.events[1].trigger, Trigger::Mandatory);
        assert_eq!(batch.events[1].duration_s, 12.5);
    }

    #[test]
    fn truncated_payloads_fail_cleanly() {
        let mut b = RecordBuilder::new("a", 0, 1);
        b.push(&EventRef {
            event_id: 1,
            person: [0; 16],
            key_epoch: "2026Q4",
            org_unit: "u",
            event_type: "login",
            trigger: Trigger::Unknown,
            started_at_ms: 0,
            duration_s: 0.0,
            data_elements: &["x"],
        });
        let bytes = b.finish();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
            assert!(decode_keys(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
