//! The mechanisms: every released number of Fingertip comes out of one of these functions,
//! and every one of them is an OpenDP measurement whose privacy map is checked against the ε
//! (and δ) it is given.

use std::collections::HashMap;

use opendp::domains::{AtomDomain, MapDomain, VectorDomain};
use opendp::measurements::{
    make_gaussian, make_laplace, make_laplace_threshold, make_noisy_max, make_private_quantile,
};
use opendp::measures::{Approximate, MaxDivergence, ZeroConcentratedDivergence};
use opendp::metrics::{
    AbsoluteDistance, L1Distance, L01InfDistance, L2Distance, LInfDistance, SymmetricDistance,
};

/// How releases are noised. `OpenDp` is the only strategy a shipped binary can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// Discrete noise sampled by OpenDP with OpenSSL's secure RNG.
    OpenDp,
    /// Exact values, every non-empty group kept: for golden tests only.
    #[cfg(feature = "test-util")]
    NoNoise,
    /// OpenDP noise at half the scale the privacy map needs, charged as if it were right:
    /// a deliberately broken mechanism that the empirical privacy audit must catch.
    #[cfg(feature = "test-util")]
    HalfScale,
}

impl Noise {
    /// True for the test-only exact strategy.
    fn is_exact(self) -> bool {
        #[cfg(feature = "test-util")]
        if self == Noise::NoNoise {
            return true;
        }
        let _ = self;
        false
    }

    /// The scale noise is sampled at, for a mechanism whose privacy map needs `scale`.
    fn sampled(self, scale: f64) -> f64 {
        #[cfg(feature = "test-util")]
        if self == Noise::HalfScale {
            return scale / 2.0;
        }
        let _ = self;
        scale
    }
}

/// A mechanism could not be built or run.
#[derive(Debug, thiserror::Error)]
pub enum DpError {
    #[error("invalid privacy parameters: {0}")]
    InvalidParameters(String),
    #[error("OpenDP: {0}")]
    OpenDp(String),
}

fn opendp_err(e: opendp::error::Error) -> DpError {
    DpError::OpenDp(e.to_string())
}

/// The smallest ε any mechanism runs at. Below it, noise scales are so large that the
/// release says nothing, and its arithmetic would leave the range where it is exact.
/// Queries and pipelines have their own, larger, configured minimum per release.
pub const MIN_EPSILON: f64 = 1e-6;

/// The largest ε any mechanism runs at.
pub const MAX_EPSILON: f64 = 1e3;

fn check_epsilon(epsilon: f64) -> Result<(), DpError> {
    if (MIN_EPSILON..=MAX_EPSILON).contains(&epsilon) {
        Ok(())
    } else {
        Err(DpError::InvalidParameters(format!(
            "ε must be a number in [{MIN_EPSILON}, {MAX_EPSILON}], not {epsilon}"
        )))
    }
}

/// Noisy values and the noise scale used (integer units).
#[derive(Debug, Clone, PartialEq)]
pub struct Released {
    pub values: Vec<i64>,
    pub scale: f64,
    /// The ε the OpenDP privacy map charges for this release (0 for a zCDP release).
    pub epsilon: f64,
    /// The ρ the OpenDP privacy map charges for this release (0 for an ε-DP release).
    pub rho: f64,
}

/// Adds discrete Laplace noise to one value per group. A person changes at most `l0` groups,
/// each by at most `linf`, so the L1 sensitivity is `l0 · linf` and the scale is that over ε.
pub fn laplace(
    noise: Noise,
    values: &[i64],
    l0: u32,
    linf: i64,
    epsilon: f64,
) -> Result<Released, DpError> {
    check_epsilon(epsilon)?;
    let l1 = i64::from(l0.max(1)) * linf.max(0);
    let scale = l1 as f64 / epsilon;
    if noise.is_exact() {
        return Ok(Released {
            values: values.to_vec(),
            scale,
            epsilon,
            rho: 0.0,
        });
    }
    let build = |scale: f64| {
        make_laplace::<_, _, MaxDivergence>(
            VectorDomain::new(AtomDomain::<i64>::default()),
            L1Distance::<i64>::default(),
            scale,
            None,
        )
        .map_err(opendp_err)
    };
    let (values, charged) = checked_invoke(noise, values, scale, &l1, ("ε", epsilon), build)?;
    Ok(Released {
        values,
        scale,
        epsilon: charged,
        rho: 0.0,
    })
}

/// A vector noise measurement, as `laplace` and `gaussian` build it at a scale.
type VectorNoise<MI, MO> =
    opendp::core::Measurement<VectorDomain<AtomDomain<i64>>, MI, MO, Vec<i64>>;

/// Builds the noise measurement at `scale`, checks that its privacy map charges at most the
/// `budget` (named for the message) for `d_in`, and draws the noise — at the scale the
/// strategy samples at, which differs only for the audit's deliberately broken one. Returns
/// the noisy values and what the map charged.
fn checked_invoke<MI, MO>(
    noise: Noise,
    values: &[i64],
    scale: f64,
    d_in: &MI::Distance,
    (measure, budget): (&str, f64),
    build: impl Fn(f64) -> Result<VectorNoise<MI, MO>, DpError>,
) -> Result<(Vec<i64>, f64), DpError>
where
    MI: opendp::core::Metric,
    MO: opendp::core::Measure<Distance = f64>,
    (VectorDomain<AtomDomain<i64>>, MI): opendp::core::MetricSpace,
{
    let m = build(scale)?;
    let charged = m.map(d_in).map_err(opendp_err)?;
    if charged > budget * (1.0 + 1e-9) {
        return Err(DpError::OpenDp(format!(
            "privacy map charged {measure}={charged} for a budget of {budget}"
        )));
    }
    let m = if noise.sampled(scale) == scale {
        m
    } else {
        build(noise.sampled(scale))?
    };
    Ok((m.invoke(&values.to_vec()).map_err(opendp_err)?, charged))
}

/// The smallest ρ any mechanism runs at (ε²/2 of [`MIN_EPSILON`]).
pub const MIN_RHO: f64 = MIN_EPSILON * MIN_EPSILON / 2.0;

/// Adds discrete Gaussian noise to one value per group, where one person moves the vector of
/// values by at most `l2` in L2 norm: scale `l2 / √(2ρ)` makes the release ρ-zCDP.
pub fn gaussian(noise: Noise, values: &[i64], l2: f64, rho: f64) -> Result<Released, DpError> {
    if !((MIN_RHO..=MAX_EPSILON).contains(&rho) && l2.is_finite() && l2 >= 0.0) {
        return Err(DpError::InvalidParameters(format!(
            "ρ must be a number in [{MIN_RHO}, {MAX_EPSILON}] and the L2 bound finite, not ρ={rho}, L2={l2}"
        )));
    }
    // A hair above l2/√(2ρ), so OpenDP's rounding of the map cannot exceed ρ.
    let scale = l2 / (2.0 * rho).sqrt() * (1.0 + 1e-12);
    if noise.is_exact() {
        return Ok(Released {
            values: values.to_vec(),
            scale,
            epsilon: 0.0,
            rho,
        });
    }
    let build = |scale: f64| {
        make_gaussian::<_, _, ZeroConcentratedDivergence>(
            VectorDomain::new(AtomDomain::<i64>::default()),
            L2Distance::<f64>::default(),
            scale,
            None,
        )
        .map_err(opendp_err)
    };
    let (values, charged) = checked_invoke(noise, values, scale, &l2, ("ρ", rho), build)?;
    Ok(Released {
        values,
        scale,
        epsilon: 0.0,
        rho: charged,
    })
}

/// The groups that passed partition selection, with their noisy person counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// `(group index, noisy count)` of the kept groups, in index order.
    pub kept: Vec<(usize, i64)>,
    pub scale: f64,
    pub threshold: i64,
    pub epsilon: f64,
    pub delta: f64,
}

/// Noisy person counts per group index, released above a threshold.
type ThresholdMeasurement = opendp::core::Measurement<
    MapDomain<AtomDomain<u64>, AtomDomain<i64>>,
    L01InfDistance<AbsoluteDistance<i64>>,
    Approximate<MaxDivergence>,
    HashMap<u64, i64>,
>;

fn threshold_measurement(scale: f64, threshold: i64) -> Result<ThresholdMeasurement, DpError> {
    let domain = MapDomain::new(AtomDomain::<u64>::default(), AtomDomain::<i64>::default());
    make_laplace_threshold(domain, L01InfDistance::default(), scale, threshold, None)
        .map_err(opendp_err)
}

// Partition selection keeps a group when its noisy count is at least `threshold`. It runs
// OpenDP's `make_laplace_threshold` at `threshold - 1`, keeps only the counts above that, and
// is charged what OpenDP's privacy map says for `threshold - 1`.
//
// Why not OpenDP at `threshold` directly: OpenDP 0.16's function keeps noisy counts *equal to*
// its threshold T, but its privacy map (Rogers 2023, Thm 7, as written in
// NoiseThresholdPrivacyMap_for_ZExpFamily1.tex) takes "not released" to be `c + Z ≤ T` and
// charges δ = P[Z > T - Δ∞] per group, while a lone person's group (c = Δ∞ = 1) is released
// when `1 + Z ≥ T`, i.e. with probability P[Z ≥ T - 1] = e^{1/b} · P[Z > T - 1]: the real δ was
// 1.6× the charged one at scale 2 and 2.7× at scale 1 (tests/tests/dp/noise.rs measures it).
// Keeping only counts strictly above OpenDP's threshold is exactly the mechanism its proof is
// about, so the δ it reports is the real one again.

/// The OpenDP threshold (a count must exceed it) of a partition-selection threshold (a count
/// must reach it).
fn opendp_threshold(threshold: i64) -> i64 {
    threshold - 1
}

/// The smallest threshold at which releasing noisy person counts (one person in at most `l0`
/// groups, at most 1 per group) costs no more than `delta`, and the (ε, δ) it costs.
pub fn threshold_for(l0: u32, epsilon: f64, delta: f64) -> Result<(i64, f64, f64, f64), DpError> {
    check_epsilon(epsilon)?;
    if !(delta > 0.0 && delta < 1.0) {
        return Err(DpError::InvalidParameters(format!(
            "δ must be in (0, 1), not {delta}"
        )));
    }
    let l0 = l0.max(1);
    let d_in = (l0, i64::from(l0), 1i64);
    let scale = f64::from(l0) / epsilon;
    let cost = |t: i64| {
        threshold_measurement(scale, opendp_threshold(t))
            .and_then(|m| m.map(&d_in).map_err(opendp_err))
    };
    // OpenDP needs its threshold to be at least the per-group sensitivity (1).
    let (mut lo, mut hi) = (2i64, 4i64);
    while cost(hi)?.1 > delta {
        lo = hi;
        hi = hi
            .checked_mul(2)
            .ok_or_else(|| DpError::InvalidParameters("δ is too small".into()))?;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if cost(mid)?.1 <= delta {
            hi = mid
        } else {
            lo = mid + 1
        }
    }
    let (eps, del) = cost(hi)?;
    Ok((hi, scale, eps, del))
}

/// DP partition selection: noisy person counts, keeping the groups whose noisy count reaches
/// the threshold that makes the release (ε, δ)-DP.
pub fn select_partitions(
    noise: Noise,
    person_counts: &[i64],
    l0: u32,
    epsilon: f64,
    delta: f64,
) -> Result<Selected, DpError> {
    let (threshold, scale, eps, del) = threshold_for(l0, epsilon, delta)?;
    if noise.is_exact() {
        let kept = person_counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i, *c))
            .collect();
        return Ok(Selected {
            kept,
            scale,
            threshold: 1,
            epsilon: eps,
            delta: del,
        });
    }
    let m = threshold_measurement(noise.sampled(scale), opendp_threshold(threshold))?;
    let input: HashMap<u64, i64> = person_counts
        .iter()
        .enumerate()
        .map(|(i, c)| (i as u64, *c))
        .collect();
    let mut kept: Vec<(usize, i64)> = m
        .invoke(&input)
        .map_err(opendp_err)?
        .into_iter()
        .filter(|(_, v)| *v >= threshold)
        .map(|(k, v)| (k as usize, v))
        .collect();
    kept.sort_unstable();
    Ok(Selected {
        kept,
        scale,
        threshold,
        epsilon: eps,
        delta: del,
    })
}

/// A private quantile (exponential mechanism over `candidates`, OpenDP's
/// `make_private_quantile`) of `values`, where one person contributes at most `d_in` values.
/// Returns the chosen candidate and the scale of the score noise.
pub fn quantile(
    noise: Noise,
    values: Vec<i64>,
    candidates: Vec<i64>,
    alpha: f64,
    d_in: u32,
    epsilon: f64,
) -> Result<(i64, f64), DpError> {
    check_epsilon(epsilon)?;
    if candidates.is_empty() || !(0.0..=1.0).contains(&alpha) {
        return Err(DpError::InvalidParameters(
            "a quantile needs candidates and α in [0, 1]".into(),
        ));
    }
    let build = |scale: f64| {
        make_private_quantile(
            VectorDomain::new(AtomDomain::<i64>::default()),
            SymmetricDistance,
            MaxDivergence,
            candidates.clone(),
            alpha,
            scale,
        )
        .map_err(opendp_err)
    };
    // The privacy map is proportional to 1/scale: measure it at scale 1 and rescale.
    let d_in = d_in.max(1);
    let eps_at_1 = build(1.0)?.map(&d_in).map_err(opendp_err)?;
    let scale = eps_at_1 / epsilon * (1.0 + 1e-9);
    if noise.is_exact() {
        let mut sorted = values;
        sorted.sort_unstable();
        let target = sorted
            .get(((sorted.len() as f64 - 1.0) * alpha).round().max(0.0) as usize)
            .copied()
            .unwrap_or(0);
        let nearest = candidates
            .iter()
            .min_by_key(|c| (**c - target).unsigned_abs())
            .copied()
            .unwrap_or(0);
        return Ok((nearest, scale));
    }
    let charged = build(scale)?.map(&d_in).map_err(opendp_err)?;
    if charged > epsilon * (1.0 + 1e-6) {
        return Err(DpError::OpenDp(format!(
            "quantile privacy map charged ε={charged} for a budget of {epsilon}"
        )));
    }
    let m = build(noise.sampled(scale))?;
    Ok((m.invoke(&values).map_err(opendp_err)?, scale))
}

/// A private upper bound: the smallest of the (ascending) `candidates` beyond which few of
/// `values` lie, one value per person. Report-noisy-max (OpenDP `make_noisy_max`) over the
/// scores `−#{x > cᵢ} − i·step_cost`: each step up the grid must leave out at least
/// `step_cost` fewer values to be worth taking. The scores move together by at most 1 when a
/// person is added or removed (monotone L∞ sensitivity 1), so the choice is ε-DP. Unlike a
/// quantile, candidates above every value do not tie: the cost makes the first one win.
pub fn upper_bound(
    noise: Noise,
    values: &[i64],
    candidates: &[i64],
    step_cost: i64,
    epsilon: f64,
) -> Result<i64, DpError> {
    check_epsilon(epsilon)?;
    if candidates.is_empty() {
        return Err(DpError::InvalidParameters(
            "an upper bound needs candidates".into(),
        ));
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let scores: Vec<i64> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            -((sorted.len() - sorted.partition_point(|x| x <= c)) as i64)
                - i as i64 * step_cost.max(0)
        })
        .collect();
    let build = |scale: f64| {
        make_noisy_max(
            VectorDomain::new(AtomDomain::<i64>::default()),
            LInfDistance::<i64>::new(true),
            MaxDivergence,
            scale,
            false,
        )
        .map_err(opendp_err)
    };
    let eps_at_1 = build(1.0)?.map(&1).map_err(opendp_err)?;
    let scale = eps_at_1 / epsilon * (1.0 + 1e-9);
    let index = if noise.is_exact() {
        scores
            .iter()
            .enumerate()
            .max_by_key(|(i, s)| (**s, std::cmp::Reverse(*i)))
            .map_or(0, |(i, _)| i)
    } else {
        build(noise.sampled(scale))?
            .invoke(&scores)
            .map_err(opendp_err)?
    };
    Ok(candidates[index.min(candidates.len() - 1)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laplace_charges_what_it_is_given() {
        let r = laplace(Noise::OpenDp, &[100; 5], 2, 3, 0.5).unwrap();
        assert_eq!(r.scale, 12.0);
        assert!((r.epsilon - 0.5).abs() < 1e-9);
        assert!(laplace(Noise::OpenDp, &[1], 1, 1, 0.0).is_err());
        assert!(laplace(Noise::OpenDp, &[1], 1, 1, f64::NAN).is_err());
    }

    #[test]
    fn gaussian_charges_rho_for_its_l2_bound() {
        let r = gaussian(Noise::OpenDp, &[100; 5], 2.0, 0.5).unwrap();
        assert!((r.scale - 2.0).abs() < 1e-9, "{}", r.scale);
        assert!(r.rho <= 0.5 * (1.0 + 1e-9) && r.rho > 0.499, "{}", r.rho);
        assert_eq!(r.epsilon, 0.0);
        assert!(gaussian(Noise::OpenDp, &[1], 1.0, 0.0).is_err());
        assert!(gaussian(Noise::OpenDp, &[1], f64::NAN, 0.1).is_err());
        // The noise has the variance of its scale (σ² = 400 here, 20,000 draws).
        let r = gaussian(Noise::OpenDp, &vec![0; 20_000], 20.0, 0.5).unwrap();
        let var = r.values.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / 20_000.0;
        assert!((360.0..440.0).contains(&var), "{var}");
    }

    #[test]
    fn thresholds_grow_with_groups_and_shrink_with_delta() {
        let (t1, _, eps, del) = threshold_for(1, 1.0, 1e-6).unwrap();
        assert!(del <= 1e-6 && eps <= 1.0 + 1e-9);
        let (t4, ..) = threshold_for(4, 1.0, 1e-6).unwrap();
        let (t1_loose, ..) = threshold_for(1, 1.0, 1e-3).unwrap();
        assert!(t4 > t1 && t1_loose < t1, "{t1} {t4} {t1_loose}");
        assert!((10..40).contains(&t1), "{t1}");
    }

    #[test]
    fn selection_keeps_big_groups_and_drops_empty_ones() {
        let s = select_partitions(Noise::OpenDp, &[5000, 0, 3000], 1, 1.0, 1e-6).unwrap();
        let kept: Vec<usize> = s.kept.iter().map(|k| k.0).collect();
        assert_eq!(kept, vec![0, 2]);
    }

    #[test]
    fn upper_bound_takes_the_first_candidate_above_the_data() {
        let values: Vec<i64> = (0..5000).map(|i| 1 + i % 6).collect();
        let candidates: Vec<i64> =
            vec![1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64, 96, 128];
        let chosen = upper_bound(Noise::OpenDp, &values, &candidates, 25, 1.0).unwrap();
        assert_eq!(chosen, 6);
    }

    #[test]
    fn quantile_of_a_clear_distribution() {
        let values: Vec<i64> = (0..2000).map(|i| i % 100).collect();
        let candidates: Vec<i64> = (0..=100).step_by(5).collect();
        let (median, _) = quantile(Noise::OpenDp, values, candidates, 0.5, 1, 1.0).unwrap();
        assert!((40..=60).contains(&median), "{median}");
    }
}
