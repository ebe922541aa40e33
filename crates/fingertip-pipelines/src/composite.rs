//! The composite burden index: post-processing of released indices, no privacy cost.
//!
//! For a cell, `100 × Σ wᵢ·min(1, xᵢ/rᵢ) ÷ Σ wᵢ` over the components that have a value there
//! (suppressed or undefined components are left out and the weights renormalized). The
//! function is increasing in every component, so evaluating it at the components' interval
//! ends gives an interval that holds whenever all of theirs do.

use std::collections::BTreeMap;

use crate::IndexRow;
use crate::levels::Cell;
use crate::spec::PipelineSpec;

pub fn compose(spec: &PipelineSpec, rows: &[IndexRow]) -> Vec<IndexRow> {
    let mut by_cell: BTreeMap<Cell, Vec<&IndexRow>> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| spec.components.iter().any(|c| c.index == r.index))
    {
        by_cell.entry(Cell::of(r)).or_default().push(r);
    }
    let mut out = Vec::new();
    for (cell, parts) in by_cell {
        let mut row = crate::new_row(&spec.name, &cell, 0.0, &spec.clause);
        let mut acc = (0.0, 0.0, 0.0, 0.0);
        for c in &spec.components {
            let Some(p) = parts.iter().find(|p| p.index == c.index) else {
                continue;
            };
            let (Some(v), Some(lo), Some(hi)) = (p.value, p.ci_low, p.ci_high) else {
                continue;
            };
            let scaled = |x: f64| (x / c.reference).clamp(0.0, 1.0) * c.weight;
            acc = (
                acc.0 + c.weight,
                acc.1 + scaled(v),
                acc.2 + scaled(lo),
                acc.3 + scaled(hi),
            );
        }
        if acc.0 > 0.0 {
            row.value = Some(100.0 * acc.1 / acc.0);
            row.ci_low = Some(100.0 * acc.2 / acc.0);
            row.ci_high = Some(100.0 * acc.3 / acc.0);
        } else {
            row.suppressed = parts.iter().any(|p| p.suppressed);
        }
        out.push(row);
    }
    out
}
