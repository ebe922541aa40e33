//! ISO weeks in the reporting time zone: labels like `2026-W45`, and their UTC bounds.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::PipelineError;

/// The ISO week label of an instant in `tz`.
pub fn label(ms: i64, tz: Tz) -> String {
    let t = DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .with_timezone(&tz);
    let w = t.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// Parses `2026-W45` to (ISO year, week).
pub fn parse(label: &str) -> Result<(i32, u32), PipelineError> {
    let bad = || PipelineError::InvalidWeek(label.to_string());
    let (year, week) = label.split_once("-W").ok_or_else(bad)?;
    let (year, week): (i32, u32) = (
        year.parse().map_err(|_| bad())?,
        week.parse().map_err(|_| bad())?,
    );
    NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(bad)?;
    Ok((year, week))
}

/// The UTC start (ms) of an ISO week in `tz`.
pub fn start_ms(label: &str, tz: Tz) -> Result<i64, PipelineError> {
    let (year, week) = parse(label)?;
    let monday = NaiveDate::from_isoywd_opt(year, week, Weekday::Mon)
        .ok_or_else(|| PipelineError::InvalidWeek(label.into()))?;
    let local = monday.and_hms_opt(0, 0, 0).unwrap_or_default();
    Ok(tz
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or_default())
}

/// Every week label from `from` to `to` inclusive.
pub fn range(from: &str, to: &str, tz: Tz) -> Result<Vec<String>, PipelineError> {
    let (mut t, end) = (start_ms(from, tz)?, start_ms(to, tz)?);
    if end < t {
        return Err(PipelineError::InvalidWeek(format!(
            "{from}..{to} (the range is empty)"
        )));
    }
    let mut out = Vec::new();
    while t <= end && out.len() < 520 {
        out.push(label(t, tz));
        t += Duration::days(7).num_milliseconds();
    }
    Ok(out)
}

/// The last complete ISO week before `now_ms`.
pub fn last_complete(now_ms: i64, tz: Tz) -> String {
    label(now_ms - Duration::days(7).num_milliseconds(), tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_ranges() {
        let tz: Tz = "Asia/Shanghai".parse().unwrap();
        let ms = fingertip_model::parse_rfc3339_ms("2026-11-01T17:00:00Z").unwrap(); // Mon 01:00 local
        assert_eq!(label(ms, tz), "2026-W45");
        assert_eq!(label(ms - 3_600_000 * 2, tz), "2026-W44");
        assert_eq!(
            start_ms("2026-W45", tz).unwrap(),
            fingertip_model::parse_rfc3339_ms("2026-11-01T16:00:00Z").unwrap()
        );
        assert_eq!(
            range("2026-W52", "2027-W02", tz).unwrap(),
            vec!["2026-W52", "2026-W53", "2027-W01", "2027-W02"]
        );
        assert!(parse("2026-45").is_err() && parse("2026-W60").is_err());
    }
}
