//! From noisy quantities to the researcher's columns: measure values, their intervals, the
//! bounds a request named by column, and the final [`Answer`].

use datafusion::logical_expr::{Expr, LogicalPlan};
use fingertip_dp::{EpochBudget, ci_half_width};
use serde_json::{Map, json};

use crate::answer::{Answer, ColumnMeta};
use crate::bounds::BoundsRequest;
use crate::estimate::Resolved;
use crate::guard::{Analyzed, MeasureKind};
use crate::post::{self, Output, ReleasedRows, Source};
use crate::refusal::{Refusal, code, refuse};
use crate::release::Noisy;
use crate::run::Run;
use crate::stages::Quantities;

/// Released values and their 95% intervals, per group and measure.
#[derive(Debug, Clone, Default)]
pub struct Released {
    pub rows: ReleasedRows,
    pub intervals: Vec<Vec<Option<(f64, f64)>>>,
}

/// The names each measure is shown under (its aggregate name, and every alias a projection
/// above the aggregate gives it).
fn measure_names(analyzed: &Analyzed) -> Vec<Vec<String>> {
    let groups = analyzed.aggregate.group_expr.len();
    let mut names: Vec<Vec<String>> = analyzed
        .measures
        .iter()
        .map(|m| vec![m.name.clone()])
        .collect();
    let mut node = &analyzed.plan;
    while !matches!(node, LogicalPlan::Aggregate(_)) {
        for (i, field) in node.schema().fields().iter().enumerate() {
            if let Source::Measure(j) = trace_original(node, i, groups) {
                names[j].push(field.name().clone());
            }
        }
        match node.inputs().as_slice() {
            [input] => node = input,
            _ => break,
        }
    }
    names
}

fn trace_original(plan: &LogicalPlan, i: usize, groups: usize) -> Source {
    match plan {
        LogicalPlan::Aggregate(_) => {
            if i < groups {
                Source::GroupKey(i)
            } else {
                Source::Measure(i - groups)
            }
        }
        LogicalPlan::Projection(p) => {
            match p.expr.get(i).map(|e| e.clone().unalias_nested().data) {
                Some(Expr::Column(c)) => p
                    .input
                    .schema()
                    .index_of_column(&c)
                    .map_or(Source::Derived, |j| trace_original(&p.input, j, groups)),
                _ => Source::Derived,
            }
        }
        other => match other.inputs().as_slice() {
            [input] => trace_original(input, i, groups),
            _ => Source::Derived,
        },
    }
}

/// The row value range requested for each quantity (through the measures that use it).
pub fn requested_ranges(
    analyzed: &Analyzed,
    quantities: &Quantities,
    req: &BoundsRequest,
) -> Result<Vec<Option<(f64, f64)>>, Refusal> {
    let names = measure_names(analyzed);
    let mut out = vec![None; quantities.list.len()];
    for (column, [lo, hi]) in &req.columns {
        let Some(m) = names.iter().position(|n| n.contains(column)) else {
            refuse!(
                code::INVALID_BOUNDS,
                "bounds name `{column}`, which is not an aggregated output column of the query"
            );
        };
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            refuse!(
                code::INVALID_BOUNDS,
                "bounds of `{column}` must be finite with lower ≤ upper"
            );
        }
        if lo.abs().max(hi.abs()) > crate::bounds::MAX_ABS_BOUND {
            refuse!(
                code::INVALID_BOUNDS,
                "bounds of `{column}` must lie within ±{:e}",
                crate::bounds::MAX_ABS_BOUND
            );
        }
        if let (Some(q), _) = quantities.of_measure[m] {
            out[q] = Some((*lo, *hi));
        }
    }
    Ok(out)
}

/// Measure values and intervals of every released group.
pub fn released_rows(
    noisy: &Noisy,
    analyzed: &Analyzed,
    quantities: &Quantities,
    ranges: &[Option<(f64, f64)>],
) -> Released {
    let mut out = Released::default();
    let hw = |i: usize| noisy.quantities[i].half_width.unwrap_or(0.0);
    for g in &noisy.groups {
        let mut values = Vec::new();
        let mut intervals = Vec::new();
        for (m, (num, den)) in analyzed.measures.iter().zip(&quantities.of_measure) {
            let (v, ci) = match (&m.kind, num, den) {
                (MeasureKind::Persons, Some(q), _) => {
                    let v = g.quantities[*q];
                    (Some(v), Some(((v - hw(*q)).max(0.0), v + hw(*q))))
                }
                (MeasureKind::Persons, ..) => {
                    let v = g.persons as f64;
                    let h = noisy.persons_noise.half_width.unwrap_or(0.0);
                    (Some(v), Some(((v - h).max(0.0), v + h)))
                }
                (MeasureKind::Count, Some(q), _) => {
                    let v = g.quantities[*q];
                    (Some(v), Some(((v - hw(*q)).max(0.0), v + hw(*q))))
                }
                (MeasureKind::Sum, Some(q), _) => {
                    let v = g.quantities[*q];
                    (Some(v), Some((v - hw(*q), v + hw(*q))))
                }
                (MeasureKind::Avg, Some(s), Some(c)) => average(
                    g.quantities[*s],
                    g.quantities[*c],
                    noisy,
                    *s,
                    *c,
                    ranges[*s],
                ),
                (MeasureKind::Quantile(_), Some(q), _) => (Some(g.quantities[*q]), None),
                _ => (None, None),
            };
            values.push(v);
            intervals.push(ci);
        }
        out.rows.keys.push(g.keys.clone());
        out.rows.values.push(values);
        out.intervals.push(intervals);
    }
    out
}

/// Noisy sum / noisy count, and an interval that holds with ≥ 95% (each part at 97.5%).
fn average(
    sum: f64,
    count: f64,
    noisy: &Noisy,
    s: usize,
    c: usize,
    range: Option<(f64, f64)>,
) -> (Option<f64>, Option<(f64, f64)>) {
    let (lo, hi) = range.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
    if count < 1.0 {
        return (None, Some((lo, hi)));
    }
    let half = |i: usize| {
        let n = &noisy.quantities[i];
        let unit = if n.scale > 0.0 {
            n.scale / n.scale_int
        } else {
            1.0
        };
        ci_half_width(n.scale_int, 0.025) as f64 * unit
    };
    let (hs, hc) = (half(s), half(c));
    let value = (sum / count).clamp(lo, hi);
    let ci = if count - hc >= 1.0 {
        let corners = [
            (sum - hs) / (count - hc),
            (sum - hs) / (count + hc),
            (sum + hs) / (count - hc),
            (sum + hs) / (count + hc),
        ];
        let a = corners
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .max(lo);
        let b = corners
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
            .min(hi);
        (a, b)
    } else {
        (lo, hi)
    };
    (Some(value), Some(ci))
}

/// Builds the answer.
pub fn answer(
    run: &Run<'_>,
    output: &Output,
    noisy: &Noisy,
    released: &Released,
    resolved: &Resolved,
    budget: Vec<EpochBudget>,
) -> Answer {
    let columns: Vec<ColumnMeta> = output
        .schema
        .fields()
        .iter()
        .zip(&output.sources)
        .map(|(f, s)| column_meta(run, f.name(), *s, noisy, resolved))
        .collect();
    let mut rows = Vec::new();
    let mut intervals = Vec::new();
    let mut seen = 0;
    for batch in &output.batches {
        for r in 0..batch.num_rows() {
            let id = output.row_ids[seen];
            seen += 1;
            let mut row = Map::new();
            let mut ci = Map::new();
            for (i, meta) in columns.iter().enumerate() {
                row.insert(
                    meta.name.clone(),
                    post::cell_json(batch.column(i).as_ref(), r),
                );
                let interval = |m: usize| released.intervals.get(id)?.get(m).copied().flatten();
                let shown = match output.sources[i] {
                    Source::Measure(m) => interval(m),
                    Source::Scaled {
                        measure,
                        factor,
                        offset,
                    } => interval(measure).map(|(a, b)| {
                        let (a, b) = (factor * a + offset, factor * b + offset);
                        (a.min(b), a.max(b))
                    }),
                    _ => None,
                };
                if let Some((a, b)) = shown {
                    ci.insert(meta.name.clone(), json!([a, b]));
                }
            }
            rows.push(row);
            intervals.push(ci);
        }
    }
    Answer {
        columns,
        rows,
        intervals,
        epsilon_spent: run.epsilon,
        delta_spent: run.delta,
        epochs: run.epochs.to_vec(),
        bounds: resolved.report(),
        groups_released: noisy.groups.len(),
        groups_suppressed: noisy.suppressed,
        partition_threshold: noisy.threshold,
        min_persons: run.min_persons,
        budget,
        schema: output.schema.clone(),
        batches: output.batches.clone(),
    }
}

fn column_meta(
    run: &Run<'_>,
    name: &str,
    source: Source,
    noisy: &Noisy,
    resolved: &Resolved,
) -> ColumnMeta {
    let base = ColumnMeta {
        name: name.to_string(),
        ..Default::default()
    };
    let m = match source {
        Source::Measure(m) => m,
        Source::Scaled {
            measure,
            factor,
            offset,
        } => return scaled_meta(run, name, measure, factor, offset, noisy, resolved),
        Source::GroupKey(_) => {
            return ColumnMeta {
                kind: "group_key",
                ..base
            };
        }
        Source::Derived => {
            let note = "computed from noisy values; see the columns it is computed from for their intervals";
            return ColumnMeta {
                kind: "derived",
                note: Some(note.into()),
                ..base
            };
        }
    };
    let measure = &run.analyzed.measures[m];
    let (num, _) = run.quantities.of_measure[m];
    let stage = resolved.stage_bounds(&run.quantities.list);
    let q = num.map(|i| &noisy.quantities[i]);
    let range = num.and_then(|i| resolved.ranges[i]).map(|(a, b)| [a, b]);
    let contribution = num.map(|i| stage.ranges[i]).map(|(a, b)| [a, b]);
    match measure.kind {
        MeasureKind::Persons if q.is_some() => ColumnMeta {
            kind: "persons",
            mechanism: q.map(|q| q.mechanism),
            epsilon: q.map(|q| q.epsilon),
            noise_scale: q.map(|q| q.scale),
            ci95_half_width: q.and_then(|q| q.half_width),
            ..base
        },
        MeasureKind::Persons => ColumnMeta {
            kind: "persons",
            mechanism: Some(noisy.persons_noise.mechanism),
            epsilon: Some(noisy.persons_noise.epsilon),
            noise_scale: Some(noisy.persons_noise.scale),
            ci95_half_width: noisy.persons_noise.half_width,
            ..base
        },
        MeasureKind::Count | MeasureKind::Sum => ColumnMeta {
            kind: if measure.kind == MeasureKind::Count {
                "count"
            } else {
                "sum"
            },
            mechanism: q.map(|q| q.mechanism),
            epsilon: q.map(|q| q.epsilon),
            noise_scale: q.map(|q| q.scale),
            ci95_half_width: q.and_then(|q| q.half_width),
            value_range: range.filter(|_| measure.kind == MeasureKind::Sum),
            contribution_range: contribution,
            ..base
        },
        MeasureKind::Avg => ColumnMeta {
            kind: "avg",
            mechanism: Some("noisy sum / noisy count (discrete_laplace)"),
            epsilon: Some(2.0 * run.split.quantity),
            noise_scale: q.map(|q| q.scale),
            value_range: range,
            contribution_range: contribution,
            note: Some("the interval holds with ≥95%: sum and count each at 97.5%".into()),
            ..base
        },
        MeasureKind::Quantile(alpha) => ColumnMeta {
            kind: "quantile",
            mechanism: q.map(|q| q.mechanism),
            epsilon: q.map(|q| q.epsilon),
            noise_scale: q.map(|q| q.scale),
            value_range: range,
            note: Some(format!(
                "the {alpha} quantile, chosen by the exponential mechanism among 257 candidates in the value range; no interval"
            )),
            ..base
        },
    }
}

/// A column that is `factor × measure + offset`: the measure's noise and interval, transformed.
/// It spends nothing of its own, so it reports no ε.
fn scaled_meta(
    run: &Run<'_>,
    name: &str,
    measure: usize,
    factor: f64,
    offset: f64,
    noisy: &Noisy,
    resolved: &Resolved,
) -> ColumnMeta {
    let source = &run.analyzed.measures[measure].name;
    let of = column_meta(run, source, Source::Measure(measure), noisy, resolved);
    if of.kind == "quantile" {
        return column_meta(run, name, Source::Derived, noisy, resolved);
    }
    ColumnMeta {
        name: name.to_string(),
        kind: "scaled",
        mechanism: of.mechanism,
        noise_scale: of.noise_scale.map(|s| s * factor.abs()),
        ci95_half_width: of.ci95_half_width.map(|h| h * factor.abs()),
        note: Some(format!(
            "{factor} × `{source}` + {offset}: its interval is that of `{source}`, transformed the same way"
        )),
        ..Default::default()
    }
}
