//! True (exact, non-private, unclamped) burden indices, as defined in `docs/indices.md`.
//!
//! Cells are (ISO week in the reporting time zone, `app_id`, `org_unit`), with `*` roll-ups
//! over apps, units or both. A cell exists when at least one event falls in it; within a cell
//! an index is omitted when its denominator is zero, and `burden_index` when none of its
//! components is defined. `rankings_published` is a plain count (denominator 1);
//! `apps_per_worker` only exists for `app_id = *`.
//!
//! [`TruthBuilder`] streams over events keeping additive sums per cell plus a small state per
//! (person, week) (units, apps, and data-element entries), so memory grows with persons ×
//! weeks, not with events. Persons are identified by `person_ref` (one simulated worker).

mod accumulate;
mod output;

use chrono_tz::Tz;
use serde::Serialize;

pub use accumulate::{Truth, TruthBuilder};

use crate::event::SimEvent;

/// The indices of `docs/indices.md`, in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Index {
    CheckinMinutesPerWorker,
    ComplianceMinutesPerWorker,
    ForcedUseShare,
    ProofUploadsPerWorker,
    DuplicateEntryRate,
    AppsPerWorker,
    AfterHoursDemandShare,
    RankingsPublished,
    BurdenIndex,
}

impl Index {
    pub const ALL: [Index; 9] = [
        Self::CheckinMinutesPerWorker,
        Self::ComplianceMinutesPerWorker,
        Self::ForcedUseShare,
        Self::ProofUploadsPerWorker,
        Self::DuplicateEntryRate,
        Self::AppsPerWorker,
        Self::AfterHoursDemandShare,
        Self::RankingsPublished,
        Self::BurdenIndex,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckinMinutesPerWorker => "checkin_minutes_per_worker",
            Self::ComplianceMinutesPerWorker => "compliance_minutes_per_worker",
            Self::ForcedUseShare => "forced_use_share",
            Self::ProofUploadsPerWorker => "proof_uploads_per_worker",
            Self::DuplicateEntryRate => "duplicate_entry_rate",
            Self::AppsPerWorker => "apps_per_worker",
            Self::AfterHoursDemandShare => "after_hours_demand_share",
            Self::RankingsPublished => "rankings_published",
            Self::BurdenIndex => "burden_index",
        }
    }
}

/// One component of the composite burden index: `weight × min(1, value / reference)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurdenComponent {
    pub index: Index,
    pub weight: f64,
    pub reference: f64,
}

/// How the indices are computed.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthConfig {
    /// The reporting time zone: weeks and working hours are local to it.
    pub tz: Tz,
    /// Working days, Monday first.
    pub working_days: [bool; 7],
    /// Working hours are `[start, end)` local hours of a working day.
    pub work_start_hour: u32,
    pub work_end_hour: u32,
    pub burden: Vec<BurdenComponent>,
}

impl Default for TruthConfig {
    /// `Asia/Shanghai`, Monday–Friday 08:00–18:00, and the weights of `docs/indices.md`.
    fn default() -> Self {
        let c = |index, weight, reference| BurdenComponent {
            index,
            weight,
            reference,
        };
        Self {
            tz: chrono_tz::Asia::Shanghai,
            working_days: [true, true, true, true, true, false, false],
            work_start_hour: 8,
            work_end_hour: 18,
            burden: vec![
                c(Index::CheckinMinutesPerWorker, 1.0, 60.0),
                c(Index::ComplianceMinutesPerWorker, 2.0, 600.0),
                c(Index::ForcedUseShare, 1.0, 1.0),
                c(Index::ProofUploadsPerWorker, 1.0, 20.0),
                c(Index::DuplicateEntryRate, 1.0, 0.5),
                c(Index::AfterHoursDemandShare, 1.0, 0.5),
                c(Index::RankingsPublished, 1.0, 1.0),
            ],
        }
    }
}

impl TruthConfig {
    /// True when local second-of-day `sod` on local weekday `weekday` (0 = Monday) is outside
    /// working hours.
    pub fn is_after_hours(&self, weekday: u32, sod: u32) -> bool {
        let working_day = self
            .working_days
            .get(weekday as usize)
            .copied()
            .unwrap_or(false);
        let hours = self.work_start_hour * 3600..self.work_end_hour * 3600;
        !(working_day && hours.contains(&sod))
    }
}

/// One index value of one cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexRow {
    pub index: Index,
    /// ISO week, e.g. `2026-W45`.
    pub week: String,
    /// An app, or `*`.
    pub app_id: String,
    /// An org unit, or `*`.
    pub org_unit: String,
    pub value: f64,
    pub numerator: f64,
    pub denominator: f64,
}

/// The true indices of `events`.
pub fn compute_truth(events: impl IntoIterator<Item = SimEvent>, config: TruthConfig) -> Truth {
    let mut builder = TruthBuilder::new(config);
    events.into_iter().for_each(|e| builder.observe(&e));
    builder.finish()
}

/// The burden index from the other indices of the same cell (`parts`: index, value).
fn burden(components: &[BurdenComponent], parts: &[(Index, f64, f64)]) -> Option<(f64, f64)> {
    let mut weighted = 0.0;
    let mut weights = 0.0;
    for c in components.iter().filter(|c| c.reference > 0.0) {
        if let Some((_, num, den)) = parts.iter().find(|p| p.0 == c.index) {
            weighted += c.weight * (num / den / c.reference).min(1.0);
            weights += c.weight;
        }
    }
    (weights > 0.0).then_some((100.0 * weighted, weights))
}
