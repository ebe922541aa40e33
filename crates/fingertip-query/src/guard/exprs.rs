//! Expression checks shared by every part of the guard: depth, forbidden kinds, and the use
//! of person-derived columns.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema};
use datafusion::logical_expr::Expr;

use super::Origin;
use crate::refusal::{Refusal, code, refuse};

/// The deepest expression tree the guard accepts.
pub const MAX_DEPTH: usize = 48;

pub(crate) fn depth(e: &Expr) -> usize {
    let mut deepest = 0;
    let _ = e.apply_children(|c| {
        deepest = deepest.max(depth(c));
        Ok(TreeNodeRecursion::Continue)
    });
    deepest + 1
}

/// The origin of a column in `schema` (whose fields have `origins`).
pub(crate) fn origin_of(
    col: &Column,
    schema: &DFSchema,
    origins: &[Origin],
) -> Result<Origin, Refusal> {
    let i = schema.index_of_column(col).map_err(|_| {
        Refusal::new(
            code::PLAN_ERROR,
            format!("column `{}` could not be resolved", col.name),
        )
    })?;
    Ok(origins.get(i).copied().unwrap_or(Origin::Public))
}

/// Checks an expression evaluated on rows: no person-derived column, nothing the guard
/// cannot reason about. `context` names the clause for the message.
pub(crate) fn check_row_expr(
    e: &Expr,
    schema: &DFSchema,
    origins: &[Origin],
    context: &str,
) -> Result<(), Refusal> {
    check_shape(e, context)?;
    let mut found = Ok(());
    e.apply(|node| {
        if let Expr::Column(c) = node {
            match origin_of(c, schema, origins) {
                Ok(o) if o.is_tainted() => {
                    found = Err(tainted_use(&c.name, context));
                    return Ok(TreeNodeRecursion::Stop);
                }
                Err(r) => {
                    found = Err(r);
                    return Ok(TreeNodeRecursion::Stop);
                }
                _ => {}
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(|e| Refusal::new(code::PLAN_ERROR, e.to_string()))?;
    found
}

pub(crate) fn tainted_use(name: &str, context: &str) -> Refusal {
    Refusal::new(
        code::PERSON_COLUMN,
        format!(
            "`{name}` is used in {context}; `person` and `event_id` identify people and events and may only appear as COUNT(DISTINCT person)"
        ),
    )
}

/// Depth and forbidden expression kinds (anywhere in a query).
pub(crate) fn check_shape(e: &Expr, context: &str) -> Result<(), Refusal> {
    if depth(e) > MAX_DEPTH {
        refuse!(
            code::EXPRESSION_TOO_DEEP,
            "an expression in {context} is nested more than {MAX_DEPTH} levels deep"
        );
    }
    let mut found = Ok(());
    let _ = e.apply(|node| {
        if let Some(r) = forbidden(node, context) {
            found = Err(r);
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

fn forbidden(e: &Expr, context: &str) -> Option<Refusal> {
    let (code, what) = match e {
        Expr::ScalarSubquery(_)
        | Expr::Exists(_)
        | Expr::InSubquery(_)
        | Expr::SetComparison(_)
        | Expr::OuterReferenceColumn(..) => (
            code::SUBQUERY_EXPRESSION,
            "a subquery inside an expression (scalar subquery, EXISTS, IN (SELECT ...))",
        ),
        Expr::WindowFunction(_) => (code::WINDOW_FUNCTION, "a window function"),
        Expr::GroupingSet(_) => (code::GROUPING_SETS, "GROUPING SETS, ROLLUP or CUBE"),
        Expr::Placeholder(_) => (code::UNSUPPORTED_EXPRESSION, "a placeholder ($1)"),
        Expr::ScalarVariable(..) => (code::UNSUPPORTED_EXPRESSION, "a session variable"),
        Expr::HigherOrderFunction(_) | Expr::Lambda(_) | Expr::LambdaVariable(_) => {
            (code::UNSUPPORTED_EXPRESSION, "a lambda function")
        }
        _ => return None,
    };
    Some(Refusal::new(
        code,
        format!("{what} in {context} is not supported"),
    ))
}

/// Refuses aggregate functions where only row expressions may stand.
pub(crate) fn check_no_aggregate(e: &Expr, context: &str) -> Result<(), Refusal> {
    let mut found = Ok(());
    let _ = e.apply(|node| {
        if matches!(node, Expr::AggregateFunction(_)) {
            found = Err(Refusal::new(
                code::NESTED_AGGREGATION,
                format!("an aggregate function in {context} is not supported"),
            ));
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}
