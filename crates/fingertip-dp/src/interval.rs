//! 95% intervals of discrete Laplace noise, computed exactly.
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
}
