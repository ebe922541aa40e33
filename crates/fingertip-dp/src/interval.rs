//! Intervals of discrete Laplace noise, computed exactly, and of discrete Gaussian noise.
//!
//! For discrete Laplace noise `Z` with scale `b` (P[Z = z] ∝ exp(-|z|/b)),
//! P[|Z| ≥ t] = 2·exp(-t/b) / (1 + exp(-1/b)) for integers t ≥ 1.

/// P[|Z| ≥ t] for discrete Laplace noise of scale `scale` (integer units).
pub fn discrete_laplace_tail(scale: f64, t: u64) -> f64 {
    if t == 0 {
        return 1.0;
    }
    if scale <= 0.0 {
        return 0.0;
    }
    (2.0 * (-(t as f64) / scale).exp() / (1.0 + (-1.0 / scale).exp())).min(1.0)
}

/// The half-width `h` (integer units) of the narrowest symmetric interval `[v - h, v + h]`
/// that holds the true value with probability at least 95%.
pub fn ci95_half_width(scale: f64) -> u64 {
    ci_half_width(scale, 0.05)
}

/// Like [`ci95_half_width`] for a miss probability `alpha`.
pub fn ci_half_width(scale: f64, alpha: f64) -> u64 {
    if scale.is_nan() || scale <= 0.0 {
        return 0;
    }
    // Smallest t with P[|Z| ≥ t] ≤ alpha; then h = t - 1. The closed form is within a step
    // or two of it; beyond 2^52 integers are not exact in f64 and the closed form is the
    // answer (rounded up). At most a handful of steps either way: bounded time for any scale.
    let guess = (scale * (2.0 / (alpha * (1.0 + (-1.0 / scale).exp()))).ln())
        .ceil()
        .max(1.0);
    if guess >= (1u64 << 52) as f64 {
        return guess.min(u64::MAX as f64) as u64;
    }
    let mut t = (guess as u64).saturating_sub(2).max(1);
    while discrete_laplace_tail(scale, t) > alpha && t < guess as u64 + 8 {
        t += 1;
    }
    t - 1
}

/// The half-width `h` (integer units) of a symmetric interval `[v - h, v + h]` that holds the
/// true value with probability at least `1 − alpha` under discrete Gaussian noise of scale σ.
///
/// Up to σ = 10⁴ it is exact (OpenDP sums the probabilities). Above, in bounded time: with
/// f(x) = exp(−x²/2σ²), the normaliser Σf ≥ σ√(2π) (Poisson summation) and the tail
/// Σ_{x ≥ t} f(x) ≤ f(t) + ∫_t^∞ f, so P[|Z| ≥ t] ≤ erfc(t/σ√2) + 0.8/σ: the continuous
/// Gaussian's quantile at α − 0.8/σ is a valid `t`.
pub fn gaussian_half_width(scale: f64, alpha: f64) -> u64 {
    use opendp::accuracy::{discrete_gaussian_scale_to_accuracy, gaussian_scale_to_accuracy};
    if scale.is_nan() || scale <= 0.0 {
        return 0;
    }
    if scale <= 1e4
        && let Ok(a) = discrete_gaussian_scale_to_accuracy(scale, alpha)
    {
        return (a as u64).saturating_sub(1);
    }
    let slack = 0.8 / scale;
    let t = if alpha - slack >= alpha / 2.0 {
        gaussian_scale_to_accuracy(scale, alpha - slack).unwrap_or(f64::INFINITY)
    } else {
        // Too small an α for the slack: the discrete Gaussian is σ-sub-Gaussian (Canonne,
        // Kamath & Steinke 2020), P[|Z| ≥ t] ≤ 2·exp(−t²/2σ²).
        scale * (2.0 * (2.0 / alpha).ln()).sqrt()
    };
    t.ceil().min(u64::MAX as f64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_and_intervals() {
        assert_eq!(ci95_half_width(0.0), 0);
        for scale in [0.3, 1.0, 2.0, 10.0, 1000.0] {
            let h = ci95_half_width(scale);
            assert!(discrete_laplace_tail(scale, h + 1) <= 0.05);
            assert!(h == 0 || discrete_laplace_tail(scale, h) > 0.05);
        }
        // Bounded time for any scale, however large.
        assert!(ci95_half_width(1e300) > 1 << 52);
        assert!(ci95_half_width(f64::INFINITY) > 0);
        // The continuous Laplace 95% half-width is b·ln(20) ≈ 3.0b.
        let h = ci95_half_width(1000.0) as f64;
        assert!((h / 1000.0 - 20f64.ln()).abs() < 0.01, "{h}");
        // Agrees with OpenDP's own accuracy bound.
        let a = opendp::accuracy::discrete_laplacian_scale_to_accuracy(10.0f64, 0.05).unwrap();
        assert!(
            (a - (ci95_half_width(10.0) as f64 + 1.0)).abs() <= 1.0,
            "{a}"
        );
    }

    #[test]
    fn gaussian_intervals_hold_their_mass_and_are_continuous_across_the_switch() {
        // Exact below 10⁴: the continuous 95% half-width is 1.96σ.
        for scale in [0.5, 3.0, 100.0, 9_999.0] {
            let h = gaussian_half_width(scale, 0.05) as f64;
            assert!(
                h >= 1.95 * scale - 1.0 && h <= 1.97 * scale + 1.0,
                "{scale}: {h}"
            );
        }
        let (below, above) = (
            gaussian_half_width(1e4, 0.05),
            gaussian_half_width(1.0001e4, 0.05),
        );
        assert!(
            (above as f64 / below as f64 - 1.0).abs() < 1e-3,
            "{below} {above}"
        );
        assert!(gaussian_half_width(1e300, 0.05) > 1 << 52);
        // An α below the slack of the large-σ bound falls back to the sub-Gaussian tail: still
        // at least the continuous quantile (4.89σ at 10⁻⁶), never a narrower interval.
        assert!(gaussian_half_width(1e5, 1e-6) as f64 >= 4.89e5);
        assert_eq!(gaussian_half_width(0.0, 0.05), 0);
    }
}
