//! Local calendar arithmetic: the simulated days (local dates in a time zone), ISO week labels
//! such as `2026-W45`, and where an instant falls in local time.

use chrono::{Datelike, NaiveDate, Offset, TimeZone};
use chrono_tz::Tz;

const MS_PER_DAY: i64 = 86_400_000;
/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const UNIX_EPOCH_FROM_CE: i64 = 719_163;

/// One simulated local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Day {
    /// The instant of local midnight, using the UTC offset in force at local noon.
    pub base_ms: i64,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u32,
}

impl Day {
    /// The instant `seconds` after local midnight (may lie in the next day for large values).
    pub fn at(&self, seconds: u32) -> i64 {
        self.base_ms + i64::from(seconds) * 1000
    }

    pub fn is_weekend(&self) -> bool {
        self.weekday >= 5
    }
}

/// The `n` local days ending with the local date of `end_ms` (oldest first).
pub fn days_ending_at(tz: Tz, end_ms: i64, n: u32) -> Vec<Day> {
    let end_day = local_day(tz, end_ms);
    let first = end_day - i64::from(n) + 1;
    (first..=end_day).map(|d| day(tz, d)).collect()
}

fn day(tz: Tz, local_day: i64) -> Day {
    let date = date_of_day(local_day);
    let noon = date.and_hms_opt(12, 0, 0).unwrap_or_default();
    let offset_s = tz
        .from_local_datetime(&noon)
        .earliest()
        .map_or(0, |t| t.offset().fix().local_minus_utc());
    Day {
        base_ms: local_day * MS_PER_DAY - i64::from(offset_s) * 1000,
        weekday: date.weekday().num_days_from_monday(),
    }
}

fn date_of_day(local_day: i64) -> NaiveDate {
    let ce = i32::try_from(local_day + UNIX_EPOCH_FROM_CE).unwrap_or(1);
    NaiveDate::from_num_days_from_ce_opt(ce).unwrap_or_default()
}

/// Seconds since 1970-01-01T00:00 *local* time of the instant `ms`.
pub fn local_seconds(tz: Tz, ms: i64) -> i64 {
    let secs = ms.div_euclid(1000);
    let offset = chrono::DateTime::from_timestamp(secs, 0).map_or(0, |t| {
        tz.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    });
    secs + i64::from(offset)
}

/// The local day number (days since 1970-01-01 local) of the instant `ms`.
pub fn local_day(tz: Tz, ms: i64) -> i64 {
    local_seconds(tz, ms).div_euclid(86_400)
}

/// The Monday (as a local day number) of the ISO week containing `local_day`.
pub fn monday_of(local_day: i64) -> i64 {
    local_day - (local_day + 3).rem_euclid(7)
}

/// The ISO week label of a local day, e.g. `2026-W45`.
pub fn iso_week_label(local_day: i64) -> String {
    let week = date_of_day(local_day).iso_week();
    format!("{:04}-W{:02}", week.year(), week.week())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        fingertip_model::parse_rfc3339_ms(s).unwrap()
    }

    #[test]
    fn weeks_and_local_days() {
        let tz = chrono_tz::Asia::Shanghai;
        // Sunday 2026-11-08 23:30 in Shanghai is still W45; Monday 00:30 is W46.
        let sun = local_day(tz, ms("2026-11-08T15:30:00Z"));
        let mon = local_day(tz, ms("2026-11-08T16:30:00Z"));
        assert_eq!(iso_week_label(sun), "2026-W45");
        assert_eq!(iso_week_label(mon), "2026-W46");
        assert_eq!(monday_of(sun) + 7, monday_of(mon));
        assert_eq!(
            iso_week_label(local_day(tz, ms("2027-01-01T04:00:00Z"))),
            "2026-W53"
        );
        assert_eq!(
            iso_week_label(local_day(tz, ms("2024-12-30T04:00:00Z"))),
            "2025-W01"
        );
    }

    #[test]
    fn days_start_at_local_midnight() {
        let tz = chrono_tz::Asia::Shanghai;
        let days = days_ending_at(tz, ms("2026-11-08T15:30:00Z"), 7);
        assert_eq!(days.len(), 7);
        assert_eq!(days[0].base_ms, ms("2026-11-01T16:00:00Z"));
        assert_eq!(days[0].weekday, 0);
        assert_eq!(days[6].at(8 * 3600), ms("2026-11-08T00:00:00Z"));
        assert!(days[6].is_weekend());
    }
}
