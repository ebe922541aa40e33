//! The noise step of every release, shared by `fingertip query` and pipelines: exact integers
//! in (each caller bounds one person's contribution first and says by how much), noisy values
//! with their scale and interval half-widths out, in the caller's value units.
//!
//! - [`release_counts`]: per-group person counts, over a declared (public) set of groups with
//!   Laplace noise, or through partition selection when the groups come from the data;
//! - [`release_sums`]: per-group sums in fixed point (steps of [`fixed_point_unit`]);
//! - [`suppressed`]: the small-cell rule both apply to released person counts.
//!
//! The mechanisms themselves (OpenDP) are in `mechanisms`; nothing here touches a value
//! except through them.

use crate::interval::ci_half_width;
use crate::mechanisms::{DpError, Noise, laplace, select_partitions};

/// The fixed-point step of a sum whose per-person contribution is bounded by `bound`: the
/// power of two at or below `bound / 2^20`. About a million steps per bound is fine enough
/// that rounding is lost in the noise, and a power of two is exact for the round numbers
/// durations and counts are. A caller's sensitivity in steps is then at most
/// `⌈bound / unit⌉` (+ 1 when it rounds instead of truncating).
pub fn fixed_point_unit(bound: f64) -> f64 {
    2f64.powi((bound.abs().max(1e-9) / 1_048_576.0).log2().floor() as i32)
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
    /// The ε the privacy map charged.
    pub epsilon: f64,
    /// The selection threshold, for groups from the data.
    pub threshold: Option<i64>,
}

impl Counts {
    /// The half-width (persons) of an interval that holds the exact count with probability
    /// at least `1 − alpha`.
    pub fn half_width(&self, alpha: f64) -> f64 {
        ci_half_width(self.scale, alpha) as f64
    }
}

/// Releases one person count per group, a person being counted in at most `l0` groups.
pub fn release_counts(
    noise: Noise,
    counts: &[i64],
    l0: u32,
    epsilon: f64,
    groups: Groups,
) -> Result<Counts, DpError> {
    Ok(match groups {
        Groups::FromData { delta } => {
            let s = select_partitions(noise, counts, l0, epsilon, delta)?;
            Counts {
                kept: s.kept,
                scale: s.scale,
                epsilon: s.epsilon,
                threshold: Some(s.threshold),
            }
        }
        Groups::Public => {
            let r = laplace(noise, counts, l0, 1, epsilon)?;
            Counts {
                kept: r.values.into_iter().enumerate().collect(),
                scale: r.scale,
                epsilon: r.epsilon,
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
    /// The ε the privacy map charged.
    pub epsilon: f64,
}

impl Sums {
    /// Noise scale in value units.
    pub fn scale(&self) -> f64 {
        self.scale_steps * self.unit
    }

    /// The half-width (value units) of an interval that holds the exact sum with probability
    /// at least `1 − alpha`.
    pub fn half_width(&self, alpha: f64) -> f64 {
        ci_half_width(self.scale_steps, alpha) as f64 * self.unit
    }
}

/// Releases one sum per group, given in steps of `unit`: a person changes at most `l0` groups,
/// each by at most `linf_steps` steps (the caller's bounding guarantees it).
pub fn release_sums(
    noise: Noise,
    steps: &[i64],
    unit: f64,
    l0: u32,
    linf_steps: i64,
    epsilon: f64,
) -> Result<Sums, DpError> {
    let r = laplace(noise, steps, l0, linf_steps, epsilon)?;
    Ok(Sums {
        values: r.values.iter().map(|v| *v as f64 * unit).collect(),
        scale_steps: r.scale,
        unit,
        epsilon: r.epsilon,
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
        let s = release_sums(Noise::OpenDp, &[4096, 0], 0.25, 2, 8, 1.0).unwrap();
        assert_eq!((s.scale_steps, s.scale()), (16.0, 4.0));
        assert_eq!(s.half_width(0.05), ci_half_width(16.0, 0.05) as f64 * 0.25);
        assert_eq!(s.values.len(), 2);
    }

    #[test]
    fn public_counts_keep_every_group_and_from_data_counts_select() {
        let c = release_counts(Noise::OpenDp, &[0, 0, 5], 1, 1.0, Groups::Public).unwrap();
        assert_eq!(c.kept.iter().map(|k| k.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(c.threshold, None);
        let big = [0, 100_000];
        let d = Groups::FromData { delta: 1e-6 };
        let c = release_counts(Noise::OpenDp, &big, 1, 1.0, d).unwrap();
        assert_eq!(c.kept.iter().map(|k| k.0).collect::<Vec<_>>(), [1]);
        assert!(c.threshold.is_some());
        assert!(suppressed(4, 5) && !suppressed(5, 5));
    }
}
