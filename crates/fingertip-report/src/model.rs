//! The report's input: published index rows, index descriptions and the privacy summary, as
//! plain serde data, plus [`validate`], which checks an input before anything is rendered.
//!
//! This module owns *what the report is drawn from*. It holds only released (noisy,
//! suppressed) numbers; nothing here identifies a person.

use serde::{Deserialize, Serialize};

use crate::error::ReportError;

/// The key that stands for "all apps" or "all org units" in a roll-up row.
pub const ALL: &str = "*";

/// One released cell of one index: (index, week, app, org unit) with its noisy value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexRow {
    /// Index name, e.g. `burden_index`; must match an [`IndexInfo::name`].
    pub index: String,
    /// ISO week, `YYYY-Www`, e.g. `2026-W45`.
    pub week: String,
    /// App id, or `*` for all apps.
    pub app_id: String,
    /// Org-unit code, or `*` for all units.
    pub org_unit: String,
    /// Noisy value; `None` when suppressed or undefined (e.g. a zero denominator).
    pub value: Option<f64>,
    /// Lower end of the 95% interval.
    pub ci_low: Option<f64>,
    /// Upper end of the 95% interval.
    pub ci_high: Option<f64>,
    /// Privacy budget spent on this cell's release.
    pub epsilon: f64,
    /// True when too few people were in the cell to publish it. A suppressed row's value is
    /// never shown, even if one is present.
    pub suppressed: bool,
    /// The policy clause the index evidences (also in its [`IndexInfo`]).
    #[serde(default)]
    pub clause: String,
}

/// What an index is, in plain language, and how to read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexInfo {
    /// Machine name, e.g. `checkin_minutes_per_worker`.
    pub name: String,
    /// Human title, e.g. "Check-in minutes per worker".
    pub title: String,
    /// Unit, e.g. "minutes per worker per week"; a unit starting with "share" is shown as a
    /// percentage.
    pub unit: String,
    /// Plain-language description.
    pub description: String,
    /// The policy clause this index evidences.
    pub clause: String,
    /// What the index does not measure.
    pub not_measured: String,
    /// True when a higher value means more burden (the usual case).
    pub higher_is_worse: bool,
}

/// The privacy budget and parameters behind the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacySummary {
    /// ε spent by the run that produced this report.
    pub epsilon_this_run: f64,
    /// δ of the run that produced this report.
    pub delta_this_run: f64,
    /// ε spent so far in the current key epoch (including this run).
    pub epsilon_spent_in_epoch: f64,
    /// Total ε available per epoch.
    pub epsilon_total_per_epoch: f64,
    /// Key epochs the report covers, e.g. `["2026Q4"]`.
    pub epochs: Vec<String>,
    /// Groups with fewer (noisy) people than this are suppressed.
    pub min_persons: u32,
    /// Plain description of the privacy unit, e.g. "one staff member across all apps in one
    /// quarter".
    pub privacy_unit: String,
}

/// Everything the report is rendered from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    /// Report title.
    pub title: String,
    /// When the indices were generated (shown as given).
    pub generated_at: String,
    /// The ISO weeks covered; the latest (by `YYYY-Www` order) is the headline week.
    pub weeks: Vec<String>,
    /// The indices, in the order their sections appear.
    pub indices: Vec<IndexInfo>,
    /// The released rows.
    pub rows: Vec<IndexRow>,
    /// The privacy summary.
    pub privacy: PrivacySummary,
}

/// Checks that `input` can be rendered faithfully: weeks well-formed, index names unique,
/// every row naming a known index and week, no duplicate cells and only finite numbers.
pub fn validate(input: &ReportInput) -> Result<(), ReportError> {
    if input.weeks.is_empty() {
        return Err(ReportError::NoWeeks);
    }
    if let Some(week) = input.weeks.iter().find(|w| !is_iso_week(w)) {
        return Err(ReportError::InvalidWeek { week: week.clone() });
    }
    check_unique_indices(&input.indices)?;
    check_privacy(&input.privacy)?;
    check_rows(input)
}

/// Sorted, de-duplicated weeks of `input` (ISO `YYYY-Www` strings sort chronologically).
pub(crate) fn sorted_weeks(input: &ReportInput) -> Vec<String> {
    let mut weeks = input.weeks.clone();
    weeks.sort();
    weeks.dedup();
    weeks
}

fn is_iso_week(week: &str) -> bool {
    let b = week.as_bytes();
    b.len() == 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && &b[4..6] == b"-W"
        && b[6..].iter().all(u8::is_ascii_digit)
        && (1..=53).contains(&((b[6] - b'0') * 10 + (b[7] - b'0')))
}

fn check_unique_indices(indices: &[IndexInfo]) -> Result<(), ReportError> {
    let mut seen = std::collections::HashSet::new();
    match indices.iter().find(|i| !seen.insert(i.name.as_str())) {
        Some(dup) => Err(ReportError::DuplicateIndex {
            index: dup.name.clone(),
        }),
        None => Ok(()),
    }
}

fn check_privacy(p: &PrivacySummary) -> Result<(), ReportError> {
    let numbers = [
        ("privacy.epsilon_this_run", p.epsilon_this_run),
        ("privacy.delta_this_run", p.delta_this_run),
        ("privacy.epsilon_spent_in_epoch", p.epsilon_spent_in_epoch),
        ("privacy.epsilon_total_per_epoch", p.epsilon_total_per_epoch),
    ];
    match numbers.iter().find(|(_, v)| !v.is_finite() || *v < 0.0) {
        Some((field, _)) => Err(ReportError::InvalidNumber {
            field,
            context: "privacy summary".to_owned(),
        }),
        None => Ok(()),
    }
}

fn check_rows(input: &ReportInput) -> Result<(), ReportError> {
    let known: std::collections::HashSet<&str> =
        input.indices.iter().map(|i| i.name.as_str()).collect();
    let weeks: std::collections::HashSet<&str> = input.weeks.iter().map(String::as_str).collect();
    let mut cells = std::collections::HashSet::new();
    for row in &input.rows {
        if !known.contains(row.index.as_str()) {
            return Err(ReportError::UnknownIndex {
                index: row.index.clone(),
            });
        }
        if !weeks.contains(row.week.as_str()) {
            return Err(ReportError::UnknownWeek {
                week: row.week.clone(),
            });
        }
        check_row_numbers(row)?;
        let key = (&row.index, &row.week, &row.app_id, &row.org_unit);
        if !cells.insert(key) {
            return Err(ReportError::DuplicateCell {
                context: describe(row),
            });
        }
    }
    Ok(())
}

fn check_row_numbers(row: &IndexRow) -> Result<(), ReportError> {
    let numbers = [
        ("value", row.value),
        ("ci_low", row.ci_low),
        ("ci_high", row.ci_high),
        ("epsilon", Some(row.epsilon)),
    ];
    match numbers
        .iter()
        .find(|(_, v)| v.is_some_and(|v| !v.is_finite()))
    {
        Some((field, _)) => Err(ReportError::InvalidNumber {
            field,
            context: describe(row),
        }),
        None => Ok(()),
    }
}

/// Names a cell in an error message: keys only, never its value.
fn describe(row: &IndexRow) -> String {
    format!(
        "index {}, week {}, app {}, org unit {}",
        row.index, row.week, row.app_id, row.org_unit
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks() {
        assert!(is_iso_week("2026-W45"));
        assert!(is_iso_week("2026-W01"));
        assert!(!is_iso_week("2026-W5"));
        assert!(!is_iso_week("2026-W54"));
        assert!(!is_iso_week("2026-W00"));
        assert!(!is_iso_week("2026W045"));
    }
}
