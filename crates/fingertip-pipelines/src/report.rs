//! From a run to the report's input (`fingertip-report` renders it).

use fingertip_report::{IndexInfo, PrivacySummary, ReportInput};

use crate::spec::{Kind, PipelineSpec};
use crate::{IndexRow, RunSummary};

/// The report of a run: `this_run` is its ε (under zCDP its ρ converted), `spent` and `total`
/// the epoch's ε view after it.
pub fn input(
    specs: &[PipelineSpec],
    rows: &[IndexRow],
    summary: &RunSummary,
    (this_run, spent, total): (f64, f64, f64),
) -> ReportInput {
    let indices = specs
        .iter()
        .filter(|s| s.kind != Kind::People || rows.iter().any(|r| r.index == s.name))
        .map(|s| IndexInfo {
            name: s.name.clone(),
            title: s.title.clone(),
            unit: s.unit.clone(),
            description: s.description.trim().to_string(),
            clause: s.clause.clone(),
            not_measured: s.not_measured.clone(),
            higher_is_worse: s.higher_is_worse,
        })
        .collect();
    ReportInput {
        title: "Fingertip burden report".into(),
        generated_at: summary.generated_at.clone(),
        weeks: summary.weeks.clone(),
        indices,
        rows: rows.to_vec(),
        privacy: PrivacySummary {
            epsilon_this_run: this_run,
            delta_this_run: summary.delta,
            epsilon_spent_in_epoch: spent,
            epsilon_total_per_epoch: total,
            epochs: summary.epochs.clone(),
            min_persons: summary.min_persons,
            privacy_unit: "one staff member (all of their events in all apps) within one key epoch"
                .into(),
        },
    }
}
