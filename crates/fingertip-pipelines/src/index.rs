//! One index pipeline: its person stage, the per-level clipped sums, noise, and the values
//! with their 95% intervals, published over the cells the people release kept.
//!
//! Bounding: per level, one person's numerator contributions across all cells of the run are
//! scaled down together so that their norm is at most a bound (likewise the denominator), then
//! truncated towards zero to an integer number of units, so a person moves the vector of cell
//! sums by at most that bound. Under ρ (zCDP, the default) the norm is L2 and the bound
//! `numerator_per_week × √weeks` — a person within the weekly bound every week is never
//! clipped — with discrete Gaussian noise; under ε it is L1 and `numerator_per_week × weeks`,
//! with discrete Laplace noise.

use std::collections::BTreeMap;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;
use fingertip_dp::{Bound, Budget, Cost, Noise, fixed_point_unit, release_sums};

use crate::levels::{Cell, Level};
use crate::people::{People, cells_with};
use crate::spec::{Combine, Kind, PipelineSpec};
use crate::stage::{OnDisk, on_disk};
use crate::{IndexRow, PipelineError};

/// A noisy sum with its interval half-widths.
#[derive(Debug, Clone, Copy)]
struct Noisy {
    value: f64,
    half95: f64,
    half975: f64,
}

/// Releases `spec` for every published cell.
pub async fn release(
    ctx: &SessionContext,
    spec: &PipelineSpec,
    people: &People,
    weeks: usize,
    noise: Noise,
    budget: Budget,
) -> Result<(Vec<IndexRow>, Cost), PipelineError> {
    let _stage = register_person_stage(ctx, spec).await?;
    let mut cost = Cost::default();
    let quantities = if spec.own_denominator() { 2 } else { 1 };
    let norm = Norm::of(budget);
    let mut rows = Vec::new();
    for &level in &spec.levels {
        let part = budget.share(level.share(&spec.levels)).split(quantities);
        let cells: Vec<Cell> = people
            .cells
            .keys()
            .filter(|c| c.level() == level)
            .cloned()
            .collect();
        let published: Vec<&Cell> = cells
            .iter()
            .filter(|c| !people.cells[c].suppressed)
            .collect();
        let bounds = spec.bounds.clone().unwrap_or_default();
        let num = noisy_sums(
            ctx,
            spec,
            level,
            "numerator",
            norm.bound(bounds.numerator_per_week, weeks),
            &published,
            noise,
            part,
        )
        .await?;
        cost = cost.plus(num.1);
        let num = num.0;
        let den = match bounds
            .denominator_per_week
            .filter(|_| spec.own_denominator())
        {
            Some(b) => Some(
                noisy_sums(
                    ctx,
                    spec,
                    level,
                    "denominator",
                    norm.bound(b, weeks),
                    &published,
                    noise,
                    part,
                )
                .await?,
            ),
            None => None,
        };
        let den = den.map(|(sums, c)| {
            cost = cost.plus(c);
            sums
        });
        for cell in cells {
            rows.push(row(
                spec,
                &cell,
                people,
                num.get(&cell).copied(),
                den.as_ref().and_then(|d| d.get(&cell).copied()),
            ));
        }
    }
    Ok((rows, cost))
}

/// Runs `spec`'s person stage into the table `person_stage`, on disk while the value lives.
pub async fn register_person_stage(
    ctx: &SessionContext,
    spec: &PipelineSpec,
) -> Result<OnDisk, PipelineError> {
    let sql = spec.person_sql.as_deref().unwrap_or_default();
    let invalid = |m: String| PipelineError::InvalidSpec {
        path: spec.path.clone(),
        message: m,
    };
    let df = ctx
        .sql(sql)
        .await
        .map_err(|e| invalid(format!("person_sql does not plan: {e}")))?;
    let mut required = vec!["person", "week", "app_id", "org_unit", "numerator"];
    if spec.own_denominator() {
        required.push("denominator");
    }
    for col in required {
        if df.schema().field_with_unqualified_name(col).is_err() {
            return Err(invalid(format!("person_sql must output a `{col}` column")));
        }
    }
    on_disk(ctx, "person_stage", df).await
}

#[allow(clippy::too_many_arguments)]
async fn noisy_sums(
    ctx: &SessionContext,
    spec: &PipelineSpec,
    level: Level,
    column: &str,
    bound: f64,
    cells: &[&Cell],
    noise: Noise,
    budget: Budget,
) -> Result<(BTreeMap<Cell, Noisy>, Cost), PipelineError> {
    let unit = fixed_point_unit(bound);
    let norm = Norm::of(budget);
    let exact = clipped_sums(ctx, spec, level, column, (norm, bound), unit).await?;
    let values: Vec<i64> = cells
        .iter()
        .map(|c| exact.get(*c).copied().unwrap_or(0))
        .collect();
    // Each person's contributions were scaled to a norm of at most `bound` and truncated to
    // whole steps. An integer vector's L1 norm is an integer, so ⌊bound/unit⌋ bounds it; its
    // L2 norm is not, and may lie anywhere up to bound/unit: that rounds up (one step more
    // absorbs the floating point of the SQL's norm).
    let steps = match norm {
        Norm::L1 => (bound / unit).floor() as i64,
        Norm::L2 => (bound / unit).ceil() as i64 + 1,
    };
    let r = release_sums(noise, &values, unit, Bound::Norm(steps), budget)?;
    let (h95, h975) = (r.half_width(0.05), r.half_width(0.025));
    let sums = cells
        .iter()
        .zip(r.values)
        .map(|(c, value)| {
            (
                (*c).clone(),
                Noisy {
                    value,
                    half95: h95,
                    half975: h975,
                },
            )
        })
        .collect();
    Ok((sums, r.cost))
}

/// The norm a person's contributions are bounded in: the one the budget's noise is scaled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    L1,
    L2,
}

impl Norm {
    pub fn of(budget: Budget) -> Self {
        match budget {
            Budget::Epsilon(_) => Norm::L1,
            Budget::Rho(_) => Norm::L2,
        }
    }

    /// The bound over a run of `weeks` for a person within `per_week` each week.
    pub fn bound(self, per_week: f64, weeks: usize) -> f64 {
        match self {
            Norm::L1 => per_week * weeks as f64,
            Norm::L2 => per_week * (weeks as f64).sqrt(),
        }
    }

    fn sql(self, v: &str) -> String {
        match self {
            Norm::L1 => format!("SUM(ABS({v}))"),
            Norm::L2 => format!("SQRT(SUM({v} * {v}))"),
        }
    }
}

/// The exact per-cell sums of `column` of `person_stage` at `level`, each person's values
/// scaled down so that their norm is at most `bound`, in steps of `unit` (before noise).
pub async fn clipped_sums(
    ctx: &SessionContext,
    spec: &PipelineSpec,
    level: Level,
    column: &str,
    (norm, bound): (Norm, f64),
    unit: f64,
) -> Result<BTreeMap<Cell, i64>, PipelineError> {
    let total = norm.sql("v");
    let (app, unit_key) = level.key_sql("app_id", "org_unit");
    let combine = match spec.combine {
        Combine::Sum => "SUM",
        Combine::Max => "MAX",
    };
    let sql = format!(
        "WITH lvl AS (SELECT person, week, {app} AS app_id, {unit_key} AS org_unit, CAST({combine}({column}) AS DOUBLE) AS v \
                      FROM person_stage GROUP BY person, week, {app}, {unit_key}), \
              tot AS (SELECT person, {total} AS t FROM lvl GROUP BY person) \
         SELECT lvl.week, lvl.app_id, lvl.org_unit, \
                SUM(CAST(TRUNC(COALESCE(lvl.v, 0) * LEAST(1.0, {bound:e} / GREATEST(tot.t, 1e-300)) / {unit:e}) AS BIGINT)) AS s \
         FROM lvl JOIN tot ON lvl.person = tot.person GROUP BY lvl.week, lvl.app_id, lvl.org_unit"
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    Ok(cells_with(&batches, |b, i| {
        b.column(3).as_primitive::<Int64Type>().value(i)
    }))
}

fn row(
    spec: &PipelineSpec,
    cell: &Cell,
    people: &People,
    num: Option<Noisy>,
    den: Option<Noisy>,
) -> IndexRow {
    let mut row = crate::new_row(&spec.name, cell, spec.epsilon, &spec.clause);
    let own = people.cells[cell];
    if own.suppressed {
        row.suppressed = true;
        return row;
    }
    let Some(n) = num else { return row };
    let (value, ci) = match (spec.kind, den) {
        (Kind::Count, _) => count(n),
        (_, Some(d)) => ratio(n, d.value, d.half975, spec.max_value),
        (_, None) => match people.cells.get(&cell.denominator_cell()) {
            Some(d) if !d.suppressed => ratio(n, d.value, d.half975, spec.max_value),
            _ => {
                row.suppressed = true;
                (None, None)
            }
        },
    };
    row.value = value;
    row.ci_low = ci.map(|c| c.0);
    row.ci_high = ci.map(|c| c.1);
    row
}

/// A count: the noisy sum floored at 0, and its interval clipped to [0, ∞) at both ends (a
/// noisy sum far below 0 gives [0, 0], which still holds the true count 0).
fn count(n: Noisy) -> (Option<f64>, Option<(f64, f64)>) {
    (
        Some(n.value.max(0.0)),
        Some(((n.value - n.half95).max(0.0), (n.value + n.half95).max(0.0))),
    )
}

/// N / D with an interval that holds with ≥ 95% (N and D each at 97.5%).
fn ratio(n: Noisy, d: f64, d_half: f64, max: Option<f64>) -> (Option<f64>, Option<(f64, f64)>) {
    let cap = max.unwrap_or(f64::INFINITY);
    if d < 1.0 {
        return (None, None);
    }
    let value = (n.value / d).clamp(0.0, cap);
    let (n_lo, n_hi) = ((n.value - n.half975).max(0.0), n.value + n.half975);
    let low = n_lo / (d + d_half);
    let high = if d - d_half >= 1.0 {
        n_hi / (d - d_half)
    } else {
        cap.min(n_hi)
    };
    (
        Some(value),
        Some((low.clamp(0.0, cap), high.clamp(0.0, cap).max(value))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_their_intervals_are_never_negative() {
        let n = |value| Noisy {
            value,
            half95: 20.0,
            half975: 24.0,
        };
        assert_eq!(count(n(-50.0)), (Some(0.0), Some((0.0, 0.0))));
        assert_eq!(count(n(-5.0)), (Some(0.0), Some((0.0, 15.0))));
        assert_eq!(count(n(30.0)), (Some(30.0), Some((10.0, 50.0))));
    }
}
