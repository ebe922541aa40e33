//! The one person-taint analysis: which output columns of any logical plan are derived from
//! `person` or `event_id`. It is permissive about plan shapes (aggregates, windows, joins,
//! unions): it answers "tainted or not" for every column and refuses nothing itself.
//!
//! Two checks consume it. The pipelines' person-stage check: a trusted person stage may group
//! and join by person, but the cell keys it outputs (`week`, `app_id`, `org_unit`) are released
//! and must never be derived from them. And the guard: its own column origins (which add
//! domains, time and dimension keys, and refuse unknown shapes) must agree with this analysis on
//! every column that reaches the release, or the query is refused (fail closed).

use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan};

/// Per output column of `plan`: true when its values depend on `person`/`event_id`. Any
/// table's `person` and `event_id` columns are tainted (in a pipeline session every table comes
/// from the events; in a query a dimension table with such a column is treated as tainted too).
pub fn tainted(plan: &LogicalPlan) -> Vec<bool> {
    let width = plan.schema().fields().len();
    match plan {
        LogicalPlan::TableScan(scan) => {
            // Every table of a pipeline session comes from the events: `person` and `event_id`
            // are tainted in any of them, and a view's columns are as tainted as its plan's
            // (a view may rename them).
            let view = scan.source.get_logical_plan().map(|p| tainted(&p));
            let all: Vec<usize> = (0..scan.source.schema().fields().len()).collect();
            let columns = scan.projection.as_ref().unwrap_or(&all);
            let from_view = |i: usize| {
                view.as_ref()
                    .is_some_and(|t| t.get(i).copied().unwrap_or(true))
            };
            scan.projected_schema
                .fields()
                .iter()
                .zip(columns)
                .map(|(f, &i)| matches!(f.name().as_str(), "person" | "event_id") || from_view(i))
                .collect()
        }
        LogicalPlan::Projection(p) => {
            let input = tainted(&p.input);
            p.expr
                .iter()
                .map(|e| refs_tainted(e, p.input.schema(), &input))
                .collect()
        }
        LogicalPlan::Aggregate(a) => {
            // An aggregate of tainted values is tainted too (`MAX(person)` grouped by person is
            // the person); a count or sum of untainted values is not.
            let input = tainted(&a.input);
            a.group_expr
                .iter()
                .chain(&a.aggr_expr)
                .map(|e| refs_tainted(e, a.input.schema(), &input))
                .collect()
        }
        LogicalPlan::Window(w) => {
            let input = tainted(&w.input);
            let extra = w
                .window_expr
                .iter()
                .map(|e| refs_tainted(e, w.input.schema(), &input));
            input.iter().copied().chain(extra).collect()
        }
        LogicalPlan::Join(j) => {
            let (l, r) = (tainted(&j.left), tainted(&j.right));
            match j.join_type {
                JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => l,
                JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => r,
                _ => l.into_iter().chain(r).collect(),
            }
        }
        LogicalPlan::Union(u) => {
            let mut out = vec![false; width];
            for i in &u.inputs {
                for (o, t) in out.iter_mut().zip(tainted(i)) {
                    *o |= t;
                }
            }
            out
        }
        LogicalPlan::Unnest(u) => {
            // Each output column depends on one input column (the unnested list's elements on
            // the list): it is as tainted as that column.
            let input = tainted(&u.input);
            (0..width)
                .map(|j| {
                    u.dependency_indices
                        .get(j)
                        .and_then(|&i| input.get(i))
                        .copied()
                        .unwrap_or(true)
                })
                .collect()
        }
        LogicalPlan::Values(_) | LogicalPlan::EmptyRelation(_) => vec![false; width],
        other => match other.inputs().as_slice() {
            [input] if input.schema().fields().len() == width => tainted(input),
            _ => vec![true; width],
        },
    }
}

fn refs_tainted(e: &Expr, schema: &DFSchema, input: &[bool]) -> bool {
    e.column_refs()
        .iter()
        .any(|c| schema.index_of_column(c).map_or(true, |i| input[i]))
}
