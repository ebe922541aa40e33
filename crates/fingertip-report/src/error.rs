//! The crate's one error type. Messages name keys (index, week, app, unit, field), never a
//! released or pre-noise value.

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The input lists no weeks, so there is no headline week.
    #[error("the report input lists no weeks")]
    NoWeeks,
    /// A week is not of the form `YYYY-Www` (two-digit week 01–53).
    #[error("week {week:?} is not an ISO week of the form YYYY-Www")]
    InvalidWeek {
        /// The offending week string.
        week: String,
    },
    /// Two index descriptions share a name.
    #[error("index {index:?} is described more than once")]
    DuplicateIndex {
        /// The repeated name.
        index: String,
    },
    /// A row names an index that has no description, so it could not be shown.
    #[error("a row names index {index:?}, which has no description in the input")]
    UnknownIndex {
        /// The unknown index name.
        index: String,
    },
    /// A row names a week not listed in `weeks`, so it could not be shown.
    #[error("a row names week {week:?}, which is not listed in the input's weeks")]
    UnknownWeek {
        /// The unknown week.
        week: String,
    },
    /// Two rows describe the same cell.
    #[error("more than one row for {context}")]
    DuplicateCell {
        /// The cell's keys.
        context: String,
    },
    /// A number is NaN, infinite or (for privacy parameters) negative.
    #[error("{field} is not a valid finite number ({context})")]
    InvalidNumber {
        /// The field name.
        field: &'static str,
        /// Where it was found (keys only).
        context: String,
    },
    /// Plotters failed to draw a chart.
    #[error("could not draw chart {chart:?}: {message}")]
    Chart {
        /// The chart's title.
        chart: String,
        /// The plotting error.
        message: String,
    },
}

impl ReportError {
    /// Wraps a plotting error for the chart titled `chart`.
    pub(crate) fn chart(chart: &str, error: impl std::fmt::Display) -> Self {
        Self::Chart {
            chart: chart.to_owned(),
            message: error.to_string(),
        }
    }
}
