//! Events as JSON objects, the shape `POST /v1/events` accepts: one per line in NDJSON files
//! and request bodies, or inside `{"events": [...]}`.
//!
//! `{"event_id":"…","person_ref":"EMP-000001","app_id":"attendance","org_unit":"c01-t02",
//! "event_type":"check_in","trigger":"mandatory","started_at":"2026-11-02T08:15:07Z",
//! "duration_s":95,"data_elements":[]}`. Written by hand (no intermediate value) because
//! this runs once per event.

use std::fmt::Write as _;
use std::io::Write;

use crate::SimError;
use crate::event::SimEvent;

/// Appends the JSON object of `e` (no newline) to `out`.
pub fn encode_event(e: &SimEvent, out: &mut String) {
    let mut id = uuid::Uuid::encode_buffer();
    out.push_str("{\"event_id\":\"");
    out.push_str(
        uuid::Uuid::from_u128(e.event_id)
            .hyphenated()
            .encode_lower(&mut id),
    );
    field(out, "person_ref", &e.person_ref);
    field(out, "app_id", &e.app_id);
    field(out, "org_unit", &e.org_unit);
    field(out, "event_type", e.event_type.as_str());
    field(out, "trigger", e.trigger.as_str());
    out.push_str("\",\"started_at\":\"");
    push_rfc3339(out, e.started_at_ms);
    // Unwrap safety: writing to a String cannot fail.
    let _ = write!(
        out,
        "\",\"duration_s\":{},\"data_elements\":[",
        e.duration_s
    );
    for (i, element) in e.data_elements.iter().enumerate() {
        out.push_str(if i == 0 { "\"" } else { ",\"" });
        push_escaped(out, element);
        out.push('"');
    }
    out.push_str("]}");
}

/// `","name":"value` with `value` escaped; the opening quote of the previous value is open.
fn field(out: &mut String, name: &str, value: &str) {
    out.push_str("\",\"");
    out.push_str(name);
    out.push_str("\":\"");
    push_escaped(out, value);
}

fn push_escaped(out: &mut String, s: &str) {
    if !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// RFC 3339 in UTC with whole seconds, e.g. `2026-11-02T08:15:07Z` (sub-seconds dropped).
pub fn push_rfc3339(out: &mut String, ms: i64) {
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s) = (sod / 3600, sod / 60 % 60, sod % 60);
    let _ = write!(out, "{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z");
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Writes every event as one NDJSON line; returns the number written.
pub fn write_ndjson<W: Write>(
    events: impl IntoIterator<Item = SimEvent>,
    out: W,
) -> Result<u64, SimError> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let mut line = String::with_capacity(512);
    let mut n = 0;
    for e in events {
        line.clear();
        encode_event(&e, &mut line);
        line.push('\n');
        out.write_all(line.as_bytes())
            .map_err(SimError::io("NDJSON output"))?;
        n += 1;
    }
    out.flush().map_err(SimError::io("NDJSON output"))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_chrono() {
        for ms in [0, 1_795_000_000_999, -1, 951_782_400_000, 4_107_542_400_000] {
            let mut s = String::new();
            push_rfc3339(&mut s, ms);
            let t = chrono::DateTime::from_timestamp(ms.div_euclid(1000), 0).unwrap();
            assert_eq!(s, t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
    }

    #[test]
    fn escapes_strings() {
        let mut s = String::new();
        push_escaped(&mut s, "a\"b\\c\n");
        assert_eq!(s, r#"a\"b\\c\u000a"#);
    }
}
