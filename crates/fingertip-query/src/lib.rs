//! Differentially private SQL over the event lake, on Apache DataFusion.
//!
//! A researcher's query is planned by DataFusion, checked by the [`guard`] on the resolved
//! logical plan, charged to the budget ledger, and rewritten into a person stage (grouped by
//! pseudonym, never released) and a release stage (bounded contributions summed across
//! persons), whose output is noised by `fingertip-dp` (OpenDP). HAVING, ORDER BY and LIMIT then
//! run on the noisy values. See `docs/sql.md` and `docs/privacy.md`.
//!
//! This crate depends on DataFusion and `fingertip-dp`; it must never be a dependency of the
//! ingest path.

mod answer;
#[cfg(feature = "test-util")]
mod audit;
mod bounds;
mod engine;
mod epochs;
mod error;
mod estimate;
pub mod guard;
pub mod lake;
mod limits;
mod output;
mod post;
mod refusal;
mod release;
mod run;
pub mod stages;
pub mod taint;

pub use answer::{Answer, ColumnMeta};
#[cfg(feature = "test-util")]
pub use audit::DrawnGroup;
pub use bounds::{BoundsRequest, ResolvedBounds};
pub use engine::{Engine, QueryConfig, QueryRequest, TableInfo};
pub use epochs::{charged_epochs, known_epochs};
pub use error::QueryError;
pub use guard::DomainColumn;
pub use limits::{DEFAULT_MEMORY_LIMIT, Limits, MemoryLimit};
pub use refusal::{Refusal, code};
