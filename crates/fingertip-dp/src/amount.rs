//! Exact privacy amounts. The ledger adds and compares spends as integers — ε in units of
//! 1e-9 ("nano-ε"), δ in units of 1e-18 — so no sequence of spends, however small, can pass
//! an exhausted total through rounding.
//!
//! A float is converted through its shortest decimal form (what a person typed: `0.3` is
//! 0.3, not 0.29999999999999998890): a spend rounds *up* to the next unit (it is never
//! charged less than it asked for), a total rounds *down*.

/// ε units per 1.0 of ε.
pub const EPSILON_UNITS: u64 = 1_000_000_000;
/// δ units per 1.0 of δ.
pub const DELTA_UNITS: u64 = 1_000_000_000_000_000_000;

/// The largest ε or δ total the ledger represents (larger totals are this).
const MAX_EPSILON: u64 = 1_000_000_000;

/// Which way a value between two units goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Spends: never charge less than asked.
    Up,
    /// Totals: never allow more than set.
    Down,
}

/// `x` (≥ 0, finite) in units of `1 / units_per_one`, or `None` for a negative or non-finite
/// value. Values above 1e9 saturate at 1e9.
pub fn to_units(x: f64, units_per_one: u64, round: Round) -> Option<u64> {
    if !(x.is_finite() && x >= 0.0) {
        return None;
    }
    let digits = units_per_one.ilog10() as usize;
    if x >= MAX_EPSILON as f64 {
        return Some(MAX_EPSILON.saturating_mul(units_per_one));
    }
    // Display of an f64 is its shortest round-tripping decimal, without an exponent.
    let text = format!("{x}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let int: u64 = int.parse().ok()?;
    let kept = &frac[..frac.len().min(digits)];
    let frac_units: u64 = format!("{kept:0<digits$}").parse().ok()?;
    let rest_nonzero = frac.len() > digits && frac[digits..].bytes().any(|b| b != b'0');
    let units = int.checked_mul(units_per_one)?.checked_add(frac_units)?;
    Some(if rest_nonzero && round == Round::Up {
        units + 1
    } else {
        units
    })
}

/// ε in units (see [`to_units`]).
pub fn epsilon_units(epsilon: f64, round: Round) -> Option<u64> {
    to_units(epsilon, EPSILON_UNITS, round)
}

/// δ in units (see [`to_units`]).
pub fn delta_units(delta: f64, round: Round) -> Option<u64> {
    to_units(delta, DELTA_UNITS, round)
}

/// Units back to a float, for people.
pub fn from_units(units: u128, units_per_one: u64) -> f64 {
    let whole = units / u128::from(units_per_one);
    let frac = units % u128::from(units_per_one);
    whole as f64 + frac as f64 / units_per_one as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_and_spends_round_up() {
        assert_eq!(epsilon_units(0.3, Round::Up), Some(300_000_000));
        assert_eq!(epsilon_units(0.3, Round::Down), Some(300_000_000));
        assert_eq!(epsilon_units(30.0, Round::Down), Some(30_000_000_000));
        assert_eq!(epsilon_units(1e-9, Round::Up), Some(1));
        assert_eq!(epsilon_units(1e-12, Round::Up), Some(1));
        assert_eq!(epsilon_units(1e-12, Round::Down), Some(0));
        assert_eq!(epsilon_units(1e-300, Round::Up), Some(1));
        assert_eq!(epsilon_units(1.0000000001, Round::Up), Some(1_000_000_001));
        assert_eq!(epsilon_units(f64::NAN, Round::Up), None);
        assert_eq!(epsilon_units(-1.0, Round::Up), None);
        assert_eq!(
            epsilon_units(1e300, Round::Up),
            Some(MAX_EPSILON * EPSILON_UNITS)
        );
        assert_eq!(delta_units(1e-6, Round::Up), Some(1_000_000_000_000));
        assert_eq!(delta_units(1e-20, Round::Up), Some(1));
        assert_eq!(from_units(1_500_000_000, EPSILON_UNITS), 1.5);
    }

    #[test]
    fn tenths_add_up_exactly() {
        let tenth = epsilon_units(0.1, Round::Up).unwrap();
        assert_eq!(10 * tenth, epsilon_units(1.0, Round::Down).unwrap());
    }
}
