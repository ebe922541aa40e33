//! How an epoch's releases add up: pure ε (basic composition) or zero-concentrated DP (ρ).
//!
//! Under zCDP the ledger adds every spend's ρ and refuses a spend when the total ρ would exceed
//! the ρ its (ε, δ) budget allows. A zCDP release (discrete Gaussian) is charged its ρ; a pure
//! ε-DP release is charged ρ = ε²/2 (Bun & Steinke 2016, Prop. 3.3 — OpenDP's
//! `make_pureDP_to_zCDP`), and an (ε, δ) release (partition selection) ρ = ε²/2 with its δ, as
//! approximate zCDP (Bun & Steinke 2016, §8). Half of the epoch's δ total converts the ρ total
//! to ε (Canonne, Kamath & Steinke 2020, OpenDP's `make_zCDP_to_approxDP`); the other half pays
//! the δ of partition selection. Both budgets are fixed before any spend, so the ledger is a
//! zCDP privacy filter and spends may be chosen adaptively (Feldman & Zrnic 2021).
//!
//! Many small releases cost far less under zCDP than under basic composition; one large release
//! costs more. An epoch keeps the accounting of its first spend, so changing `[budget]
//! accounting` never re-prices spends already made.

use std::collections::BTreeMap;
use std::sync::Mutex;

use opendp::combinators::ConcentratedMeasure;
use opendp::measures::ZeroConcentratedDivergence;
use serde::{Deserialize, Serialize};

/// How an epoch's spends compose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accounting {
    /// Zero-concentrated DP: ρ adds up; the total is converted to (ε, δ).
    #[default]
    Zcdp,
    /// Basic composition: ε and δ add up.
    Pure,
}

/// ρ units per 1.0 of ρ (the ledger adds ρ in units of 1e-12).
pub const RHO_UNITS: u64 = 1_000_000_000_000;

/// The ρ (in 1e-12 units, rounded up) of an ε-DP release given in 1e-9 units of ε:
/// ρ = ε²/2, exactly in integers.
pub fn rho_units_of_epsilon_units(epsilon_units: u64) -> u128 {
    // ε = u·1e-9 ⇒ ρ = u²·1e-18 / 2 = u² / (2·10⁶) units of 1e-12.
    u128::from(epsilon_units).pow(2).div_ceil(2_000_000)
}

/// The share of an epoch's δ total that converts its ρ total to ε (the rest pays the δ of
/// partition selection).
pub fn conversion_delta(delta_total: f64) -> f64 {
    delta_total / 2.0
}

/// The smallest ε such that every ρ-zCDP release is (ε, δ)-DP (OpenDP's conversion, after
/// Canonne, Kamath & Steinke 2020). Infinite when δ is 0 and ρ is not.
pub fn epsilon_of_rho(rho: f64, delta: f64) -> f64 {
    if rho <= 0.0 {
        return 0.0;
    }
    if delta <= 0.0 {
        return f64::INFINITY;
    }
    ZeroConcentratedDivergence::convert(rho)
        .and_then(|profile| profile.epsilon(delta.min(1.0)))
        .unwrap_or(f64::INFINITY)
}

/// The largest ρ (to f64 precision) whose conversion at `delta` is at most `epsilon`.
/// Remembered per (ε, δ): the ledger asks for the same few totals on every spend.
pub fn rho_for_epsilon(epsilon: f64, delta: f64) -> f64 {
    static KNOWN: Mutex<BTreeMap<(u64, u64), f64>> = Mutex::new(BTreeMap::new());
    if !(epsilon > 0.0 && delta > 0.0) {
        return 0.0;
    }
    let key = (epsilon.to_bits(), delta.to_bits());
    if let Some(rho) = KNOWN.lock().ok().and_then(|k| k.get(&key).copied()) {
        return rho;
    }
    let rho = search_rho(epsilon, delta);
    if let Ok(mut known) = KNOWN.lock() {
        known.insert(key, rho);
    }
    rho
}

fn search_rho(epsilon: f64, delta: f64) -> f64 {
    // ρ ≤ ε always (ε ≥ ρ + 2√(ρ ln 1/δ) ≥ ρ), so [0, ε] brackets the answer.
    let (mut lo, mut hi) = (0.0f64, epsilon);
    for _ in 0..200 {
        let mid = lo + (hi - lo) / 2.0;
        if mid == lo || mid == hi {
            break;
        }
        if epsilon_of_rho(mid, delta) <= epsilon {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_is_within_the_classic_bound_and_inverts() {
        for (rho, delta) in [(0.5, 1e-6), (10.0, 5e-5), (1e-4, 1e-9)] {
            let eps = epsilon_of_rho(rho, delta);
            // Bun & Steinke: ε ≤ ρ + 2√(ρ ln 1/δ); CKS is tighter.
            let classic = rho + 2.0 * (rho * (1.0 / delta).ln()).sqrt();
            assert!(
                eps <= classic && eps > rho,
                "{rho} {delta}: {eps} vs {classic}"
            );
            let back = rho_for_epsilon(eps, delta);
            assert!((back - rho).abs() <= rho * 1e-6, "{rho}: {back}");
        }
        assert_eq!(epsilon_of_rho(0.0, 0.0), 0.0);
        assert!(epsilon_of_rho(1.0, 0.0).is_infinite());
        assert_eq!(rho_for_epsilon(1.0, 0.0), 0.0);
    }

    #[test]
    fn pure_epsilon_costs_half_its_square() {
        assert_eq!(rho_units_of_epsilon_units(1_000_000_000), 500_000_000_000);
        assert_eq!(rho_units_of_epsilon_units(100_000_000), 5_000_000_000);
        // 1e-9 of ε is 5e-19 of ρ: charged one unit, never zero.
        assert_eq!(rho_units_of_epsilon_units(1), 1);
        assert_eq!(rho_units_of_epsilon_units(0), 0);
    }
}
