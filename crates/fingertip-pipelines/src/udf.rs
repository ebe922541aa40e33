//! Scalar functions registered only in pipeline sessions (trusted person stages):
//! `ft_week(started_at)` and `ft_after_hours(started_at)` in the reporting time zone.

use std::sync::Arc;

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use datafusion::arrow::array::{AsArray, BooleanArray, StringArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMillisecondType};
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};

use crate::PipelinesConfig;

fn timestamps(args: &[ColumnarValue]) -> Result<Vec<Option<i64>>> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let ts = datafusion::arrow::compute::cast(&arrays[0], &timestamp())?;
    Ok(ts.as_primitive::<TimestampMillisecondType>().iter().collect())
}

fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

/// `ft_week(ts)`: the ISO week label in the reporting time zone.
pub fn week_udf(tz: Tz) -> ScalarUDF {
    let f = move |args: &[ColumnarValue]| {
        let out: StringArray = timestamps(args)?.into_iter().map(|t| t.map(|ms| crate::weeks::label(ms, tz))).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    };
    create_udf("ft_week", vec![timestamp()], DataType::Utf8, Volatility::Immutable, Arc::new(f))
}

/// `ft_after_hours(ts)`: true outside working hours or on a non-working day.
pub fn after_hours_udf(config: &PipelinesConfig, tz: Tz) -> ScalarUDF {
    let (start, end, days) = (config.work_start_hour, config.work_end_hour, config.working_days.clone());
    let after = move |ms: i64| {
        let t = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&tz);
        !(days.contains(&t.weekday().number_from_monday()) && (start..end).contains(&t.hour()))
    };
    let f = move |args: &[ColumnarValue]| {
        let out: BooleanArray = timestamps(args)?.into_iter().map(|t| t.map(&after)).collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    };
    create_udf("ft_after_hours", vec![timestamp()], DataType::Boolean, Volatility::Immutable, Arc::new(f))
}
