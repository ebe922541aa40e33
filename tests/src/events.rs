//! Valid (and deliberately invalid) events for `POST /v1/events`, and the bodies that carry
//! them: `{"events": [...]}` JSON, NDJSON, gzip and zstd.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// RFC 3339 (UTC) of `minutes_ago` minutes before now, with seconds and milliseconds that are
/// not zero, so coarsening to the minute is visible.
pub fn started_at(minutes_ago: i64) -> String {
    let ms = now_ms() - minutes_ago * 60_000;
    let ms = ms - ms.rem_euclid(60_000) + 37_123;
    let ms = if ms > now_ms() { ms - 60_000 } else { ms };
    fingertip_model::format_rfc3339_ms(ms)
}

/// A fresh random UUID (v4) as text.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().hyphenated().to_string()
}

const TYPES: [(&str, f64); 6] = [
    ("check_in", 60.0),
    ("form_submit", 300.0),
    ("proof_upload", 45.0),
    ("login", 20.0),
    ("session", 900.0),
    ("group_demand", 120.0),
];

/// One valid event: `n` picks its type, unit, person and minute.
pub fn event(n: usize) -> Value {
    let (event_type, duration) = TYPES[n % TYPES.len()];
    let trigger = ["mandatory", "reminder", "voluntary", "unknown"][n % 4];
    json!({
        "event_id": new_id(),
        "person_ref": format!("EMP-{:05}", n % 97),
        "org_unit": format!("unit-{}", n % 3),
        "event_type": event_type,
        "trigger": trigger,
        "started_at": started_at(2 + (n % 50) as i64),
        "duration_s": duration,
        "data_elements": if n.is_multiple_of(2) { json!(["hh.size", "hh.income"]) } else { json!([]) },
    })
}

/// `n` valid events with fresh ids.
pub fn events(n: usize) -> Vec<Value> {
    (0..n).map(event).collect()
}

/// The `event_id` of each event.
pub fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// `{"events": [...]}` as bytes.
pub fn json_body(events: &[Value]) -> Vec<u8> {
    json!({ "events": events }).to_string().into_bytes()
}

/// One event per line.
pub fn ndjson_body(events: &[Value]) -> Vec<u8> {
    let mut out = String::new();
    for e in events {
        out.push_str(&e.to_string());
        out.push('\n');
    }
    out.into_bytes()
}

/// `e` with `field` set to `value` (`Value::Null` removes the field).
pub fn with(mut e: Value, field: &str, value: Value) -> Value {
    let map = e.as_object_mut().expect("an event object");
    if value.is_null() {
        map.remove(field);
    } else {
        map.insert(field.to_string(), value);
    }
    e
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    zstd::encode_all(bytes, 3).expect("zstd")
}

/// A gzip body (concatenated members) that decompresses to `mib` MiB of zeros.
pub fn gzip_bomb(mib: usize) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; 1 << 20]).expect("gzip");
    enc.finish().expect("gzip").repeat(mib)
}

/// A zstd body (concatenated frames) that decompresses to `mib` MiB of zeros.
pub fn zstd_bomb(mib: usize) -> Vec<u8> {
    let frame = zstd::encode_all(&vec![0u8; 16 << 20][..], 19).expect("zstd");
    frame.repeat(mib.div_ceil(16))
}
