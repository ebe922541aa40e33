//! Picks the cells each part of the report shows: the all-apps/all-units trend, the latest
//! week's comparison across apps or across org units (worst first, capped), and the
//! suppressed or undefined cells that must be listed rather than dropped.
//!
//! This module owns *which numbers appear where*; it knows nothing of HTML or charts. A
//! suppressed row's value never leaves this module.

use std::cmp::Ordering;

use crate::model::{ALL, IndexInfo, IndexRow};

/// At most this many apps or org units are drawn in a comparison chart.
pub(crate) const MAX_BARS: usize = 25;

/// A released value with its 95% interval (when both ends were published).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    pub value: f64,
    pub interval: Option<(f64, f64)>,
}

impl Estimate {
    /// Lower end of the interval, or the value itself when there is none.
    pub fn low(&self) -> f64 {
        self.interval.map_or(self.value, |(lo, _)| lo)
    }

    /// Upper end of the interval, or the value itself when there is none.
    pub fn high(&self) -> f64 {
        self.interval.map_or(self.value, |(_, hi)| hi)
    }
}

/// What a report cell shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell {
    /// A published value.
    Value(Estimate),
    /// Too few people: not published.
    Suppressed,
    /// No row, or a row without a value (e.g. a zero denominator).
    NoValue,
}

impl Cell {
    /// The cell a row (or its absence) stands for.
    pub fn of(row: Option<&IndexRow>) -> Cell {
        match row {
            None => Cell::NoValue,
            Some(r) if r.suppressed => Cell::Suppressed,
            Some(r) => r.value.map_or(Cell::NoValue, |value| {
                Cell::Value(Estimate {
                    value,
                    interval: interval(r),
                })
            }),
        }
    }

    /// The estimate, if the cell has one.
    pub fn estimate(&self) -> Option<Estimate> {
        match self {
            Cell::Value(e) => Some(*e),
            _ => None,
        }
    }
}

fn interval(row: &IndexRow) -> Option<(f64, f64)> {
    let (lo, hi) = (row.ci_low?, row.ci_high?);
    Some((lo.min(hi), lo.max(hi)))
}

/// A labelled cell: a week in a trend, or an app / org unit in a table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Labeled {
    pub label: String,
    pub cell: Cell,
    /// ε spent on the cell's release, when a row exists.
    pub epsilon: Option<f64>,
}

/// Which key a comparison varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dimension {
    /// Across apps, all org units together.
    Apps,
    /// Across org units, all apps together.
    OrgUnits,
}

impl Dimension {
    /// The varied key of `row`, if the row belongs to this comparison.
    fn key<'a>(&self, row: &'a IndexRow) -> Option<&'a str> {
        let (varied, fixed) = match self {
            Dimension::Apps => (&row.app_id, &row.org_unit),
            Dimension::OrgUnits => (&row.org_unit, &row.app_id),
        };
        (fixed == ALL && varied != ALL).then_some(varied.as_str())
    }
}

/// The latest week's comparison across one dimension.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Comparison {
    /// Published values, worst first, at most [`MAX_BARS`].
    pub shown: Vec<Labeled>,
    /// How many published values did not fit.
    pub hidden: usize,
    /// Keys whose cell was suppressed (sorted).
    pub suppressed: Vec<String>,
    /// Keys whose row had no value (sorted).
    pub no_value: Vec<String>,
}

impl Comparison {
    /// True when no row at all belongs to this comparison.
    pub fn is_empty(&self) -> bool {
        self.shown.is_empty() && self.suppressed.is_empty() && self.no_value.is_empty()
    }
}

/// The rows of one index.
pub(crate) fn rows_of<'a>(rows: &'a [IndexRow], index: &str) -> Vec<&'a IndexRow> {
    rows.iter().filter(|r| r.index == index).collect()
}

/// The all-apps/all-units cell of `week`.
pub(crate) fn total(rows: &[&IndexRow], week: &str) -> Cell {
    Cell::of(find_total(rows, week))
}

fn find_total<'a>(rows: &[&'a IndexRow], week: &str) -> Option<&'a IndexRow> {
    rows.iter()
        .copied()
        .find(|r| r.week == week && r.app_id == ALL && r.org_unit == ALL)
}

/// The all-apps/all-units cell of every week, in order.
pub(crate) fn trend(rows: &[&IndexRow], weeks: &[String]) -> Vec<Labeled> {
    weeks
        .iter()
        .map(|week| {
            let row = find_total(rows, week);
            Labeled {
                label: week.clone(),
                cell: Cell::of(row),
                epsilon: row.map(|r| r.epsilon),
            }
        })
        .collect()
}

/// The comparison of `week`'s cells across `dim`, worst first.
pub(crate) fn compare(
    rows: &[&IndexRow],
    info: &IndexInfo,
    week: &str,
    dim: Dimension,
) -> Comparison {
    let mut out = Comparison::default();
    let mut values = Vec::new();
    for row in rows.iter().filter(|r| r.week == week) {
        let Some(key) = dim.key(row) else { continue };
        let labeled = Labeled {
            label: key.to_owned(),
            cell: Cell::of(Some(row)),
            epsilon: Some(row.epsilon),
        };
        match labeled.cell {
            Cell::Value(_) => values.push(labeled),
            Cell::Suppressed => out.suppressed.push(labeled.label),
            Cell::NoValue => out.no_value.push(labeled.label),
        }
    }
    values.sort_by(|a, b| worst_first(a, b, info.higher_is_worse));
    out.hidden = values.len().saturating_sub(MAX_BARS);
    values.truncate(MAX_BARS);
    out.shown = values;
    out.suppressed.sort();
    out.no_value.sort();
    out
}

fn worst_first(a: &Labeled, b: &Labeled, higher_is_worse: bool) -> Ordering {
    let value = |l: &Labeled| l.cell.estimate().map_or(0.0, |e| e.value);
    let by_value = value(a).total_cmp(&value(b));
    let by_value = if higher_is_worse {
        by_value.reverse()
    } else {
        by_value
    };
    by_value.then_with(|| a.label.cmp(&b.label))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(app: &str, unit: &str, value: Option<f64>, suppressed: bool) -> IndexRow {
        IndexRow {
            index: "x".into(),
            week: "2026-W45".into(),
            app_id: app.into(),
            org_unit: unit.into(),
            value,
            ci_low: value.map(|v| v - 1.0),
            ci_high: value.map(|v| v + 1.0),
            epsilon: 0.1,
            suppressed,
            clause: String::new(),
        }
    }

    fn info(higher_is_worse: bool) -> IndexInfo {
        IndexInfo {
            name: "x".into(),
            title: "X".into(),
            unit: "count".into(),
            description: String::new(),
            clause: String::new(),
            not_measured: String::new(),
            higher_is_worse,
        }
    }

    #[test]
    fn suppressed_value_is_never_used() {
        let r = row("*", "*", Some(3.0), true);
        assert_eq!(Cell::of(Some(&r)), Cell::Suppressed);
    }

    #[test]
    fn compare_sorts_worst_first_and_lists_the_rest() {
        let rows = [
            row("a", "*", Some(1.0), false),
            row("b", "*", Some(5.0), false),
            row("c", "*", None, true),
            row("d", "*", None, false),
            row("*", "u1", Some(9.0), false),
            row("*", "*", Some(2.0), false),
        ];
        let refs: Vec<&IndexRow> = rows.iter().collect();
        let c = compare(&refs, &info(true), "2026-W45", Dimension::Apps);
        let labels: Vec<&str> = c.shown.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["b", "a"]);
        assert_eq!(c.suppressed, ["c"]);
        assert_eq!(c.no_value, ["d"]);
        let c = compare(&refs, &info(false), "2026-W45", Dimension::Apps);
        assert_eq!(c.shown[0].label, "a");
    }

    #[test]
    fn compare_caps_the_number_of_bars() {
        let rows: Vec<IndexRow> = (0..40)
            .map(|i| row("*", &format!("u{i}"), Some(f64::from(i)), false))
            .collect();
        let refs: Vec<&IndexRow> = rows.iter().collect();
        let c = compare(&refs, &info(true), "2026-W45", Dimension::OrgUnits);
        assert_eq!(c.shown.len(), MAX_BARS);
        assert_eq!(c.hidden, 40 - MAX_BARS);
        assert_eq!(c.shown[0].label, "u39");
    }
}
