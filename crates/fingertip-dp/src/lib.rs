//! Differential privacy for Fingertip: the only crate that depends on OpenDP.
//!
//! It owns the mechanisms every release goes through (discrete Laplace and discrete Gaussian
//! sums and counts, partition selection by a noisy threshold, private quantiles), the release
//! step both
//! `fingertip query` and pipelines call (fixed-point sums, counts over public or selected
//! groups, small-cell suppression), the 95% intervals that come with each released number,
//! the budget ledger that every release is charged to — durably — before its answer is
//! returned, and how the ledger adds spends up (zCDP or pure ε, `accounting`).
//!
//! All noise is integer noise sampled by OpenDP (built with `contrib` and `use-openssl`, without
//! `floating-point`, `idealized-numerics` or `honest-but-curious`). Callers scale real values
//! to integers first. There is no other source of noise in Fingertip.
//!
//! ```
//! use fingertip_dp::{Noise, laplace};
//! let released = laplace(Noise::OpenDp, &[1200, 35], 1, 1, 1.0).unwrap();
//! assert_eq!(released.values.len(), 2);
//! assert_eq!(released.scale, 1.0);
//! ```

pub mod accounting;
pub mod amount;
mod interval;
mod ledger;
mod mechanisms;
mod release;

pub use interval::{ci_half_width, ci95_half_width, discrete_laplace_tail, gaussian_half_width};
pub use ledger::{
    BudgetConfig, BudgetStatus, EpochBudget, Ledger, LedgerError, Spend, Units, fingerprint,
};
pub use mechanisms::{
    DpError, MAX_EPSILON, MIN_EPSILON, MIN_RHO, Noise, Released, Selected, gaussian, laplace,
    quantile, select_partitions, threshold_for, upper_bound,
};
pub use release::{
    Bound, Budget, Cost, Counts, Groups, Mechanism, Sums, fixed_point_unit, release_counts,
    release_sums, suppressed,
};

#[cfg(all(feature = "test-util", not(debug_assertions)))]
compile_error!(
    "the `test-util` feature (no-noise releases) is for tests only and cannot be built in release mode"
);
