//! One charged query being executed: what its stages share — the planned query, the ε split,
//! the charged epochs, the noise and the ledger to report from. A leaf: `estimate` and
//! `output` read it, and `engine` drives it through its stages.

use datafusion::prelude::SessionContext;
use fingertip_dp::{Ledger, Noise};

use crate::guard::Analyzed;
use crate::stages::Quantities;

/// The ε of one query, split across its parts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Split {
    pub estimate_each: f64,
    pub persons: f64,
    pub quantity: f64,
}

/// One query being executed (after it was charged).
pub(crate) struct Run<'a> {
    pub ctx: &'a SessionContext,
    pub analyzed: &'a Analyzed,
    pub quantities: &'a Quantities,
    pub split: Split,
    pub epsilon: f64,
    pub delta: f64,
    pub epochs: &'a [String],
    pub public: Option<Vec<Vec<String>>>,
    pub noise: Noise,
    pub min_persons: u32,
    pub ledger: &'a Ledger,
}
