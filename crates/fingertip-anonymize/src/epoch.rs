//! Key epochs: which period an event's pseudonym key belongs to.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// How long one key epoch lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpochScheme {
    /// Calendar quarters in UTC, labelled `2026Q4`.
    #[default]
    Quarter,
    /// Calendar months in UTC, labelled `2026M11`.
    Month,
}

/// One key epoch: a label and the half-open UTC interval it covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyEpoch {
    pub label: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl EpochScheme {
    /// The epoch that contains the instant `ms` (milliseconds since the Unix epoch).
    pub fn epoch_of(self, ms: i64) -> KeyEpoch {
        let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
        let (year, month) = (t.year(), t.month());
        let (first, months, label) = match self {
            Self::Quarter => {
                let q = (month - 1) / 3;
                (q * 3 + 1, 3, format!("{year}Q{}", q + 1))
            }
            Self::Month => (month, 1, format!("{year}M{month:02}")),
        };
        let start = month_start(year, first);
        let end = add_months(year, first, months);
        KeyEpoch {
            label,
            start_ms: start,
            end_ms: end,
        }
    }

    /// Parses a label made by [`EpochScheme::epoch_of`] back into its epoch.
    pub fn parse(self, label: &str) -> Option<KeyEpoch> {
        let (year, rest) = label.split_at_checked(4)?;
        let year: i32 = year.parse().ok()?;
        let (first, months) = match (self, rest.as_bytes()) {
            (Self::Quarter, [b'Q', q @ b'1'..=b'4']) => (u32::from(q - b'0') * 3 - 2, 3),
            (Self::Month, [b'M', ..]) => {
                (rest[1..].parse().ok().filter(|m| (1..=12).contains(m))?, 1)
            }
            _ => return None,
        };
        let epoch = self.epoch_of(month_start(year, first));
        (epoch.label == label && months > 0).then_some(epoch)
    }
}

fn month_start(year: i32, month: u32) -> i64 {
    let date = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
    Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
        .timestamp_millis()
}

fn add_months(year: i32, month: u32, n: u32) -> i64 {
    let total = month - 1 + n;
    month_start(year + (total / 12) as i32, total % 12 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    #[test]
    fn quarters_and_months() {
        let q = EpochScheme::Quarter.epoch_of(ms("2026-11-28T10:00:00Z"));
        assert_eq!(q.label, "2026Q4");
        assert_eq!(q.start_ms, ms("2026-10-01T00:00:00Z"));
        assert_eq!(q.end_ms, ms("2027-01-01T00:00:00Z"));
        let m = EpochScheme::Month.epoch_of(ms("2026-12-31T23:59:59Z"));
        assert_eq!(m.label, "2026M12");
        assert_eq!(m.end_ms, ms("2027-01-01T00:00:00Z"));
        assert_eq!(EpochScheme::Quarter.parse("2026Q4"), Some(q));
        assert_eq!(EpochScheme::Month.parse("2026M12"), Some(m));
        assert_eq!(EpochScheme::Quarter.parse("2026Q5"), None);
        assert_eq!(EpochScheme::Month.parse("2026M13"), None);
        assert_eq!(EpochScheme::Quarter.parse("../x"), None);
    }
}
