//! Scalar functions registered only in pipeline sessions (trusted person stages):
//! `ft_week(started_at)` and `ft_after_hours(started_at)` in the reporting time zone.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use datafusion::arrow::array::{AsArray, BooleanArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

use crate::PipelinesConfig;

fn timestamps(args: &[ColumnarValue]) -> Result<Vec<Option<i64>>> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let ts = datafusion::arrow::compute::cast(&arrays[0], &timestamp())?;
    Ok(ts
        .as_primitive::<TimestampMillisecondType>()
        .iter()
        .collect())
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// `ft_week(ts)`: the ISO week label in the reporting time zone.
pub fn week_udf(tz: Tz) -> ScalarUDF {
    let f = move |args: &[ColumnarValue]| {
        let ts = timestamps(args)?;
        let (labels, rows) = per_slot(&ts, tz, |ms| crate::weeks::label(ms, tz));
        let mut out = StringBuilder::with_capacity(ts.len(), ts.len() * 8);
        for row in rows {
            match row {
                Some(i) => out.append_value(&labels[i as usize]),
                None => out.append_null(),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    };
    create_udf(
        "ft_week",
        vec![timestamp()],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(f),
    )
}

/// `ft_after_hours(ts)`: true outside working hours or on a non-working day.
pub fn after_hours_udf(config: &PipelinesConfig, tz: Tz) -> ScalarUDF {
    let (start, end, days) = (
        config.work_start_hour,
        config.work_end_hour,
        config.working_days.clone(),
    );
    let after = move |ms: i64| {
        let t = DateTime::<Utc>::from_timestamp_millis(ms)
            .unwrap_or_default()
            .with_timezone(&tz);
        !(days.contains(&t.weekday().number_from_monday()) && (start..end).contains(&t.hour()))
    };
    let f = move |args: &[ColumnarValue]| {
        let (values, rows) = per_slot(&timestamps(args)?, tz, &after);
        let out: BooleanArray = rows
            .into_iter()
            .map(|r| r.map(|i| values[i as usize]))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    };
    create_udf(
        "ft_after_hours",
        vec![timestamp()],
        DataType::Boolean,
        Volatility::Immutable,
        Arc::new(f),
    )
}

/// Width of a memo slot. Every time zone's UTC offset today is a whole number of 15 minutes,
/// so local dates and hours change only on slot boundaries; `per_slot` still checks this.
const SLOT_MS: i64 = 15 * 60 * 1000;

/// Slots spanned by one batch beyond which `per_slot` stops memoizing (about 3 years).
const MAX_SLOTS: i64 = 100_000;

/// Evaluates `f` for each timestamp, at most once per 15-minute UTC slot where that is exact:
/// a slot's value is reused only when the zone's offset is the same at both ends of the slot
/// (local time runs straight through it) and `f` agrees at both ends (with at most one local
/// hour or date boundary inside, a value that changed would differ at the ends). Returns the
/// distinct values and, per row, the index of its value (`None` for null). Per-row evaluation
/// formatted a week label (and converted the time zone) for every event of every scan: the
/// biggest single cost of a pipeline run in the profile of docs/benchmarks.md.
fn per_slot<T: PartialEq>(
    ts: &[Option<i64>],
    tz: Tz,
    f: impl Fn(i64) -> T,
) -> (Vec<T>, Vec<Option<u32>>) {
    let slots = ts.iter().flatten().map(|ms| ms.div_euclid(SLOT_MS));
    let (lo, hi) = slots.fold((i64::MAX, i64::MIN), |(lo, hi), s| (lo.min(s), hi.max(s)));
    let memoize = hi >= lo && hi - lo < MAX_SLOTS;
    let mut memo: Vec<Option<u32>> = vec![None; if memoize { (hi - lo + 1) as usize } else { 0 }];
    let offset = |ms: i64| {
        DateTime::<Utc>::from_timestamp_millis(ms).map(|t| {
            tz.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        })
    };
    let mut values = Vec::new();
    let push = |values: &mut Vec<T>, v: T| {
        values.push(v);
        (values.len() - 1) as u32
    };
    let rows = ts
        .iter()
        .map(|t| {
            let ms = (*t)?;
            if !memoize {
                return Some(push(&mut values, f(ms)));
            }
            let slot = ms.div_euclid(SLOT_MS);
            let cell = &mut memo[(slot - lo) as usize];
            if let Some(i) = *cell {
                return Some(i);
            }
            let (start, end) = (slot * SLOT_MS, slot * SLOT_MS + SLOT_MS - 1);
            let value = f(ms);
            let constant = offset(start) == offset(end) && f(start) == value && f(end) == value;
            let i = push(&mut values, value);
            if constant {
                *cell = Some(i);
            }
            Some(i)
        })
        .collect();
    (values, rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memoized_values_equal_direct_evaluation() {
        // Hourly-ish instants over 5 weeks, minute offsets, a DST zone and a +05:45 zone.
        let ts: Vec<Option<i64>> = (0..5_000i64)
            .map(|i| (i % 97 != 0).then_some(1_790_000_000_000 + i * 2_111_111))
            .collect();
        for tz in [
            chrono_tz::Asia::Shanghai,
            chrono_tz::Europe::Berlin,
            chrono_tz::Asia::Kathmandu,
            chrono_tz::America::St_Johns,
        ] {
            let (labels, rows) = per_slot(&ts, tz, |ms| crate::weeks::label(ms, tz));
            for (t, r) in ts.iter().zip(&rows) {
                assert_eq!(
                    t.map(|ms| crate::weeks::label(ms, tz)),
                    r.map(|i| labels[i as usize].clone()),
                    "{tz} at {t:?}"
                );
            }
            let hour = |ms: i64| {
                DateTime::<Utc>::from_timestamp_millis(ms)
                    .unwrap()
                    .with_timezone(&tz)
                    .hour()
            };
            let (hours, rows) = per_slot(&ts, tz, hour);
            for (t, r) in ts.iter().zip(&rows) {
                assert_eq!(t.map(hour), r.map(|i| hours[i as usize]));
            }
        }
        let (values, rows) = per_slot(
            &[None, Some(i64::MIN / 2), Some(i64::MAX / 2)],
            chrono_tz::UTC,
            |ms| ms,
        );
        assert_eq!(rows, vec![None, Some(0), Some(1)]);
        assert_eq!(values, vec![i64::MIN / 2, i64::MAX / 2]);
    }
}
