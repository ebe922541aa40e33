//! Which output columns of a person stage are derived from `person` or `event_id`. A trusted
//! person stage may group and join by person, but the cell keys it outputs (`week`, `app_id`,
//! `org_unit`) are released and must never be derived from them.

use datafusion::common::DFSchema;
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan};

/// Per output column of `plan`: true when its values depend on `person`/`event_id`.
pub fn tainted(plan: &LogicalPlan) -> Vec<bool> {
    let width = plan.schema().fields().len();
    match plan {
        LogicalPlan::TableScan(scan) => {
            let events = scan.table_name.table().contains("events");
            scan.projected_schema.fields().iter().map(|f| events && matches!(f.name().as_str(), "person" | "event_id")).collect()
        }
        LogicalPlan::Projection(p) => {
            let input = tainted(&p.input);
            p.expr.iter().map(|e| refs_tainted(e, p.input.schema(), &input)).collect()
        }
        LogicalPlan::Aggregate(a) => {
            let input = tainted(&a.input);
            let groups = a.group_expr.iter().map(|e| refs_tainted(e, a.input.schema(), &input));
            groups.chain(a.aggr_expr.iter().map(|_| false)).collect()
        }
        LogicalPlan::Window(w) => {
            let input = tainted(&w.input);
            let extra = w.window_expr.iter().map(|e| refs_tainted(e, w.input.schema(), &input));
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
            let input = tainted(&u.input);
            let schema = u.input.schema();
            u.schema
                .iter()
                .map(|(q, f)| schema.index_of_column_by_name(q, f.name()).map_or(true, |i| input[i]))
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
    e.column_refs().iter().any(|c| schema.index_of_column(c).map_or(true, |i| input[i]))
}
