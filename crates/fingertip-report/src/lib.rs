//! Renders Fingertip's oversight report: one self-contained HTML file (inline CSS, inline SVG
//! charts drawn with plotters, no JavaScript, nothing fetched from the network) that a
//! non-specialist can read, from the published burden indices.
//!
//! The report ranks the imposers (apps, org units), never the imposed (people): its input holds
//! only released, noisy, suppression-checked numbers keyed by week, app and org unit.
//!
//! This crate owns the report's layout and wording. It must not depend on the query engine,
//! the DP library or storage: it renders what it is given, and never shows a suppressed cell's
//! value.
//!
//! ```
//! use fingertip_report::{IndexInfo, IndexRow, PrivacySummary, ReportInput, render_html};
//! let input = ReportInput {
//!     title: "Burden report".into(),
//!     generated_at: "2026-11-10T08:00:00Z".into(),
//!     weeks: vec!["2026-W45".into()],
//!     indices: vec![IndexInfo {
//!         name: "proof_uploads_per_worker".into(),
//!         title: "Proof uploads per worker".into(),
//!         unit: "uploads per worker per week".into(),
//!         description: "How many proof screenshots a worker uploads.".into(),
//!         clause: "Clause 3: no routine proof-of-work screenshots.".into(),
//!         not_measured: "Time spent preparing the screenshots.".into(),
//!         higher_is_worse: true,
//!     }],
//!     rows: vec![IndexRow {
//!         index: "proof_uploads_per_worker".into(),
//!         week: "2026-W45".into(),
//!         app_id: "*".into(),
//!         org_unit: "*".into(),
//!         value: Some(4.2),
//!         ci_low: Some(3.9),
//!         ci_high: Some(4.5),
//!         epsilon: 0.1,
//!         suppressed: false,
//!         clause: String::new(),
//!     }],
//!     privacy: PrivacySummary {
//!         epsilon_this_run: 1.0,
//!         delta_this_run: 1e-7,
//!         epsilon_spent_in_epoch: 2.0,
//!         epsilon_total_per_epoch: 10.0,
//!         epochs: vec!["2026Q4".into()],
//!         min_persons: 10,
//!         privacy_unit: "one staff member across all apps in one quarter".into(),
//!     },
//! };
//! let html = render_html(&input).unwrap();
//! assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
//! ```
//!
//! Modules (all private): `model` (input types and [`validate`]), `select` (which cells appear
//! where), `charts` (plotters SVG), `text` (wording and number formats), `html` (escaping and
//! page shell), `sections` (the report's parts in reading order), `error` ([`ReportError`]).

mod charts;
mod error;
mod html;
mod model;
mod sections;
mod select;
mod text;

pub use error::ReportError;
pub use model::{ALL, IndexInfo, IndexRow, PrivacySummary, ReportInput, validate};

/// Renders the report for `input` as one self-contained HTML document.
///
/// The input is checked with [`validate`] first; rows for unknown indices or weeks, duplicate
/// cells and non-finite numbers are refused rather than silently dropped.
pub fn render_html(input: &ReportInput) -> Result<String, ReportError> {
    validate(input)?;
    let weeks = model::sorted_weeks(input);
    let body = sections::body(input, &weeks)?;
    Ok(html::page(&input.title, &body))
}
