//! Picks the cells each part of the report shows: the all-apps/all-units trend, the latest
//! week's comparison across apps or across org units (worst first, capped), and the
//! suppressed or undefined cells that must be listed rather than dropped.
//!
//! This module owns *which numbers appear where*; it knows nothing of HTML or charts. A
//! suppressed row's value never leaves this module.

use std::cmp::Ordering;

use crate::model::{ALL, IndexInfo, IndexRow};
use crate::text::Scale;

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

    /// False when the 95% interval is too wide to say anything about this cell on its own: its
    /// half-width is more than [`NOISE_SHARE`] of the value, or for a share more than
    /// [`NOISE_POINTS`]. A value without an interval is taken as it is.
    pub fn informative(&self, scale: Scale) -> bool {
        let half = (self.high() - self.low()) / 2.0;
        match scale {
            Scale::Percent => half <= NOISE_POINTS,
            Scale::Number => half <= NOISE_SHARE * self.value.abs(),
        }
    }
}

/// Org units whose interval's half-width exceeds this share of their value are listed, not
/// drawn: a bar whose interval reaches from half to one and a half times itself is noise.
pub(crate) const NOISE_SHARE: f64 = 0.5;
/// The same for shares, in proportion points (0.25 = 25 percentage points).
pub(crate) const NOISE_POINTS: f64 = 0.25;

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
    /// Org units whose interval is too wide to compare them ([`Estimate::informative`]):
    /// named, not drawn; their finest informative level is the all-units value (sorted).
    pub too_uncertain: Vec<String>,
}

impl Comparison {
    /// True when no row at all belongs to this comparison.
    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
            && self.suppressed.is_empty()
            && self.no_value.is_empty()
            && self.too_uncertain.is_empty()
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
    let scale = Scale::of(&info.unit);
    for row in rows.iter().filter(|r| r.week == week) {
        let Some(key) = dim.key(row) else { continue };
        let labeled = Labeled {
            label: key.to_owned(),
            cell: Cell::of(Some(row)),
            epsilon: Some(row.epsilon),
        };
        match labeled.cell {
            Cell::Value(e) if dim == Dimension::OrgUnits && !e.informative(scale) => {
                out.too_uncertain.push(labeled.label)
            }
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
    out.too_uncertain.sort();
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
    fn org_units_whose_interval_is_noise_are_listed_not_drawn() {
        let mut wide = row("*", "u2", Some(10.0), false);
        (wide.ci_low, wide.ci_high) = (Some(0.0), Some(20.0));
        let rows = [
            row("*", "u1", Some(10.0), false),
            wide,
            row("a", "*", Some(0.5), false),
        ];
        let refs: Vec<&IndexRow> = rows.iter().collect();
        let c = compare(&refs, &info(true), "2026-W45", Dimension::OrgUnits);
        let labels: Vec<&str> = c.shown.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(
            (labels, c.too_uncertain),
            (vec!["u1"], vec!["u2".to_string()])
        );
        // Apps are headline numbers: drawn whatever their interval (±1 on 0.5 here).
        let c = compare(&refs, &info(true), "2026-W45", Dimension::Apps);
        assert!(c.too_uncertain.is_empty() && c.shown.len() == 1);
        let share = Estimate {
            value: 0.9,
            interval: Some((0.55, 1.25)),
        };
        assert!(share.informative(Scale::Number) && !share.informative(Scale::Percent));
    }

    #[test]
    fn compare_caps_the_number_of_bars() {
        let rows: Vec<IndexRow> = (0..40)
            .map(|i| row("*", &format!("u{i}"), Some(f64::from(i + 10)), false))
            .collect();
        let refs: Vec<&IndexRow> = rows.iter().collect();
        let c = compare(&refs, &info(true), "2026-W45", Dimension::OrgUnits);
        assert_eq!(c.shown.len(), MAX_BARS);
        assert_eq!(c.hidden, 40 - MAX_BARS);
        assert_eq!(c.shown[0].label, "u39");
    }
}
