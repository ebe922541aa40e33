//! Timestamps: RFC 3339 in and out, and coarsening.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch of an RFC 3339 timestamp (an offset is required).
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-02T08:15:00.000Z`.
pub fn format_rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| "invalid".to_string())
}

/// Rounds `ms` down to a multiple of `granularity_s` seconds (floor, also before 1970).
pub fn coarsen_ms(ms: i64, granularity_s: i64) -> i64 {
    let step = granularity_s.max(1) * 1000;
    ms.div_euclid(step) * step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_coarsen() {
        let ms = parse_rfc3339_ms("2026-11-02T08:15:42.123+08:00").unwrap();
        assert_eq!(
            format_rfc3339_ms(coarsen_ms(ms, 60)),
            "2026-11-02T00:15:00.000Z"
        );
        assert_eq!(parse_rfc3339_ms("2026-11-02 08:15"), None);
        assert_eq!(parse_rfc3339_ms("2026-11-02T08:15:00"), None);
        assert_eq!(coarsen_ms(-1, 60), -60_000);
    }
}
