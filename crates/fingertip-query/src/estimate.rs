//! Private bound estimation: the bounds a request did not give are chosen from the data, each
//! person contributing one value to each estimate, with OpenDP mechanisms paid from the
//! query's ε (`[query] estimation_share`, split evenly):
//!
//! 1. the number of persons `n` (discrete Laplace), which sets the cost of a grid step;
//! 2. `max_groups`: a private upper bound (report-noisy-max, see `fingertip_dp::upper_bound`) of
//!    the number of groups per person — the smallest candidate past which the next step would
//!    leave out fewer than max(0.5%·n, 2/ε) more persons (a query grouped by `org_unit` alone
//!    takes 1 without estimating: staff work in one org unit);
//! 3. `max_rows`: likewise of a person's largest row count in a group;
//! 4. a total's clamp `U`: likewise of a person's largest |total| in a group, on a geometric
//!    grid derived from the value's catalog range.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::logical_expr::LogicalPlan;
use fingertip_dp::{laplace, upper_bound};

use crate::bounds::{self, BoundsRequest, MAX_GROUPS_CAP, MAX_ROWS_CAP, ResolvedBounds};
use crate::error::QueryError;
use crate::run::Run;
use crate::stages::{self, Quantity, StageBounds, quantity_col};

/// A grid step must leave out at least this share of persons to be worth taking.
const STEP_SHARE: f64 = 0.005;

/// Which bounds must be estimated.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    pub groups: bool,
    pub rows: bool,
    /// Quantities (totals) whose clamp must be estimated.
    pub totals: Vec<usize>,
    /// Quantities (quantiles) whose value range's upper end must be estimated.
    pub values: Vec<usize>,
}

impl Needs {
    /// `one_group_per_person`: the query is grouped by `org_unit` alone, where a person belongs
    /// to one group by construction of the data (staff work in one org unit).
    pub fn of(
        grouped: bool,
        one_group_per_person: bool,
        quantities: &[Quantity],
        req: &BoundsRequest,
        requested: &[Option<(f64, f64)>],
    ) -> Self {
        let counts_rows = quantities
            .iter()
            .any(|q| matches!(q, Quantity::Rows { .. }));
        let totals = quantities
            .iter()
            .enumerate()
            .filter(|(i, q)| matches!(q, Quantity::Total { .. }) && requested[*i].is_none())
            .map(|(i, _)| i)
            .collect();
        let values = quantities
            .iter()
            .enumerate()
            .filter(|(i, q)| matches!(q, Quantity::Values { .. }) && requested[*i].is_none())
            .map(|(i, _)| i)
            .collect();
        let groups = grouped && req.max_groups.is_none() && !one_group_per_person;
        Self {
            groups,
            rows: counts_rows && req.max_rows.is_none(),
            totals,
            values,
        }
    }

    /// Estimates to pay for, including the person count that calibrates them.
    pub fn count(&self) -> usize {
        let n = usize::from(self.groups)
            + usize::from(self.rows)
            + self.totals.len()
            + self.values.len();
        if n > 0 { n + 1 } else { 0 }
    }
}

/// The bounds of one release.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub max_groups: u32,
    pub max_rows: u32,
    pub quantile_rows: u32,
    /// Per quantity: an estimated clamp `U` of a total.
    pub totals: Vec<Option<f64>>,
    pub ranges: Vec<Option<(f64, f64)>>,
    pub estimated: Vec<String>,
}

impl Resolved {
    /// Clamp ranges per quantity for the release stage.
    pub fn stage_bounds(&self, quantities: &[Quantity]) -> StageBounds {
        let r = f64::from(self.max_rows);
        let ranges = quantities
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let (lo, hi) = self.ranges[i].unwrap_or((0.0, 0.0));
                match (q, self.totals[i]) {
                    (Quantity::Rows { .. }, _) => (0.0, r),
                    (Quantity::Present { .. }, _) => (0.0, 1.0),
                    (Quantity::Total { .. }, Some(u)) => (
                        if lo < 0.0 { -u } else { 0.0 },
                        if hi > 0.0 { u } else { 0.0 },
                    ),
                    (Quantity::Total { .. }, None) => (r * lo.min(0.0), r * hi.max(0.0)),
                    (Quantity::Values { .. }, _) => (lo, hi),
                }
            })
            .collect();
        StageBounds {
            max_groups: self.max_groups,
            max_rows: self.max_rows,
            quantile_rows: self.quantile_rows,
            ranges,
        }
    }

    pub fn report(&self) -> ResolvedBounds {
        ResolvedBounds {
            max_groups: self.max_groups,
            max_rows: self.max_rows,
            estimated: self.estimated.clone(),
        }
    }
}

/// Resolves every bound: requested, or estimated from the person stage.
pub async fn resolve(
    run: &Run<'_>,
    person: &LogicalPlan,
    req: &BoundsRequest,
    ranges: &[Option<(f64, f64)>],
    needs: &Needs,
) -> Result<Resolved, QueryError> {
    let grouped = !run.analyzed.aggregate.group_expr.is_empty();
    let mut out = Resolved {
        max_groups: if grouped {
            req.max_groups.unwrap_or(1).clamp(1, MAX_GROUPS_CAP)
        } else {
            1
        },
        max_rows: req.max_rows.unwrap_or(1).clamp(1, MAX_ROWS_CAP),
        quantile_rows: req
            .max_rows
            .unwrap_or(bounds::QUANTILE_ROWS)
            .clamp(1, MAX_ROWS_CAP),
        totals: vec![None; ranges.len()],
        ranges: ranges.to_vec(),
        estimated: Vec::new(),
    };
    if needs.count() == 0 {
        return Ok(out);
    }
    let plan = stages::estimation_stage(person.clone(), &run.quantities.list)
        .map_err(QueryError::engine)?;
    let batches = run
        .ctx
        .execute_logical_plan(plan)
        .await
        .map_err(QueryError::engine)?
        .collect()
        .await
        .map_err(QueryError::engine)?;
    let eps = run.split.estimate_each;
    let noise = run.noise;
    let groups: Vec<i64> = column_f64(&batches, "__ft_groups")
        .into_iter()
        .map(|v| v as i64)
        .collect();
    let n = laplace(noise, &[groups.len() as i64], 1, 1, eps)?.values[0];
    // A step up the grid must also be worth about one noise scale, or small budgets overshoot.
    let step = ((n as f64 * STEP_SHARE).round() as i64)
        .max((2.0 / eps).ceil() as i64)
        .max(1);
    if needs.groups {
        out.max_groups = upper_bound(
            noise,
            &groups,
            &bounds::group_candidates(MAX_GROUPS_CAP),
            step,
            eps,
        )?
        .max(1) as u32;
        out.estimated.push("max_groups".into());
    }
    if needs.rows {
        let rows = per_person_rows(&batches, &run.quantities.list);
        out.max_rows =
            upper_bound(noise, &rows, &bounds::row_candidates(), step, eps)?.max(1) as u32;
        out.estimated.push("max_rows".into());
    }
    for &i in &needs.totals {
        let (lo, hi) = ranges[i].unwrap_or((0.0, 1.0));
        let scale = lo.abs().max(hi.abs()).max(1e-9);
        let unit = scale / 64.0;
        let values: Vec<i64> = column_f64(&batches, &quantity_col(i))
            .into_iter()
            .map(|v| (v / unit).round() as i64)
            .collect();
        let mut candidates: Vec<i64> = bounds::geometric(scale / 65536.0, scale * 1e5)
            .into_iter()
            .map(|c| (c / unit).round() as i64)
            .collect();
        candidates.dedup();
        let chosen = upper_bound(noise, &values, &candidates, step, eps)?;
        out.totals[i] = Some((chosen as f64 * unit).max(unit));
        out.estimated.push(format!(
            "contribution bound of {}",
            describe(&run.quantities.list[i])
        ));
    }
    for &i in &needs.values {
        if let Some(range) = estimate_value_range(&batches, i, ranges[i], step, eps, noise)? {
            out.ranges[i] = Some(range);
            out.estimated.push(format!(
                "value range of {}",
                describe(&run.quantities.list[i])
            ));
        }
    }
    Ok(out)
}

/// The upper end of a quantile's value range: a private upper bound of each person's largest
/// value, on a geometric grid inside the catalog range (one value per person). A range that
/// reaches below zero is kept as it is.
fn estimate_value_range(
    batches: &[RecordBatch],
    i: usize,
    range: Option<(f64, f64)>,
    step: i64,
    eps: f64,
    noise: fingertip_dp::Noise,
) -> Result<Option<(f64, f64)>, QueryError> {
    let Some((lo, hi)) = range.filter(|(lo, hi)| *lo >= 0.0 && hi > lo) else {
        return Ok(None);
    };
    let unit = (hi - lo) / 65536.0;
    let values: Vec<i64> = column_f64(batches, &stages::value_col(i))
        .into_iter()
        .map(|v| ((v - lo).max(0.0) / unit).round() as i64)
        .collect();
    let mut candidates: Vec<i64> = bounds::geometric((hi - lo) / 4096.0, hi - lo)
        .into_iter()
        .map(|c| (c / unit).round() as i64)
        .collect();
    candidates.dedup();
    let chosen = upper_bound(noise, &values, &candidates, step, eps)?;
    Ok(Some((lo, (lo + chosen as f64 * unit).min(hi))))
}

fn describe(q: &Quantity) -> String {
    match q {
        Quantity::Total { value, .. } | Quantity::Values { value, .. } => format!("`{value}`"),
        Quantity::Rows { .. } => "row counts".into(),
        Quantity::Present { .. } => "persons".into(),
    }
}

fn column_f64(batches: &[RecordBatch], name: &str) -> Vec<f64> {
    let mut out = Vec::new();
    for b in batches {
        let Some(c) = b.column_by_name(name) else {
            continue;
        };
        let Ok(f) = datafusion::arrow::compute::cast(c, &DataType::Float64) else {
            continue;
        };
        let f = f.as_primitive::<Float64Type>();
        out.extend((0..f.len()).map(|i| if f.is_null(i) { 0.0 } else { f.value(i) }));
    }
    out
}

/// Per person, the largest row count of any row-counting quantity in any group.
fn per_person_rows(batches: &[RecordBatch], quantities: &[Quantity]) -> Vec<i64> {
    let columns: Vec<Vec<f64>> = quantities
        .iter()
        .enumerate()
        .filter(|(_, q)| matches!(q, Quantity::Rows { .. }))
        .map(|(i, _)| column_f64(batches, &quantity_col(i)))
        .collect();
    let persons = columns.first().map_or(0, Vec::len);
    (0..persons)
        .map(|p| columns.iter().map(|c| c[p]).fold(0.0, f64::max) as i64)
        .collect()
}
