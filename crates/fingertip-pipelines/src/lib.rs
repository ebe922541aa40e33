//! Burden index pipelines: trusted pipeline definitions (`pipelines/*.toml`) whose person
//! stages may group by `person` (never released), run through differentially private release
//! stages into weekly indices per app and org unit, with 95% intervals, suppression of small
//! cells, and the oversight report.
//!
//! Rank the imposers (apps, issuing units), never the imposed: every output cell is a week ×
//! app × org unit (or a roll-up of them); no output is ever keyed by a person.

mod composite;
mod config;
mod index;
mod levels;
mod output;
mod people;
mod report;
mod runner;
mod spec;
mod stage;
pub mod udf;
pub mod weeks;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use config::PipelinesConfig;
pub use levels::{ALL, Cell, Level};
pub use people::Domain;
pub use runner::{RunRequest, Runner};
pub use spec::{Kind, PipelineSpec, load as load_pipelines};

/// The exact, bounded aggregates the release stages add noise to, exposed so that the cost of
/// differential privacy can be measured (the `dp_overhead` benchmark) on the very same SQL.
pub mod bounded {
    pub use crate::index::{Norm, clipped_sums, register_person_stage};
    pub use crate::people::exact_counts_by_level;
    pub use crate::stage::OnDisk;
    pub use fingertip_dp::fixed_point_unit as value_unit;
}

/// One published value, in long form: the report crate's row, the one type every output
/// (CSV, Parquet, JSON, report, API) is written from.
pub use fingertip_report::IndexRow;

/// A new row of `index` for `cell`, not yet valued.
pub fn new_row(index: &str, cell: &Cell, epsilon: f64, clause: &str) -> IndexRow {
    IndexRow {
        index: index.into(),
        week: cell.week.clone(),
        app_id: cell.app_id.clone(),
        org_unit: cell.org_unit.clone(),
        value: None,
        ci_low: None,
        ci_high: None,
        epsilon,
        suppressed: false,
        clause: clause.into(),
    }
}

/// What a run did, stored with its outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub generated_at: String,
    pub weeks: Vec<String>,
    pub epochs: Vec<String>,
    /// The sum of the indices' ε.
    pub epsilon: f64,
    /// Under zCDP: the ρ the run was charged (Σ ε²/2).
    #[serde(default)]
    pub rho: f64,
    /// How the ledger added the run up (zCDP: ρ with discrete Gaussian noise).
    #[serde(default)]
    pub accounting: fingertip_dp::accounting::Accounting,
    pub delta: f64,
    pub min_persons: u32,
    pub public_domain: bool,
    pub cells: usize,
    pub suppressed: usize,
    pub indices: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("pipeline {path}: {message}")]
    InvalidSpec { path: PathBuf, message: String },
    #[error("pipelines: {0}")]
    InvalidSet(String),
    #[error("`{0}` is not an ISO week like 2026-W45")]
    InvalidWeek(String),
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error(transparent)]
    Budget(#[from] fingertip_dp::LedgerError),
    #[error(transparent)]
    Privacy(#[from] fingertip_dp::DpError),
    #[error("query engine: {0}")]
    Engine(#[from] datafusion::error::DataFusionError),
    #[error("parquet: {0}")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("report: {0}")]
    Report(#[from] fingertip_report::ReportError),
    #[error("invalid time zone `{0}`")]
    TimeZone(String),
}
