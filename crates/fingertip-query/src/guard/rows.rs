//! The row part of a query (everything under the released aggregate): which tables it reads,
//! which columns derive from `person`/`event_id`, and which time range its filters keep.

use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, Join, JoinType, LogicalPlan, Operator};

use super::exprs::{check_row_expr, origin_of};
use super::{Origin, TimeRange};
use crate::lake::{Dimension, EVENTS};
use crate::refusal::{Refusal, code, refuse};

/// What the guard knows about the output of a row-level plan.
#[derive(Debug, Clone)]
pub(crate) struct RowInfo {
    pub origins: Vec<Origin>,
    pub scans_events: bool,
    pub time: TimeRange,
}

pub(crate) fn check_rows(plan: &LogicalPlan, dims: &[Dimension]) -> Result<RowInfo, Refusal> {
    match plan {
        LogicalPlan::TableScan(scan) => scan_info(scan, dims),
        LogicalPlan::Projection(p) => {
            let input = check_rows(&p.input, dims)?;
            let schema = p.input.schema();
            let origins = p
                .expr
                .iter()
                .map(|e| projected_origin(e, schema, &input.origins))
                .collect::<Result<_, _>>()?;
            Ok(RowInfo { origins, ..input })
        }
        LogicalPlan::Filter(f) => {
            let mut input = check_rows(&f.input, dims)?;
            check_row_expr(
                &f.predicate,
                f.input.schema(),
                &input.origins,
                "a WHERE clause",
            )?;
            narrow_time(
                &f.predicate,
                f.input.schema(),
                &input.origins,
                &mut input.time,
            );
            Ok(input)
        }
        LogicalPlan::SubqueryAlias(s) => check_rows(&s.input, dims),
        LogicalPlan::Join(j) => check_join(j, dims),
        LogicalPlan::Unnest(u) => {
            let input = check_rows(&u.input, dims)?;
            let in_schema = u.input.schema();
            let origins = u
                .schema
                .iter()
                .map(|(q, f)| {
                    let col = Column::new(q.cloned(), f.name());
                    in_schema
                        .index_of_column(&col)
                        .ok()
                        .map_or(Origin::Public, |i| input.origins[i])
                })
                .collect();
            for c in &u.exec_columns {
                if origin_of(c, in_schema, &input.origins)?.is_tainted() {
                    refuse!(code::PERSON_COLUMN, "`{}` cannot be unnested", c.name);
                }
            }
            Ok(RowInfo { origins, ..input })
        }
        other => Err(refuse_row_node(other)),
    }
}

fn refuse_row_node(plan: &LogicalPlan) -> Refusal {
    let (code, message) = match plan {
        LogicalPlan::Aggregate(_) | LogicalPlan::Distinct(_) => (
            code::NESTED_AGGREGATION,
            "an aggregation inside a subquery or CTE feeds another aggregation; only one level of GROUP BY is supported".to_string(),
        ),
        LogicalPlan::Window(_) => (code::WINDOW_FUNCTION, "window functions are not supported".to_string()),
        LogicalPlan::Sort(_) | LogicalPlan::Limit(_) => (
            code::ROW_SELECTION,
            "ORDER BY / LIMIT on rows before aggregation selects individual events; apply them to the aggregated result instead".to_string(),
        ),
        LogicalPlan::Union(_) => (code::SET_OPERATION, "UNION, INTERSECT and EXCEPT are not supported".to_string()),
        LogicalPlan::Values(_) | LogicalPlan::EmptyRelation(_) => {
            (code::TABLE_NOT_ALLOWED, "queries may read only the `events` table and the public dimension tables".to_string())
        }
        other => (code::UNSUPPORTED_PLAN, format!("this kind of query ({}) is not supported", node_name(other))),
    };
    Refusal::new(code, message)
}

pub(crate) fn node_name(plan: &LogicalPlan) -> String {
    plan.display()
        .to_string()
        .split(':')
        .next()
        .unwrap_or("plan")
        .to_string()
}

fn scan_info(
    scan: &datafusion::logical_expr::TableScan,
    dims: &[Dimension],
) -> Result<RowInfo, Refusal> {
    let table = scan.table_name.table();
    if !scan.filters.is_empty() || scan.fetch.is_some() {
        refuse!(
            code::UNSUPPORTED_PLAN,
            "pre-filtered table scans are not supported"
        );
    }
    let fields = scan.projected_schema.fields();
    if table == EVENTS && scan.table_name.schema().is_none_or(|s| s == "public") {
        let origins = fields
            .iter()
            .map(|f| Origin::of_event_column(f.name()))
            .collect();
        return Ok(RowInfo {
            origins,
            scans_events: true,
            time: TimeRange::default(),
        });
    }
    if let Some(dim) = dims.iter().find(|d| d.name == table) {
        let origins = fields
            .iter()
            .map(|f| {
                if *f.name() == dim.key {
                    Origin::DimKey
                } else {
                    Origin::Public
                }
            })
            .collect();
        return Ok(RowInfo {
            origins,
            scans_events: false,
            time: TimeRange::default(),
        });
    }
    refuse!(
        code::TABLE_NOT_ALLOWED,
        "table `{}` is not available; queries may read `events` and the public dimension tables",
        scan.table_name
    )
}

fn projected_origin(e: &Expr, schema: &DFSchema, origins: &[Origin]) -> Result<Origin, Refusal> {
    match e {
        Expr::Column(c) => origin_of(c, schema, origins),
        other => {
            check_row_expr(
                other,
                schema,
                origins,
                "the SELECT list of a subquery or CTE",
            )?;
            Ok(Origin::Public)
        }
    }
}

/// Joins may only attach a public dimension table to the events, on the dimension's unique
/// key, so that no event row is ever repeated.
fn check_join(j: &Join, dims: &[Dimension]) -> Result<RowInfo, Refusal> {
    let left = check_rows(&j.left, dims)?;
    let right = check_rows(&j.right, dims)?;
    let (fact_is_left, dim) = match (left.scans_events, right.scans_events) {
        (true, true) => refuse!(
            code::JOIN_NOT_ALLOWED,
            "joining `events` with itself can repeat a person's events; join only public dimension tables"
        ),
        (true, false) => (true, &right),
        (false, true) => (false, &left),
        (false, false) => (true, &right),
    };
    let dim_plan = if fact_is_left { &j.right } else { &j.left };
    if !repeats_no_rows(dim_plan) {
        refuse!(
            code::JOIN_NOT_ALLOWED,
            "the dimension side of a join may only select and filter one dimension table (no UNNEST, joins or aggregation), so that its key stays unique"
        );
    }
    let keeps_fact_rows_once = matches!(
        (fact_is_left, j.join_type),
        (
            true,
            JoinType::Inner | JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti
        ) | (
            false,
            JoinType::Inner | JoinType::Right | JoinType::RightSemi | JoinType::RightAnti
        )
    );
    if !keeps_fact_rows_once {
        refuse!(
            code::JOIN_NOT_ALLOWED,
            "a {} join here could add or repeat event rows; use an inner or left join from events to the dimension table",
            j.join_type
        );
    }
    let (dim_schema, fact_schema) = if fact_is_left {
        (j.right.schema(), j.left.schema())
    } else {
        (j.left.schema(), j.right.schema())
    };
    let fact = if fact_is_left { &left } else { &right };
    let mut on_key = false;
    for (fact_expr, dim_expr) in equi_pairs(j, fact_is_left) {
        check_row_expr(&fact_expr, fact_schema, &fact.origins, "a JOIN condition")?;
        check_row_expr(&dim_expr, dim_schema, &dim.origins, "a JOIN condition")?;
        if let Expr::Column(c) = &dim_expr {
            on_key |= origin_of(c, dim_schema, &dim.origins)? == Origin::DimKey;
        }
    }
    let all_origins: Vec<Origin> = left.origins.iter().chain(&right.origins).copied().collect();
    if let Some(filter) = &j.filter {
        let joined = j
            .left
            .schema()
            .join(j.right.schema())
            .map_err(|e| Refusal::new(code::PLAN_ERROR, e.to_string()))?;
        check_row_expr(filter, &joined, &all_origins, "a JOIN condition")?;
    }
    if !on_key {
        refuse!(
            code::JOIN_NOT_ALLOWED,
            "a join must match the dimension table's key column with `=`; otherwise it could repeat event rows"
        );
    }
    let origins: Vec<Origin> = match j.join_type {
        JoinType::LeftSemi | JoinType::LeftAnti => left.origins.clone(),
        JoinType::RightSemi | JoinType::RightAnti => right.origins.clone(),
        _ => all_origins,
    };
    let origins = origins
        .into_iter()
        .map(|o| {
            if o == Origin::DimKey {
                Origin::Public
            } else {
                o
            }
        })
        .collect();
    Ok(RowInfo {
        origins,
        scans_events: left.scans_events || right.scans_events,
        time: fact.time,
    })
}

/// A dimension-side plan that cannot repeat a key: one dimension table, selected, filtered and
/// renamed only.
fn repeats_no_rows(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::TableScan(_) => true,
        LogicalPlan::Projection(_) | LogicalPlan::Filter(_) | LogicalPlan::SubqueryAlias(_) => {
            plan.inputs().into_iter().all(repeats_no_rows)
        }
        _ => false,
    }
}

/// `(fact expression, dimension expression)` pairs joined by `=`: the join keys, and the
/// equalities of the ON condition that compare one side with the other.
fn equi_pairs(j: &Join, fact_is_left: bool) -> Vec<(Expr, Expr)> {
    let mut pairs: Vec<(Expr, Expr)> = j.on.clone();
    if let Some(filter) = &j.filter {
        let side = |e: &Expr, schema: &DFSchema| {
            e.column_refs()
                .iter()
                .all(|c| schema.index_of_column(c).is_ok())
                && !e.column_refs().is_empty()
        };
        for c in split_and(filter) {
            if let Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Eq,
                right,
            }) = c
            {
                if side(left, j.left.schema()) && side(right, j.right.schema()) {
                    pairs.push((left.as_ref().clone(), right.as_ref().clone()));
                } else if side(right, j.left.schema()) && side(left, j.right.schema()) {
                    pairs.push((right.as_ref().clone(), left.as_ref().clone()));
                }
            }
        }
    }
    pairs
        .into_iter()
        .map(|(l, r)| if fact_is_left { (l, r) } else { (r, l) })
        .collect()
}

/// Narrows `time` with the conjuncts of `predicate` that bound `started_at` or `date`.
fn narrow_time(predicate: &Expr, schema: &DFSchema, origins: &[Origin], time: &mut TimeRange) {
    for conjunct in split_and(predicate) {
        match conjunct {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                match (left.as_ref(), right.as_ref()) {
                    (Expr::Column(c), lit) => bound(c, *op, lit, schema, origins, time),
                    (lit, Expr::Column(c)) => {
                        if let Some(op) = op.swap() {
                            bound(c, op, lit, schema, origins, time)
                        }
                    }
                    _ => {}
                }
            }
            Expr::Between(b) if !b.negated => {
                if let Expr::Column(c) = b.expr.as_ref() {
                    bound(c, Operator::GtEq, &b.low, schema, origins, time);
                    bound(c, Operator::LtEq, &b.high, schema, origins, time);
                }
            }
            _ => {}
        }
    }
}

fn split_and(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::And,
            right,
        }) => {
            let mut out = split_and(left);
            out.extend(split_and(right));
            out
        }
        other => vec![other],
    }
}

fn bound(
    c: &Column,
    op: Operator,
    lit: &Expr,
    schema: &DFSchema,
    origins: &[Origin],
    time: &mut TimeRange,
) {
    let origin = origin_of(c, schema, origins).unwrap_or(Origin::Public);
    let Some(ms) = literal_ms(lit, origin) else {
        return;
    };
    // The smallest step of the column: a date covers a whole day.
    let step = if origin == Origin::Date {
        86_400_000
    } else {
        1
    };
    let (lo, hi) = match op {
        Operator::Gt => (Some(ms + step), None),
        Operator::GtEq => (Some(ms), None),
        Operator::Lt => (None, Some(ms)),
        Operator::LtEq => (None, Some(ms + step)),
        Operator::Eq => (Some(ms), Some(ms + step)),
        _ => (None, None),
    };
    if let Some(lo) = lo {
        time.lo_ms = Some(time.lo_ms.map_or(lo, |x| x.max(lo)));
    }
    if let Some(hi) = hi {
        time.hi_ms = Some(time.hi_ms.map_or(hi, |x| x.min(hi)));
    }
}

fn literal_ms(lit: &Expr, origin: Origin) -> Option<i64> {
    let value = match lit {
        Expr::Literal(v, _) => v,
        Expr::Cast(c) => return literal_ms(&c.expr, origin),
        Expr::TryCast(c) => return literal_ms(&c.expr, origin),
        _ => return None,
    };
    match (origin, value) {
        (Origin::StartedAt, ScalarValue::TimestampMillisecond(Some(ms), _)) => Some(*ms),
        (Origin::StartedAt, ScalarValue::TimestampMicrosecond(Some(us), _)) => {
            Some(us.div_euclid(1000))
        }
        (Origin::StartedAt, ScalarValue::TimestampNanosecond(Some(ns), _)) => {
            Some(ns.div_euclid(1_000_000))
        }
        (Origin::StartedAt, ScalarValue::TimestampSecond(Some(s), _)) => Some(s * 1000),
        (
            Origin::StartedAt | Origin::Date,
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
        ) => parse_time(s),
        (Origin::StartedAt | Origin::Date, ScalarValue::Date32(Some(d))) => {
            Some(i64::from(*d) * 86_400_000)
        }
        _ => None,
    }
}

fn parse_time(s: &str) -> Option<i64> {
    use chrono::{NaiveDate, NaiveDateTime};
    fingertip_model::parse_rfc3339_ms(s)
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|t| t.and_utc().timestamp_millis())
        })
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc().timestamp_millis())
        })
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc().timestamp_millis())
        })
}
