//! The aggregate functions a release may compute, and how each one is bounded.

use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::expr::AggregateFunction;

use super::Origin;
use super::exprs::{check_row_expr, origin_of, tainted_use};
use crate::refusal::{Refusal, code, refuse};

/// What a released aggregate computes.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasureKind {
    /// `COUNT(*)`, `COUNT(expr)` (rows where `expr` is not null).
    Count,
    /// `COUNT(DISTINCT person)`: the number of persons in the group.
    Persons,
    Sum,
    /// Noisy sum over noisy count.
    Avg,
    /// `MEDIAN(x)` (0.5) or `APPROX_PERCENTILE_CONT(x, q)`.
    Quantile(f64),
}

/// One released aggregate: kind, the row value it aggregates and the rows it counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub kind: MeasureKind,
    /// The per-row value (`Sum`, `Avg`, `Quantile`); `None` for counts.
    pub value: Option<Expr>,
    /// Rows taken into account (`FILTER (WHERE ...)`, and `IS NOT NULL` of counted args).
    pub filter: Option<Expr>,
    /// The aggregate's output column name.
    pub name: String,
}

pub(crate) fn classify(
    expr: &Expr,
    name: &str,
    schema: &DFSchema,
    origins: &[Origin],
) -> Result<Measure, Refusal> {
    let af = match expr {
        Expr::Alias(a) => return classify(&a.expr, name, schema, origins),
        Expr::AggregateFunction(af) => af,
        _ => refuse!(
            code::UNSUPPORTED_AGGREGATE,
            "`{name}` is not an aggregate function the release supports"
        ),
    };
    let p = &af.params;
    if let Some(f) = &p.filter {
        check_row_expr(f, schema, origins, "an aggregate FILTER clause")?;
    }
    let fname = af.func.name().to_ascii_lowercase();
    let measure = |kind, value: Option<Expr>, extra_filter: Option<Expr>| {
        let filter = match (p.filter.as_deref().cloned(), extra_filter) {
            (Some(a), Some(b)) => Some(a.and(b)),
            (a, b) => a.or(b),
        };
        Measure {
            kind,
            value,
            filter,
            name: name.to_string(),
        }
    };
    match fname.as_str() {
        "count" if p.distinct => {
            count_distinct(af, schema, origins).map(|_| measure(MeasureKind::Persons, None, None))
        }
        "count" => {
            no_order(af, &fname)?;
            let not_null = counted_rows(&p.args, schema, origins)?;
            Ok(measure(MeasureKind::Count, None, not_null))
        }
        "sum" | "avg" | "mean" => {
            no_order(af, &fname)?;
            if p.distinct {
                refuse!(
                    code::UNSUPPORTED_AGGREGATE,
                    "{}(DISTINCT ...) is not supported",
                    fname.to_uppercase()
                );
            }
            let value = single_value(&p.args, schema, origins, &fname)?;
            let kind = if fname == "sum" {
                MeasureKind::Sum
            } else {
                MeasureKind::Avg
            };
            Ok(measure(kind, Some(value.clone()), not_null(&value, schema)))
        }
        "median" => {
            no_order(af, &fname)?;
            let value = single_value(&p.args, schema, origins, &fname)?;
            Ok(measure(
                MeasureKind::Quantile(0.5),
                Some(value.clone()),
                not_null(&value, schema),
            ))
        }
        "approx_percentile_cont" | "percentile_cont" => {
            let (value, q) = percentile_args(af, schema, origins)?;
            Ok(measure(
                MeasureKind::Quantile(q),
                Some(value.clone()),
                not_null(&value, schema),
            ))
        }
        "min" | "max" => {
            for a in &p.args {
                check_row_expr(a, schema, origins, &format!("{}()", fname.to_uppercase()))?;
            }
            refuse!(
                code::UNSUPPORTED_AGGREGATE,
                "{}() reveals a single extreme event, which may describe one person; use a quantile such as APPROX_PERCENTILE_CONT(x, 0.95) instead",
                fname.to_uppercase()
            )
        }
        other => {
            for a in &p.args {
                check_row_expr(a, schema, origins, &format!("{}()", other.to_uppercase()))?;
            }
            refuse!(
                code::UNSUPPORTED_AGGREGATE,
                "{}() is not supported; use COUNT(*), COUNT(DISTINCT person), SUM, AVG, MEDIAN or APPROX_PERCENTILE_CONT",
                other.to_uppercase()
            )
        }
    }
}

/// `value IS NOT NULL`, unless the value can never be null.
fn not_null(value: &Expr, schema: &DFSchema) -> Option<Expr> {
    use datafusion::logical_expr::ExprSchemable;
    value
        .nullable(schema)
        .unwrap_or(true)
        .then(|| value.clone().is_not_null())
}

fn no_order(af: &AggregateFunction, fname: &str) -> Result<(), Refusal> {
    if !af.params.order_by.is_empty() {
        refuse!(
            code::UNSUPPORTED_AGGREGATE,
            "ORDER BY inside {}() is not supported",
            fname.to_uppercase()
        );
    }
    Ok(())
}

/// `COUNT(DISTINCT person)` is the one use of `person` a release may make.
fn count_distinct(
    af: &AggregateFunction,
    schema: &DFSchema,
    origins: &[Origin],
) -> Result<(), Refusal> {
    no_order(af, "count")?;
    match af.params.args.as_slice() {
        [Expr::Column(c)] => match origin_of(c, schema, origins)? {
            Origin::Person => Ok(()),
            Origin::EventId => refuse!(
                code::PERSON_COLUMN,
                "COUNT(DISTINCT event_id) is not supported; COUNT(*) counts events"
            ),
            _ => refuse!(
                code::UNSUPPORTED_AGGREGATE,
                "COUNT(DISTINCT {}) is not supported: one person can add many distinct values; only COUNT(DISTINCT person) is",
                c.name
            ),
        },
        args => {
            for a in args {
                check_row_expr(a, schema, origins, "COUNT(DISTINCT ...)")?;
            }
            refuse!(
                code::UNSUPPORTED_AGGREGATE,
                "COUNT(DISTINCT ...) is only supported as COUNT(DISTINCT person)"
            )
        }
    }
}

/// `COUNT(*)` / `COUNT(1)` count every row; `COUNT(expr)` the rows where `expr` is not null.
fn counted_rows(
    args: &[Expr],
    schema: &DFSchema,
    origins: &[Origin],
) -> Result<Option<Expr>, Refusal> {
    let mut all: Option<Expr> = None;
    for a in args {
        if let Expr::Column(c) = a
            && origin_of(c, schema, origins)?.is_tainted()
        {
            return Err(tainted_use(
                &c.name,
                "COUNT(...); use COUNT(*) to count events or COUNT(DISTINCT person) to count people",
            ));
        }
        check_row_expr(a, schema, origins, "COUNT(...)")?;
        if let Some(c) = not_null(a, schema) {
            all = Some(match all {
                Some(prev) => prev.and(c),
                None => c,
            });
        }
    }
    Ok(all)
}

fn single_value(
    args: &[Expr],
    schema: &DFSchema,
    origins: &[Origin],
    fname: &str,
) -> Result<Expr, Refusal> {
    let [value] = args else {
        refuse!(
            code::UNSUPPORTED_AGGREGATE,
            "{}() takes one argument",
            fname.to_uppercase()
        )
    };
    check_row_expr(
        value,
        schema,
        origins,
        &format!("{}()", fname.to_uppercase()),
    )?;
    Ok(value.clone())
}

/// `APPROX_PERCENTILE_CONT(x, q)` or `APPROX_PERCENTILE_CONT(q) WITHIN GROUP (ORDER BY x)`.
fn percentile_args(
    af: &AggregateFunction,
    schema: &DFSchema,
    origins: &[Origin],
) -> Result<(Expr, f64), Refusal> {
    let p = &af.params;
    // `WITHIN GROUP (ORDER BY x)` is planned as `(x, q)` with `x` also in `order_by`; a
    // descending order asks for the `1 - q` quantile of ascending values.
    let (value, q, descending) = match (p.order_by.as_slice(), p.args.as_slice()) {
        ([sort], [_, q, ..]) => (sort.expr.clone(), q, !sort.asc),
        ([sort], [q]) => (sort.expr.clone(), q, !sort.asc),
        ([], [value, q, ..]) => (value.clone(), q, false),
        _ => refuse!(
            code::UNSUPPORTED_AGGREGATE,
            "write APPROX_PERCENTILE_CONT(value, q) with a literal q between 0 and 1"
        ),
    };
    check_row_expr(&value, schema, origins, "APPROX_PERCENTILE_CONT()")?;
    let q = match q {
        Expr::Literal(ScalarValue::Float64(Some(q)), _) => *q,
        Expr::Literal(ScalarValue::Float32(Some(q)), _) => f64::from(*q),
        Expr::Literal(v, _) if v.data_type().is_integer() => v.to_string().parse().unwrap_or(-1.0),
        _ => refuse!(
            code::UNSUPPORTED_AGGREGATE,
            "the percentile of APPROX_PERCENTILE_CONT must be a literal between 0 and 1"
        ),
    };
    if !(0.0..=1.0).contains(&q) {
        refuse!(
            code::UNSUPPORTED_AGGREGATE,
            "the percentile must lie between 0 and 1"
        );
    }
    Ok((value, if descending { 1.0 - q } else { q }))
}
