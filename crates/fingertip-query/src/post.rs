//! Post-processing: the researcher's HAVING, ORDER BY, LIMIT and arithmetic on aggregates run
//! on the noisy release, not on the data. The released aggregate of the plan is replaced by an
//! in-memory table of noisy values with the very same schema; a hidden row id is threaded
//! through so each output row can be matched to its intervals.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, UInt64Type};
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{Aggregate, Expr, LogicalPlan, LogicalPlanBuilder, col};
use datafusion::prelude::SessionContext;

mod affine;

const RELEASE: &str = "__ft_release";
pub const ROW: &str = "__ft_row";

/// Where an output column comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Source {
    GroupKey(usize),
    Measure(usize),
    /// `factor × measure + offset` (e.g. `SUM(duration_s) / 3600`): its interval is the
    /// measure's, transformed the same way.
    Scaled {
        measure: usize,
        factor: f64,
        offset: f64,
    },
    /// Computed from released values in any other way (e.g. `SUM(x) / COUNT(*)`): no interval
    /// of its own.
    Derived,
}

impl Source {
    /// This source, transformed by `factor × · + offset`.
    fn scaled(self, factor: f64, offset: f64) -> Source {
        match self {
            _ if factor == 1.0 && offset == 0.0 => self,
            Source::Measure(measure) => Source::Scaled {
                measure,
                factor,
                offset,
            },
            Source::Scaled {
                measure,
                factor: f,
                offset: o,
            } => Source::Scaled {
                measure,
                factor: factor * f,
                offset: factor * o + offset,
            },
            _ => Source::Derived,
        }
    }
}

/// The released values, one row per group: group keys then one value per measure.
#[derive(Debug, Clone, Default)]
pub struct ReleasedRows {
    pub keys: Vec<Vec<ScalarValue>>,
    pub values: Vec<Vec<Option<f64>>>,
}

/// The researcher's result.
#[derive(Debug, Clone)]
pub struct Output {
    pub schema: Arc<Schema>,
    pub batches: Vec<RecordBatch>,
    pub sources: Vec<Source>,
    /// Per output row, the index of its released group.
    pub row_ids: Vec<usize>,
}

/// Runs the part of `plan` above `aggregate` on `released`.
pub async fn run(
    ctx: &SessionContext,
    plan: &LogicalPlan,
    aggregate: &Aggregate,
    released: &ReleasedRows,
) -> Result<Output> {
    let replacement = release_table(aggregate, released)?;
    let rebuilt = rebuild(plan, &replacement)?;
    let width = rebuilt.schema().fields().len() - 1;
    let sources = (0..width)
        .map(|i| {
            trace(
                &rebuilt,
                i,
                aggregate.group_expr.len(),
                aggregate.aggr_expr.len(),
            )
        })
        .collect();
    let batches = ctx.execute_logical_plan(rebuilt).await?.collect().await?;
    let mut row_ids = Vec::new();
    let mut out = Vec::with_capacity(batches.len());
    let mut schema = None;
    for b in batches {
        let ids = b.column(width).as_primitive::<UInt64Type>();
        row_ids.extend(ids.iter().map(|v| v.unwrap_or(0) as usize));
        let projected = b.project(&(0..width).collect::<Vec<_>>())?;
        schema.get_or_insert_with(|| projected.schema());
        out.push(projected);
    }
    let schema = match schema {
        Some(s) => s,
        None => Arc::new(Schema::new(rebuilt_fields(plan))),
    };
    Ok(Output {
        schema,
        batches: out,
        sources,
        row_ids,
    })
}

fn rebuilt_fields(plan: &LogicalPlan) -> Vec<Field> {
    plan.schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect()
}

/// A scan of the noisy values, projected to the aggregate's exact schema plus the row id.
fn release_table(aggregate: &Aggregate, released: &ReleasedRows) -> Result<LogicalPlan> {
    let out = &aggregate.schema;
    let groups = aggregate.group_expr.len();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (i, (_, field)) in out.iter().enumerate() {
        let name = format!("c{i}");
        let values: Vec<ScalarValue> = (0..released.keys.len())
            .map(|row| {
                let v = if i < groups {
                    released.keys[row][i].clone()
                } else {
                    ScalarValue::Float64(released.values[row][i - groups])
                };
                cast_value(v, field.data_type())
            })
            .collect::<Result<_>>()?;
        columns.push(if values.is_empty() {
            datafusion::arrow::array::new_empty_array(field.data_type())
        } else {
            ScalarValue::iter_to_array(values)?
        });
        fields.push(Field::new(name, field.data_type().clone(), true));
    }
    fields.push(Field::new(ROW, DataType::UInt64, false));
    columns.push(Arc::new(UInt64Array::from_iter_values(
        0..released.keys.len() as u64,
    )));
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let table = MemTable::try_new(schema, vec![vec![batch]])?;
    let mut exprs: Vec<Expr> = out
        .iter()
        .enumerate()
        .map(|(i, (q, f))| {
            col(Column::new(None::<&str>, format!("c{i}"))).alias_qualified(q.cloned(), f.name())
        })
        .collect();
    exprs.push(col(ROW));
    LogicalPlanBuilder::scan(RELEASE, provider_as_source(Arc::new(table)), None)?
        .project(exprs)?
        .build()
}

fn cast_value(v: ScalarValue, to: &DataType) -> Result<ScalarValue> {
    if v.data_type() == *to {
        return Ok(v);
    }
    match (&v, to) {
        (ScalarValue::Float64(Some(x)), t) if t.is_integer() => {
            ScalarValue::Int64(Some(x.round() as i64)).cast_to(t)
        }
        _ => v.cast_to(to),
    }
}

/// The plan above the aggregate, on `replacement`, with the row id added to every projection.
fn rebuild(plan: &LogicalPlan, replacement: &LogicalPlan) -> Result<LogicalPlan> {
    if let LogicalPlan::Aggregate(_) = plan {
        return Ok(replacement.clone());
    }
    let inputs = plan.inputs();
    let [input] = inputs.as_slice() else {
        return Err(DataFusionError::Plan(
            "unexpected post-processing plan".into(),
        ));
    };
    let input = rebuild(input, replacement)?;
    let mut exprs = plan.expressions();
    if let LogicalPlan::Projection(_) = plan {
        let (q, f) = input.schema().qualified_field_with_unqualified_name(ROW)?;
        exprs.push(Expr::Column(Column::new(q.cloned(), f.name())));
    }
    plan.with_new_exprs(exprs, vec![input])
}

/// Which released column output field `i` of `plan` is.
fn trace(plan: &LogicalPlan, i: usize, groups: usize, measures: usize) -> Source {
    match plan {
        LogicalPlan::TableScan(scan) if scan.table_name.table() == RELEASE => match i {
            i if i < groups => Source::GroupKey(i),
            i if i < groups + measures => Source::Measure(i - groups),
            _ => Source::Derived,
        },
        LogicalPlan::Projection(p) => {
            let Some(expr) = p.expr.get(i) else {
                return Source::Derived;
            };
            let linear = affine::of(&expr.clone().unalias_nested().data, p.input.schema());
            linear.map_or(Source::Derived, |(c, factor, offset)| {
                p.input
                    .schema()
                    .index_of_column(&c)
                    .map_or(Source::Derived, |j| {
                        trace(&p.input, j, groups, measures).scaled(factor, offset)
                    })
            })
        }
        other => match other.inputs().as_slice() {
            [input] => trace(input, i, groups, measures),
            _ => Source::Derived,
        },
    }
}

/// A cell as JSON: numbers, strings, RFC 3339 timestamps, null.
pub fn cell_json(array: &dyn Array, row: usize) -> serde_json::Value {
    use serde_json::{Value, json};
    let Ok(v) = ScalarValue::try_from_array(array, row) else {
        return Value::Null;
    };
    if v.is_null() {
        return Value::Null;
    }
    match v {
        ScalarValue::Boolean(Some(b)) => json!(b),
        ScalarValue::Int8(Some(x)) => json!(x),
        ScalarValue::Int16(Some(x)) => json!(x),
        ScalarValue::Int32(Some(x)) => json!(x),
        ScalarValue::Int64(Some(x)) => json!(x),
        ScalarValue::UInt8(Some(x)) => json!(x),
        ScalarValue::UInt16(Some(x)) => json!(x),
        ScalarValue::UInt32(Some(x)) => json!(x),
        ScalarValue::UInt64(Some(x)) => json!(x),
        ScalarValue::Float32(Some(x)) => json!(x),
        ScalarValue::Float64(Some(x)) => json!(x),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => json!(s),
        ScalarValue::TimestampMillisecond(Some(ms), _) => {
            json!(fingertip_model::format_rfc3339_ms(ms))
        }
        ScalarValue::TimestampMicrosecond(Some(us), _) => {
            json!(fingertip_model::format_rfc3339_ms(us.div_euclid(1000)))
        }
        ScalarValue::TimestampNanosecond(Some(ns), _) => {
            json!(fingertip_model::format_rfc3339_ms(ns.div_euclid(1_000_000)))
        }
        ScalarValue::TimestampSecond(Some(s), _) => {
            json!(fingertip_model::format_rfc3339_ms(s * 1000))
        }
        other => json!(other.to_string()),
    }
}
