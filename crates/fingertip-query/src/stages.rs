//! The rewrite of an accepted query into a person stage and a release stage.
//!
//! * **Person stage** — the researcher's row pipeline, with the pseudonym threaded through
//!   every subquery as `__ft_person` and the events restricted to the charged key epochs,
//!   grouped by person and the query's group keys: one row per (person, group) holding that
//!   person's contribution to each noisy quantity. Never released.
//! * **Release stage** — per person, at most `max_groups` groups (chosen at random); each
//!   contribution clamped to its bounds; summed per group, with the number of persons. Its
//!   output goes only to the noise mechanisms.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::functions::math::expr_fn::nanvl;
use datafusion::functions::math::expr_fn::random;
use datafusion::functions_aggregate::expr_fn::{array_agg, count, max, sum};
use datafusion::functions_nested::expr_fn::{array_slice, flatten};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, Projection, col, lit, when,
};

use crate::guard::{Measure, MeasureKind};
use crate::lake::EVENTS;

pub const PERSON: &str = "__ft_person";
pub const PERSONS: &str = "__ft_persons";

/// One noisy number per group.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantity {
    /// Rows of a person in the group (optionally filtered), clamped to `[0, max_rows]`.
    Rows { filter: Option<Expr> },
    /// 1 if the person has a row in the group that passes `filter` (`COUNT(DISTINCT person)
    /// FILTER (WHERE filter)`), else 0.
    Present { filter: Expr },
    /// A person's total of a value in the group, clamped to the measure's bounds.
    Total { value: Expr, filter: Option<Expr> },
    /// Up to `quantile_rows` values of a person in the group, for the `alpha` quantile.
    Values {
        value: Expr,
        filter: Option<Expr>,
        alpha: f64,
    },
}

impl Quantity {
    fn key(&self) -> String {
        let f = |f: &Option<Expr>| f.as_ref().map(|e| e.to_string()).unwrap_or_default();
        match self {
            Self::Rows { filter } => format!("rows|{}", f(filter)),
            Self::Present { filter } => format!("present|{filter}"),
            Self::Total { value, filter } => format!("total|{value}|{}", f(filter)),
            Self::Values {
                value,
                filter,
                alpha,
            } => format!("values|{value}|{}|{alpha}", f(filter)),
        }
    }
}

/// The quantities of a query and, per measure, the indexes of the quantities it uses.
#[derive(Debug, Clone, Default)]
pub struct Quantities {
    pub list: Vec<Quantity>,
    /// Per measure: (numerator quantity, denominator quantity) — `None` for persons.
    pub of_measure: Vec<(Option<usize>, Option<usize>)>,
}

impl Quantities {
    pub fn of(measures: &[Measure]) -> Self {
        let mut q = Quantities::default();
        for m in measures {
            let (v, f) = (m.value.clone(), m.filter.clone());
            let used = match (&m.kind, v) {
                (MeasureKind::Persons, _) => match f {
                    Some(filter) => (Some(q.add(Quantity::Present { filter })), None),
                    None => (None, None),
                },
                (MeasureKind::Count, _) => (Some(q.add(Quantity::Rows { filter: f })), None),
                (MeasureKind::Sum, Some(value)) => {
                    (Some(q.add(Quantity::Total { value, filter: f })), None)
                }
                (MeasureKind::Avg, Some(value)) => {
                    let total = q.add(Quantity::Total {
                        value,
                        filter: f.clone(),
                    });
                    (Some(total), Some(q.add(Quantity::Rows { filter: f })))
                }
                (MeasureKind::Quantile(alpha), Some(value)) => (
                    Some(q.add(Quantity::Values {
                        value,
                        filter: f,
                        alpha: *alpha,
                    })),
                    None,
                ),
                _ => (None, None),
            };
            q.of_measure.push(used);
        }
        q
    }

    fn add(&mut self, quantity: Quantity) -> usize {
        let key = quantity.key();
        match self.list.iter().position(|x| x.key() == key) {
            Some(i) => i,
            None => {
                self.list.push(quantity);
                self.list.len() - 1
            }
        }
    }
}

pub fn group_col(i: usize) -> String {
    format!("__ft_g{i}")
}

pub fn quantity_col(i: usize) -> String {
    format!("__ft_q{i}")
}

/// In the estimation stage: a person's largest value of quantity `i` (quantiles).
pub fn value_col(i: usize) -> String {
    format!("__ft_v{i}")
}

/// Builds the person stage of `aggregate_input` grouped by `group_exprs`.
pub fn person_stage(
    aggregate_input: &LogicalPlan,
    group_exprs: &[Expr],
    quantities: &[Quantity],
    epochs: &[String],
) -> Result<LogicalPlan> {
    let rows = thread_person(aggregate_input, epochs)?;
    let person = person_column(&rows)?;
    let mut groups = vec![Expr::Column(person)];
    groups.extend(
        group_exprs
            .iter()
            .enumerate()
            .map(|(i, g)| g.clone().unalias_nested().data.alias(group_col(i))),
    );
    let aggs: Vec<Expr> = quantities
        .iter()
        .enumerate()
        .map(|(i, q)| contribution(q).alias(quantity_col(i)))
        .collect();
    let plan = LogicalPlanBuilder::from(rows)
        .aggregate(groups, aggs)?
        .build()?;
    // Rename the person column to a plain `__ft_person` for the release stage.
    let mut exprs = vec![col(Column::new(None::<&str>, PERSON))];
    exprs.extend((0..group_exprs.len()).map(|i| col(group_col(i))));
    exprs.extend((0..quantities.len()).map(|i| col(quantity_col(i))));
    LogicalPlanBuilder::from(plan).project(exprs)?.build()
}

fn contribution(q: &Quantity) -> Expr {
    let keep = |f: &Option<Expr>| f.clone().unwrap_or(lit(true));
    match q {
        Quantity::Rows { filter } => sum(when(keep(filter), lit(1i64))
            .otherwise(lit(0i64))
            .unwrap_or(lit(0i64))),
        Quantity::Present { filter } => max(when(filter.clone(), lit(1i64))
            .otherwise(lit(0i64))
            .unwrap_or(lit(0i64))),
        // NaN (e.g. 0.0 / 0.0) would poison a whole group's sum: it counts as 0.
        Quantity::Total { value, filter } => sum(when(
            keep(filter),
            nanvl(value.clone().cast_to_f64(), lit(0f64)),
        )
        .otherwise(lit(0f64))
        .unwrap_or(lit(0f64))),
        Quantity::Values { value, filter, .. } => {
            let agg = array_agg(value.clone().cast_to_f64());
            match agg {
                Expr::AggregateFunction(mut af) => {
                    af.params.filter = Some(Box::new(keep(filter)));
                    Expr::AggregateFunction(AggregateFunction {
                        func: af.func,
                        params: af.params,
                    })
                }
                other => other,
            }
        }
    }
}

trait CastF64 {
    fn cast_to_f64(self) -> Expr;
}

impl CastF64 for Expr {
    fn cast_to_f64(self) -> Expr {
        Expr::TryCast(datafusion::logical_expr::TryCast::new(
            Box::new(self),
            datafusion::arrow::datatypes::DataType::Float64,
        ))
    }
}

/// The qualified `__ft_person` column of a plan that exposes it.
fn person_column(plan: &LogicalPlan) -> Result<Column> {
    let (q, f) = plan
        .schema()
        .qualified_field_with_unqualified_name(PERSON)?;
    Ok(Column::new(q.cloned(), f.name()))
}

/// Rebuilds the row pipeline so that every subquery passes `__ft_person` up, and every scan
/// of `events` reads only the charged key epochs.
fn thread_person(plan: &LogicalPlan, epochs: &[String]) -> Result<LogicalPlan> {
    match plan {
        LogicalPlan::TableScan(scan) if scan.table_name.table() == EVENTS => {
            let epochs: Vec<Expr> = epochs.iter().map(|e| lit(e.clone())).collect();
            let qualifier = scan.table_name.clone();
            let mut exprs: Vec<Expr> = plan
                .schema()
                .columns()
                .into_iter()
                .map(Expr::Column)
                .collect();
            exprs.push(col(Column::new(Some(qualifier.clone()), "person")).alias(PERSON));
            LogicalPlanBuilder::from(plan.clone())
                .filter(col(Column::new(Some(qualifier), "key_epoch")).in_list(epochs, false))?
                .project(exprs)?
                .build()
        }
        LogicalPlan::TableScan(_) => Ok(plan.clone()),
        LogicalPlan::Projection(p) => {
            let input = thread_person(&p.input, epochs)?;
            let mut exprs = p.expr.clone();
            if let Ok(person) = person_column(&input) {
                exprs.push(Expr::Column(person));
            }
            Ok(LogicalPlan::Projection(Projection::try_new(
                exprs,
                Arc::new(input),
            )?))
        }
        other => {
            let inputs = other
                .inputs()
                .into_iter()
                .map(|i| thread_person(i, epochs))
                .collect::<Result<Vec<_>>>()?;
            other.with_new_exprs(other.expressions(), inputs)
        }
    }
}

/// Bounds applied in the release stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StageBounds {
    pub max_groups: u32,
    pub max_rows: u32,
    /// Values one person gives each quantile in one group.
    pub quantile_rows: u32,
    /// Per quantity: the clamp interval of a `Total`, or the value range of `Values`.
    pub ranges: Vec<(f64, f64)>,
}

/// Builds the release stage over a person-stage plan.
pub fn release_stage(
    person_stage: LogicalPlan,
    groups: usize,
    quantities: &[Quantity],
    bounds: &StageBounds,
) -> Result<LogicalPlan> {
    let mut builder = LogicalPlanBuilder::from(person_stage);
    if groups > 0 {
        let rank = row_number()
            .partition_by(vec![col(PERSON)])
            .order_by(vec![random().sort(true, true)])
            .build()?
            .alias("__ft_rank");
        builder = builder
            .window(vec![rank])?
            .filter(col("__ft_rank").lt_eq(lit(i64::from(bounds.max_groups))))?;
    }
    let group_exprs: Vec<Expr> = (0..groups).map(|i| col(group_col(i))).collect();
    let mut aggs = vec![count(lit(1i64)).alias(PERSONS)];
    for (i, q) in quantities.iter().enumerate() {
        let c = col(quantity_col(i));
        let (lo, hi) = bounds.ranges.get(i).copied().unwrap_or((0.0, 0.0));
        let agg = match q {
            Quantity::Rows { .. } => sum(clamp(c, lit(0i64), lit(i64::from(bounds.max_rows)))),
            Quantity::Present { .. } => sum(clamp(c, lit(0i64), lit(1i64))),
            // A person's total can be NaN (+inf and -inf): it counts as 0, then is clamped.
            Quantity::Total { .. } => sum(clamp(nanvl(c, lit(0f64)), lit(lo), lit(hi))),
            Quantity::Values { .. } => flatten(array_agg(array_slice(
                c,
                lit(1i64),
                lit(i64::from(bounds.quantile_rows)),
                None,
            ))),
        };
        aggs.push(agg.alias(quantity_col(i)));
    }
    builder.aggregate(group_exprs, aggs)?.build()
}

fn clamp(e: Expr, lo: Expr, hi: Expr) -> Expr {
    when(e.clone().lt(lo.clone()), lo)
        .when(e.clone().gt(hi.clone()), hi)
        .otherwise(e)
        .unwrap_or_else(|_| lit(ScalarValue::Null))
}

/// The estimation stage: per person, the number of groups and the largest contribution to
/// each quantity across them (absolute value for totals, row count for values).
pub fn estimation_stage(person_stage: LogicalPlan, quantities: &[Quantity]) -> Result<LogicalPlan> {
    use datafusion::functions::math::expr_fn::abs;
    use datafusion::functions_nested::expr_fn::{array_max, cardinality};
    let mut aggs = vec![count(lit(1i64)).alias("__ft_groups")];
    for (i, q) in quantities.iter().enumerate() {
        let c = col(quantity_col(i));
        let v = match q {
            Quantity::Rows { .. } | Quantity::Present { .. } => max(c.clone()),
            Quantity::Total { .. } => max(abs(c.clone())),
            Quantity::Values { .. } => max(cardinality(c.clone())),
        };
        aggs.push(v.alias(quantity_col(i)));
        if let Quantity::Values { .. } = q {
            aggs.push(max(array_max(c)).alias(value_col(i)));
        }
    }
    LogicalPlanBuilder::from(person_stage)
        .aggregate(vec![col(PERSON)], aggs)?
        .build()
}

/// Replaces the first `Aggregate` met going down `plan` by `replacement`.
pub fn replace_aggregate(
    plan: &LogicalPlan,
    replacement: &LogicalPlan,
) -> Result<Transformed<LogicalPlan>> {
    if let LogicalPlan::Aggregate(_) = plan {
        return Ok(Transformed::yes(replacement.clone()));
    }
    match plan.inputs().as_slice() {
        [input] => {
            let new_input = replace_aggregate(input, replacement)?;
            if !new_input.transformed {
                return Ok(Transformed::no(plan.clone()));
            }
            Ok(Transformed::yes(plan.with_new_exprs(
                plan.expressions(),
                vec![new_input.data],
            )?))
        }
        _ => Err(DataFusionError::Plan("no aggregate to replace".into())),
    }
}
