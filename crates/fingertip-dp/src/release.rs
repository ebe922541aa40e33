//! The noise step of every release, shared by `fingertip query` and pipelines: exact integers
//! in (each caller bounds one person's contribution first and says by how much), noisy values
//! with their scale and interval half-widths out, in the caller's value units.
//!
//! - [`release_counts`]: per-group person counts, over a declared (public) set of groups, or
//!   through partition selection when the groups come from the data;
//! - [`release_sums`]: per-group sums in fixed point (steps of [`fixed_point_unit`]);
//!
//! The [`Budget`] chooses the noise: ε buys discrete Laplace noise scaled to the L1 [`Bound`],
//! ρ buys discrete Gaussian noise scaled to the L2 bound (smaller when a person spreads over
//! several groups).
//! - [`suppressed`]: the small-cell rule both apply to released person counts.
//!
//! The mechanisms themselves (OpenDP) are in `mechanisms`; nothing here touches a value
//! except through them.

use crate::interval::{ci_half_width, gaussian_half_width};
use crate::mechanisms::{DpError, Noise, Released, gaussian, laplace, select_partitions};

/// The fixed-point step of a sum whose per-person contribution is bounded by `bound`: the
/// power of two at or below `bound / 2^20`. About a million steps per bound is fine enough
/// that rounding is lost in the noise, and a power of two is exact for the round numbers
/// durations and counts are. A caller's sensitivity in steps is then at most
/// `⌈bound / unit⌉` (+ 1 when it rounds instead of truncating).
pub fn fixed_point_unit(bound: f64) -> f64 {
    2f64.powi((bound.abs().max(1e-9) / 1_048_576.0).log2().floor() as i32)
}

/// What a release may spend: ε with discrete Laplace noise (pure DP), or ρ with discrete
/// Gaussian noise (zCDP).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    Epsilon(f64),
    Rho(f64),
}

impl Budget {
    /// This budget divided evenly over `parts` releases (each then composes back to it).
    pub fn split(self, parts: usize) -> Self {
        self.share(1.0 / parts.max(1) as f64)
    }

    /// A `fraction` of this budget.
    pub fn share(self, fraction: f64) -> Self {
        match self {
            Budget::Epsilon(e) => Budget::Epsilon(e * fraction),
            Budget::Rho(r) => Budget::Rho(r * fraction),
        }
    }
}

/// The noise a release was made with, for its intervals and for readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    DiscreteLaplace,
    DiscreteGaussian,
}

impl Mechanism {
    /// The name in answers and outputs.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::DiscreteLaplace => "discrete_laplace",
            Mechanism::DiscreteGaussian => "discrete_gaussian",
        }
    }

    /// The half-width (integer units) of an interval that holds the exact value with
    /// probability at least `1 − alpha` under this noise at `scale`.
    pub fn half_width(self, scale: f64, alpha: f64) -> u64 {
        match self {
            Mechanism::DiscreteLaplace => ci_half_width(scale, alpha),
            Mechanism::DiscreteGaussian => gaussian_half_width(scale, alpha),
        }
    }
}

/// What a release cost, as the ledger charges it: a pure ε part, an approximate δ and a zCDP
/// ρ part (see [`crate::accounting`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    pub epsilon: f64,
    pub delta: f64,
    pub rho: f64,
}

impl Cost {
    /// Both costs together (sequential composition).
    pub fn plus(self, other: Cost) -> Cost {
        Cost {
            epsilon: self.epsilon + other.epsilon,
            delta: self.delta + other.delta,
            rho: self.rho + other.rho,
        }
    }
}

/// How one person's contribution to a release is bounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// In at most `l0` groups, by at most `linf` (steps) in each: L1 `l0·linf`, L2 `√l0·linf`.
    Groups { l0: u32, linf: i64 },
    /// The person's vector over all groups has at most this norm (steps), measured in the
    /// norm of the budget's noise: L1 for ε (Laplace), L2 for ρ (Gaussian).
    Norm(i64),
}

/// Noise on one value per group for `budget` and `bound`.
fn noisy(
    noise: Noise,
    values: &[i64],
    bound: Bound,
    budget: Budget,
) -> Result<(Released, Mechanism), DpError> {
    Ok(match (budget, bound) {
        (Budget::Epsilon(e), Bound::Groups { l0, linf }) => (
            laplace(noise, values, l0, linf, e)?,
            Mechanism::DiscreteLaplace,
        ),
        (Budget::Epsilon(e), Bound::Norm(l1)) => (
            laplace(noise, values, 1, l1, e)?,
            Mechanism::DiscreteLaplace,
        ),
        (Budget::Rho(r), Bound::Groups { l0, linf }) => {
            let l2 = f64::from(l0.max(1)).sqrt() * linf.max(0) as f64;
            (gaussian(noise, values, l2, r)?, Mechanism::DiscreteGaussian)
        }
        (Budget::Rho(r), Bound::Norm(l2)) => (
            gaussian(noise, values, l2.max(0) as f64, r)?,
            Mechanism::DiscreteGaussian,
        ),
    })
}

/// How the groups of a release are known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Groups {
    /// Declared before the data is read (or a single group): every one is released.
    Public,
    /// Taken from the data: a group is released only if its noisy count passes a threshold,
    /// which costs `delta`.
    FromData { delta: f64 },
}

/// Released person counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    /// `(group index, noisy count)` of the released groups, in index order.
    pub kept: Vec<(usize, i64)>,
    /// Noise scale (persons).
    pub scale: f64,
    pub mechanism: Mechanism,
    /// What the privacy maps charged.
    pub cost: Cost,
    /// The selection threshold, for groups from the data.
    pub threshold: Option<i64>,
}

impl Counts {
    /// The half-width (persons) of an interval that holds the exact count with probability
    /// at least `1 − alpha`.
    pub fn half_width(&self, alpha: f64) -> f64 {
        self.mechanism.half_width(self.scale, alpha) as f64
    }
}

/// Releases one person count per group, a person being counted in at most `l0` groups.
///
/// Groups from the data are selected by a Laplace threshold (OpenDP's, audited in
/// `mechanisms`) under either budget: under ρ it runs at ε = √(2ρ), which costs ρ = ε²/2
/// with its δ as approximate zCDP.
pub fn release_counts(
    noise: Noise,
    counts: &[i64],
    l0: u32,
    budget: Budget,
    groups: Groups,
) -> Result<Counts, DpError> {
    Ok(match groups {
        Groups::FromData { delta } => {
            let epsilon = match budget {
                Budget::Epsilon(e) => e,
                Budget::Rho(r) => (2.0 * r).sqrt(),
            };
            let s = select_partitions(noise, counts, l0, epsilon, delta)?;
            let cost = match budget {
                Budget::Epsilon(_) => Cost {
                    epsilon: s.epsilon,
                    delta: s.delta,
                    rho: 0.0,
                },
                Budget::Rho(_) => Cost {
                    epsilon: 0.0,
                    delta: s.delta,
                    rho: s.epsilon * s.epsilon / 2.0,
                },
            };
            Counts {
                kept: s.kept,
                scale: s.scale,
                mechanism: Mechanism::DiscreteLaplace,
                cost,
                threshold: Some(s.threshold),
            }
        }
        Groups::Public => {
            let (r, mechanism) = noisy(noise, counts, Bound::Groups { l0, linf: 1 }, budget)?;
            Counts {
                kept: r.values.into_iter().enumerate().collect(),
                scale: r.scale,
                mechanism,
                cost: Cost {
                    epsilon: r.epsilon,
                    delta: 0.0,
                    rho: r.rho,
                },
                threshold: None,
            }
        }
    })
}

/// Released sums, in value units.
#[derive(Debug, Clone, PartialEq)]
pub struct Sums {
    pub values: Vec<f64>,
    /// Noise scale in steps.
    pub scale_steps: f64,
    /// The value of one step.
    pub unit: f64,
    pub mechanism: Mechanism,
    /// What the privacy map charged.
    pub cost: Cost,
}

impl Sums {
    /// Noise scale in value units.
    pub fn scale(&self) -> f64 {
        self.scale_steps * self.unit
    }

    /// The half-width (value units) of an interval that holds the exact sum with probability
    /// at least `1 − alpha`.
    pub fn half_width(&self, alpha: f64) -> f64 {
        self.mechanism.half_width(self.scale_steps, alpha) as f64 * self.unit
    }
}

/// Releases one sum per group, given in steps of `unit`, one person's contribution bounded by
/// `bound` (the caller's bounding guarantees it).
pub fn release_sums(
    noise: Noise,
    steps: &[i64],
    unit: f64,
    bound: Bound,
    budget: Budget,
) -> Result<Sums, DpError> {
    let (r, mechanism) = noisy(noise, steps, bound, budget)?;
    Ok(Sums {
        values: r.values.iter().map(|v| *v as f64 * unit).collect(),
        scale_steps: r.scale,
        unit,
        mechanism,
        cost: Cost {
            epsilon: r.epsilon,
            delta: 0.0,
            rho: r.rho,
        },
    })
}

/// Whether a released group is withheld: its noisy person count is below `min_persons`.
pub fn suppressed(noisy_persons: i64, min_persons: u32) -> bool {
    noisy_persons < i64::from(min_persons)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_is_a_power_of_two_about_a_millionth_of_the_bound() {
        assert_eq!(fixed_point_unit(1_048_576.0), 1.0);
        assert_eq!(fixed_point_unit(600.0), 2f64.powi(-11));
        for bound in [1e-6, 0.5, 3.0, 600.0, 28_800.0, 1e12] {
            let unit = fixed_point_unit(bound);
            let steps = bound / unit;
            assert!(
                (1_048_576.0..2_097_152.0).contains(&steps),
                "{bound}: {steps}"
            );
            assert_eq!(unit.log2().fract(), 0.0, "{bound}");
        }
    }

    #[test]
    fn sums_report_scale_and_intervals_in_value_units() {
        let bound = Bound::Groups { l0: 2, linf: 8 };
        let s = release_sums(Noise::OpenDp, &[4096, 0], 0.25, bound, Budget::Epsilon(1.0)).unwrap();
        assert_eq!((s.scale_steps, s.scale()), (16.0, 4.0));
        assert_eq!(s.half_width(0.05), ci_half_width(16.0, 0.05) as f64 * 0.25);
        assert_eq!(s.values.len(), 2);
    }

    #[test]
    fn public_counts_keep_every_group_and_from_data_counts_select() {
        let c = release_counts(
            Noise::OpenDp,
            &[0, 0, 5],
            1,
            Budget::Epsilon(1.0),
            Groups::Public,
        )
        .unwrap();
        assert_eq!(c.kept.iter().map(|k| k.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(c.threshold, None);
        let big = [0, 100_000];
        let d = Groups::FromData { delta: 1e-6 };
        let c = release_counts(Noise::OpenDp, &big, 1, Budget::Epsilon(1.0), d).unwrap();
        assert_eq!(c.kept.iter().map(|k| k.0).collect::<Vec<_>>(), [1]);
        assert!(c.threshold.is_some());
        assert!(suppressed(4, 5) && !suppressed(5, 5));
    }

    #[test]
    fn rho_buys_gaussian_noise_on_the_l2_bound() {
        let bound = Bound::Groups { l0: 4, linf: 3 };
        let s = release_sums(Noise::OpenDp, &[0; 3], 1.0, bound, Budget::Rho(0.5)).unwrap();
        // L2 = √4·3 = 6; σ = 6/√(2·0.5) = 6.
        assert!((s.scale_steps - 6.0).abs() < 1e-6, "{}", s.scale_steps);
        assert_eq!(s.mechanism, Mechanism::DiscreteGaussian);
        assert!(s.cost.epsilon == 0.0 && (s.cost.rho - 0.5).abs() < 1e-6);
        let c = release_counts(
            Noise::OpenDp,
            &[100_000],
            1,
            Budget::Rho(0.02),
            Groups::FromData { delta: 1e-6 },
        )
        .unwrap();
        // Selection at ε = √(2ρ) = 0.2 costs ρ = 0.02 and its δ.
        assert!((c.cost.rho - 0.02).abs() < 1e-6 && c.cost.delta <= 1e-6 && c.cost.epsilon == 0.0);
        assert_eq!(Budget::Rho(1.0).split(4), Budget::Rho(0.25));
    }

    /// The gain docs/privacy.md quotes: a quarter (ε = 30, δ = 10⁻⁴) spent on 13 weekly runs
    /// of the shipped pipelines (0.4 for active workers and 0.2 for each of eight indices, each
    /// index released at 4 levels × 2 quantities), all budget to the pipelines. Pure: ε adds up,
    /// Laplace on the L1 bound. zCDP: ρ adds up, Gaussian on the L2 bound (equal here: one
    /// week). `cargo test -p fingertip-dp quarter -- --nocapture` prints the table.
    #[test]
    fn a_quarter_of_weekly_runs_is_far_tighter_under_zcdp() {
        use crate::accounting::{conversion_delta, rho_for_epsilon};
        let (eps_total, delta_total, runs, parts) = (30.0, 1e-4, 13.0, 8.0);
        let (index_eps, run_eps) = (0.2, 2.0);
        let bound = Bound::Norm(1 << 20);
        let steps = vec![0i64; 1];
        let width = |budget: Budget| {
            let s = release_sums(Noise::OpenDp, &steps, 1.0, bound, budget).unwrap();
            s.half_width(0.05) / f64::from(1 << 20)
        };
        let pure = width(Budget::Epsilon(
            eps_total / runs * index_eps / run_eps / parts,
        ));
        let rho_total = rho_for_epsilon(eps_total, conversion_delta(delta_total));
        let run_rho = (0.4f64.powi(2) + 8.0 * index_eps * index_eps) / 2.0;
        let index_rho = rho_total / runs * (index_eps * index_eps / 2.0) / run_rho;
        let zcdp = width(Budget::Rho(index_rho / parts));
        println!(
            "ρ total {rho_total:.3} (at ε = 1: {:.4}); 95% half-width per unit of bound: pure {pure:.2}, zCDP {zcdp:.2} ({:.2}×)",
            rho_for_epsilon(1.0, conversion_delta(delta_total)),
            zcdp / pure
        );
        assert!(zcdp < pure / 4.0, "{pure} {zcdp}");
    }
}
