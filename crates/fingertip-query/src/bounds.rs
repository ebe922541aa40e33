//! Contribution bounds: how much one person can change a released number.
//!
//! * `max_groups` (k): the number of groups one person contributes to.
//! * `max_rows` (R): the rows one person contributes to one group (counts, quantiles, AVG
//!   denominators).
//! * per measure, a row value range `[lo, hi]`; a person's total in a group is clamped to
//!   `[R·min(lo, 0), R·max(hi, 0)]` — or, when estimated, to `[-U, U]` ∩ that sign range.
//!
//! Each bound comes from the request when given; otherwise it is estimated privately from the
//! data (a DP quantile over persons, paid from the query's ε), within candidate ranges derived
//! from the event catalog. Estimation is what makes the defaults useful: a worker's check-in
//! seconds per org unit and quarter are far below "max duration × max rows".

use std::collections::BTreeMap;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};
use serde::{Deserialize, Serialize};

use crate::guard::TotalUdf;
use crate::refusal::{Refusal, code, refuse};
use crate::stages::Quantity;

/// Bounds a researcher can set (JSON `bounds`, CLI `--max-groups`, `--max-rows`, `--bound`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BoundsRequest {
    pub max_groups: Option<u32>,
    pub max_rows: Option<u32>,
    /// Row value ranges by output column name (alias) or aggregate name, e.g.
    /// `{"total": [0, 600]}` for `SUM(duration_s) AS total`.
    pub columns: BTreeMap<String, [f64; 2]>,
}

/// The bounds a release used, reported with the answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResolvedBounds {
    pub max_groups: u32,
    pub max_rows: u32,
    /// Which of the above were estimated privately.
    pub estimated: Vec<String>,
}

/// The largest magnitude a requested value bound may have: with `MAX_ROWS_CAP` rows and
/// many persons, sums stay far inside the integers the noise is drawn on.
pub const MAX_ABS_BOUND: f64 = 1e12;

/// Values one person gives a quantile in one group unless `max_rows` is set: few, so the
/// quantile's score moves little when a person is added or removed.
pub const QUANTILE_ROWS: u32 = 4;

/// The largest values the estimators consider.
pub const MAX_GROUPS_CAP: u32 = 128;
pub const MAX_ROWS_CAP: u32 = 100_000;

pub fn group_candidates(cap: u32) -> Vec<i64> {
    [
        1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128,
    ]
    .into_iter()
    .filter(|c| *c <= i64::from(cap))
    .collect()
}

/// A geometric grid `start, start·1.25, …` up to `end` (integers, deduplicated).
pub fn geometric(start: f64, end: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut x = start.max(1e-9);
    if !end.is_finite() {
        return out;
    }
    while x <= end * 1.0001 {
        out.push(x);
        x *= 1.25;
    }
    out
}

pub fn row_candidates() -> Vec<i64> {
    let mut c: Vec<i64> = geometric(1.0, f64::from(MAX_ROWS_CAP))
        .into_iter()
        .map(|x| x.round() as i64)
        .collect();
    c.dedup();
    c
}

/// The range of a per-row value expression, when it can be derived: `duration_s` lies in
/// `[0, max_duration_s]` (the catalog), literals are themselves, and `+ - * /` (by a nonzero
/// literal), unary minus, casts and `CASE` combine ranges.
pub fn row_range(e: &Expr, max_duration_s: f64) -> Option<(f64, f64)> {
    match e {
        Expr::Column(c) if c.name == "duration_s" => Some((0.0, max_duration_s)),
        Expr::Literal(v, _) => literal(v).map(|x| (x, x)),
        Expr::Cast(c) => row_range(&c.expr, max_duration_s),
        Expr::TryCast(c) => row_range(&c.expr, max_duration_s),
        Expr::Alias(a) => row_range(&a.expr, max_duration_s),
        // A total call is its subtree or NULL (and NULL rows are not aggregated).
        Expr::ScalarFunction(_) => row_range(TotalUdf::unwrap(e)?, max_duration_s),
        Expr::Negative(x) => row_range(x, max_duration_s).map(|(lo, hi)| (-hi, -lo)),
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (a, b) = (
                row_range(left, max_duration_s)?,
                row_range(right, max_duration_s)?,
            );
            combine(a, *op, b)
        }
        Expr::Case(c) => {
            let mut ranges: Vec<(f64, f64)> = c
                .when_then_expr
                .iter()
                .map(|(_, t)| row_range(t, max_duration_s))
                .collect::<Option<_>>()?;
            if let Some(e) = &c.else_expr {
                ranges.push(row_range(e, max_duration_s)?);
            }
            ranges
                .into_iter()
                .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
        }
        _ => None,
    }
}

fn literal(v: &ScalarValue) -> Option<f64> {
    let f = v
        .cast_to(&datafusion::arrow::datatypes::DataType::Float64)
        .ok()?;
    match f {
        ScalarValue::Float64(Some(x)) if x.is_finite() => Some(x),
        _ => None,
    }
}

fn combine(a: (f64, f64), op: Operator, b: (f64, f64)) -> Option<(f64, f64)> {
    let corners = |f: fn(f64, f64) -> f64| {
        let xs = [f(a.0, b.0), f(a.0, b.1), f(a.1, b.0), f(a.1, b.1)];
        (
            xs.iter().copied().fold(f64::INFINITY, f64::min),
            xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let out = match op {
        Operator::Plus => (a.0 + b.0, a.1 + b.1),
        Operator::Minus => (a.0 - b.1, a.1 - b.0),
        Operator::Multiply => corners(|x, y| x * y),
        Operator::Divide if b.0 == b.1 && b.0 != 0.0 => corners(|x, y| x / y),
        _ => return None,
    };
    (out.0.is_finite() && out.1.is_finite()).then_some(out)
}

/// Row ranges per quantity: the requested range of the measure that uses it, else derived.
pub fn quantity_ranges(
    quantities: &[Quantity],
    requested: &[Option<(f64, f64)>],
    max_duration_s: f64,
) -> Result<Vec<Option<(f64, f64)>>, Refusal> {
    quantities
        .iter()
        .zip(requested)
        .map(|(q, req)| match q {
            Quantity::Rows { .. } | Quantity::Present { .. } => Ok(None),
            Quantity::Total { value, .. } | Quantity::Values { value, .. } => {
                let range = req.or_else(|| row_range(value, max_duration_s));
                match range {
                    Some((lo, hi))
                        if lo <= hi && lo.abs().max(hi.abs()) <= MAX_ABS_BOUND =>
                    {
                        Ok(Some((lo, hi)))
                    }
                    Some(_) => refuse!(
                        code::INVALID_BOUNDS,
                        "the value range of `{value}` must be finite, lower ≤ upper, within ±{MAX_ABS_BOUND:e}; give bounds"
                    ),
                    None => refuse!(
                        code::MISSING_BOUNDS,
                        "no bounds are known for `{value}`; give its value range, e.g. \"bounds\": {{\"columns\": {{\"<output column>\": [0, 600]}}}}"
                    ),
                }
            }
        })
        .collect()
}
