//! `fingertip-sim`: a seeded synthetic population of government-app users, the exact
//! ("true") burden indices of what it generated, and the direct writer of its events into a
//! Parquet lake. (Its HTTP load generator is `fingertip_bench::post`.)
//!
//! This crate owns *test data*: events here carry raw `person_ref`s such as `EMP-000123`. It
//! uses its own PRNG ([`rng::Rng`], xoshiro256++) and never the `rand` crate; the same seed and
//! options always give byte-identical output. It depends on the model, the anonymizer and the
//! store (for the direct lake writer) and must not depend on the query or DP crates: the true
//! indices are computed here with plain arithmetic, precisely so that they can check those.
//!
//! | module | owns |
//! |---|---|
//! | [`rng`] | the seeded PRNG |
//! | [`org`] | counties → townships, unit burden profiles, the org-unit CSV |
//! | [`population`] | options, workers, apps used |
//! | `behaviour` | what a worker does in a week, app by app |
//! | [`stream`] | the constant-memory event iterator |
//! | [`ndjson`] | the JSON shape of an event |
//! | [`truth`] | exact indices per week × app × org unit (docs/indices.md) |
//! | [`lake`] | the direct Parquet lake writer |
//!
//! ```
//! use fingertip_sim::{SimOptions, events};
//! let mut options = SimOptions::new(10, 1, 42);
//! options.end_ms = 1_795_000_000_000;
//! let first: Vec<_> = events(options.clone()).take(3).collect();
//! assert_eq!(first, events(options).take(3).collect::<Vec<_>>());
//! ```

mod behaviour;
pub mod calendar;
mod event;
pub mod lake;
pub mod ndjson;
pub mod org;
pub mod population;
pub mod rng;
pub mod stream;
pub mod truth;

use std::io;

pub use event::{App, EventType, SimEvent};
pub use lake::{LakeOptions, LakeReport, LakeWriter, write_lake};
pub use ndjson::{encode_event, write_ndjson};
pub use org::{Level, OrgTree, OrgUnit, Tier, Township, UnitProfile};
pub use population::{Distribution, Population, SimOptions, Worker};
pub use stream::{EventStream, events};
pub use truth::{
    BurdenComponent, Index, IndexRow, Truth, TruthBuilder, TruthConfig, compute_truth,
};

/// The time-zone type of [`SimOptions::tz`] and [`TruthConfig::tz`].
pub use chrono_tz::Tz;

/// Everything that can go wrong in the simulator. Messages never contain event payloads.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("I/O on {what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("invalid option `{option}`: {problem}")]
    InvalidOption {
        option: &'static str,
        problem: &'static str,
    },
    #[error("key store: {0}")]
    Keys(#[from] fingertip_anonymize::KeyError),
    #[error("JSON output: {0}")]
    Json(#[from] serde_json::Error),
}

/// An IANA time zone by name, e.g. `Asia/Shanghai`.
pub fn parse_tz(name: &str) -> Result<Tz, SimError> {
    name.parse().map_err(|_| SimError::InvalidOption {
        option: "tz",
        problem: "not an IANA time zone name",
    })
}

impl SimError {
    /// Maps an I/O error, naming what was being read or written.
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> SimError {
        let what = what.into();
        move |source| SimError::Io { what, source }
    }
}
