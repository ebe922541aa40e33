//! Statistical tests of the released noise: the numbers `fingertip_dp` releases carry exactly
//! the discrete Laplace noise of the scale they claim, the 95% intervals cover 95% of fresh
//! draws, and partition selection keeps and drops groups with the probabilities (and the δ)
//! it claims.
//!
//! Significance: every goodness-of-fit test fails only at p < 1e-5, and every rate or moment
//! is compared with a band of ±5 standard errors (two-sided p ≈ 6e-7). With the few dozen
//! comparisons below, a correct implementation fails this file about once in 10⁴ runs; a
//! scale that is off by 10% fails it every time (see `chi_square_rejects_a_wrong_scale`).

use fingertip_dp::{
    Noise, ci95_half_width, discrete_laplace_tail, laplace, select_partitions, threshold_for,
};
use fingertip_tests::stats::{
    binomial_band, chi_square_fit, discrete_laplace_pmf, discrete_laplace_upper,
    discrete_laplace_variance,
};

const P_MIN: f64 = 1e-5;
const Z: f64 = 5.0;

/// `n` noise draws of `laplace(OpenDp, ..)` with the given sensitivity, as released minus
/// input (the inputs are varied, so the noise must not depend on them).
fn draws(n: usize, l0: u32, linf: i64, epsilon: f64) -> (Vec<i64>, f64) {
    const WIDTH: usize = 4_000;
    let input: Vec<i64> = (0..WIDTH as i64).map(|i| i * 7919 - 1_000_000).collect();
    let mut out = Vec::with_capacity(n);
    let mut scale = 0.0;
    while out.len() < n {
        let r = laplace(Noise::OpenDp, &input, l0, linf, epsilon).unwrap();
        assert_eq!(r.values.len(), WIDTH);
        assert!(
            (r.epsilon - epsilon).abs() <= epsilon * 1e-9,
            "charged ε={} for {epsilon}",
            r.epsilon
        );
        scale = r.scale;
        out.extend(r.values.iter().zip(&input).map(|(v, x)| v - x));
    }
    out.truncate(n);
    (out, scale)
}

struct Moments {
    mean: f64,
    var: f64,
    m4: f64,
}

fn moments(xs: &[i64]) -> Moments {
    let n = xs.len() as f64;
    let mean = xs.iter().map(|x| *x as f64).sum::<f64>() / n;
    let var = xs.iter().map(|x| (*x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let m4 = xs.iter().map(|x| (*x as f64 - mean).powi(4)).sum::<f64>() / n;
    Moments { mean, var, m4 }
}

/// (l0, linf, ε) and the scale l0·linf/ε they must give.
const CASES: [(u32, i64, f64, f64); 4] = [
    (1, 1, 1.0, 1.0),
    (1, 1, 2.0, 0.5),
    (3, 1, 0.4, 7.5),
    (2, 25, 1.0, 50.0),
];

#[test]
fn laplace_noise_has_the_claimed_distribution_and_scale() {
    const N: usize = 40_000;
    for (l0, linf, eps, b) in CASES {
        let (noise, scale) = draws(N, l0, linf, eps);
        assert_eq!(scale, b, "scale of l0={l0} linf={linf} ε={eps}");

        // Goodness of fit against the discrete Laplace pmf of the claimed scale.
        let (stat, df, p) = chi_square_fit(&noise, |z| discrete_laplace_pmf(b, z), 5.0);
        println!("scale {b}: χ²={stat:.1} df={df} p={p:.3}");
        assert!(
            p > P_MIN,
            "scale {b}: noise does not look discrete Laplace(0, {b}): χ²={stat:.1}, df={df}, p={p:.2e}"
        );

        // Mean 0 and variance 2q/(1-q)² (≈ 2b²), each within 5 standard errors.
        let m = moments(&noise);
        let var = discrete_laplace_variance(b);
        let se_mean = (var / N as f64).sqrt();
        let se_var = ((m.m4 - m.var * m.var) / N as f64).sqrt();
        println!(
            "scale {b}: mean {:.4} (±{se_mean:.4}), variance {:.3} vs {var:.3} (2b² = {:.3}, ±{se_var:.3})",
            m.mean,
            m.var,
            2.0 * b * b
        );
        assert!(
            m.mean.abs() < Z * se_mean,
            "scale {b}: mean {} is not 0",
            m.mean
        );
        assert!(
            (m.var - var).abs() < Z * se_var,
            "scale {b}: variance {} instead of {var}",
            m.var
        );
        if b >= 7.0 {
            assert!(
                (var / (2.0 * b * b) - 1.0).abs() < 0.01,
                "the discrete variance is ≈ 2b² for large b"
            );
        }

        // No dependence between neighbouring groups of one release.
        let r = lag1_correlation(&noise);
        assert!(
            r.abs() < Z / (N as f64).sqrt(),
            "scale {b}: lag-1 correlation {r}"
        );
    }
}

fn lag1_correlation(xs: &[i64]) -> f64 {
    let m = moments(xs);
    let cov = xs
        .windows(2)
        .map(|w| (w[0] as f64 - m.mean) * (w[1] as f64 - m.mean))
        .sum::<f64>()
        / (xs.len() - 1) as f64;
    cov / m.var
}

#[test]
fn chi_square_rejects_a_wrong_scale() {
    // The same test must clearly see a scale 10% smaller than claimed (the power of the test
    // above): at 40 000 draws of scale 7.5 the p-value against 8.25 is astronomically small.
    let (noise, _) = draws(40_000, 3, 1, 0.4);
    let (stat, df, p) = chi_square_fit(&noise, |z| discrete_laplace_pmf(7.5 * 1.1, z), 5.0);
    println!("against a 10% larger scale: χ²={stat:.1} df={df} p={p:.2e}");
    assert!(
        p < P_MIN,
        "the χ² test cannot tell scale 7.5 from 8.25 (p={p})"
    );
}

#[test]
fn ci95_intervals_cover_95_percent_of_fresh_draws() {
    const N: usize = 20_000;
    // (l0, linf, ε) → scales 0.5, 1, 3, 7.5, 50, 1234.5
    let cases: [(u32, i64, f64); 6] = [
        (1, 1, 2.0),
        (1, 1, 1.0),
        (3, 1, 1.0),
        (3, 1, 0.4),
        (2, 25, 1.0),
        (1, 2469, 2.0),
    ];
    for (l0, linf, eps) in cases {
        let (noise, b) = draws(N, l0, linf, eps);
        let h = ci95_half_width(b) as i64;
        // The exact coverage of [v - h, v + h], from the pmf (independently of the crate's
        // tail formula), is at least 95%, and h is the smallest such half-width.
        let miss = |t: i64| 2.0 * discrete_laplace_upper(b, t);
        let coverage = 1.0 - miss(h + 1);
        assert!(coverage >= 0.95, "scale {b}: h={h} covers only {coverage}");
        assert!(
            h == 0 || 1.0 - miss(h) < 0.95,
            "scale {b}: h={h} is not the narrowest 95% half-width"
        );
        assert!((discrete_laplace_tail(b, (h + 1) as u64) - miss(h + 1)).abs() < 1e-12);
        let covered = noise.iter().filter(|z| z.abs() <= h).count();
        let rate = covered as f64 / N as f64;
        let (lo, hi) = binomial_band(coverage, N, Z);
        println!(
            "scale {b}: h={h}, exact coverage {coverage:.4}, observed {rate:.4} (band {lo:.4}..{hi:.4})"
        );
        assert!(
            rate >= lo && rate <= hi,
            "scale {b}: the 95% interval covered {rate} of {N} draws, expected {coverage:.4}"
        );
    }
}

#[test]
fn partition_selection_keeps_and_drops_with_the_claimed_probabilities() {
    // Every group is noised independently, so one release of many copies of a count is as
    // good as many releases of one.
    const COPIES: usize = 4_000;
    for (l0, eps, delta) in [(1u32, 1.0, 1e-2), (3, 1.0, 1e-3)] {
        let (t, b, ..) = threshold_for(l0, eps, delta).unwrap();
        // Group sizes around the threshold, an empty one and a large one.
        let counts = [0, 1, t - 2, t - 1, t, t + 3, 2 * t + 20 * b as i64, 10_000];
        let input: Vec<i64> = counts
            .iter()
            .flat_map(|c| std::iter::repeat_n(*c, COPIES))
            .collect();
        let s = select_partitions(Noise::OpenDp, &input, l0, eps, delta).unwrap();
        assert_eq!((s.threshold, s.scale), (t, b));
        let mut kept = vec![0usize; counts.len()];
        let mut big_noise = Vec::with_capacity(COPIES);
        let mut last = None;
        for (g, noisy) in &s.kept {
            assert!(last < Some(*g), "kept groups are in index order, once");
            last = Some(*g);
            assert!(
                *noisy >= t,
                "a kept group's noisy count {noisy} is below the threshold {t}"
            );
            kept[g / COPIES] += 1;
            if g / COPIES == counts.len() - 1 {
                big_noise.push(noisy - 10_000);
            }
        }
        for (i, c) in counts.iter().enumerate() {
            // Kept iff c + Z ≥ t.
            let p = discrete_laplace_upper(b, t - c);
            let rate = kept[i] as f64 / COPIES as f64;
            let (lo, hi) = binomial_band(p, COPIES, Z);
            println!(
                "l0={l0} ε={eps} δ={delta}: threshold {t}, scale {b}; count {c}: kept {rate:.4}, expected {p:.4}"
            );
            assert!(
                rate >= lo - 1e-12 && rate <= hi + 1e-12,
                "count {c}: kept {rate} of the time, expected {p}"
            );
        }
        // The noisy count of a group far above the threshold is unbiased with the claimed scale.
        assert_eq!(big_noise.len(), COPIES);
        let (stat, df, p) = chi_square_fit(&big_noise, |z| discrete_laplace_pmf(b, z), 5.0);
        assert!(
            p > P_MIN,
            "noisy counts of kept groups: χ²={stat:.1}, df={df}, p={p:.2e}"
        );
    }
}

#[test]
fn partition_selection_delta_is_the_release_probability_of_a_lone_person() {
    for l0 in [1u32, 2, 4, 8] {
        for eps in [0.1, 0.5, 1.0, 2.0] {
            let mut previous: Option<(i64, f64)> = None;
            for k in 2..=12 {
                let delta = 10f64.powi(-k);
                let (t, b, e, d) = threshold_for(l0, eps, delta).unwrap();
                assert_eq!(b, f64::from(l0) / eps);
                assert!(e <= eps * (1.0 + 1e-9), "ε {e} > {eps}");
                assert!(d <= delta, "δ {d} > {delta}");
                // A person alone in l0 groups (count 1 each) is seen when any of them reaches
                // the threshold: the probability the threshold must keep below δ.
                let risk = |t: i64| {
                    -(f64::from(l0) * (-discrete_laplace_upper(b, t - 1)).ln_1p()).exp_m1()
                };
                // (OpenDP rounds 1 - (1 - δ₁)^l0 outwards in f64: allow a few ulps of 1.)
                assert!(
                    risk(t) <= d * (1.0 + 1e-9),
                    "l0={l0} ε={eps} δ={delta}: real δ {} > claimed δ {d}",
                    risk(t)
                );
                assert!(
                    d - risk(t) <= risk(t) * 1e-9 + 1e-15,
                    "l0={l0} ε={eps} δ={delta}: claimed δ {d}, real {}",
                    risk(t)
                );
                // … and it is the smallest such threshold.
                assert!(
                    risk(t - 1) > delta,
                    "l0={l0} ε={eps} δ={delta}: threshold {t} is not the smallest"
                );
                // Monotone: a smaller δ never lowers the threshold, and δ falls as t grows.
                if let Some((pt, pd)) = previous {
                    assert!(
                        t >= pt,
                        "l0={l0} ε={eps}: δ {delta} gave t={t} after t={pt}"
                    );
                    assert!(
                        if t == pt { d == pd } else { d < pd },
                        "l0={l0} ε={eps}: δ {d} at t={t} after δ {pd} at t={pt}"
                    );
                }
                previous = Some((t, d));
            }
            let (t1, ..) = threshold_for(l0, eps, 1e-6).unwrap();
            let (t2, ..) = threshold_for(l0 * 2, eps, 1e-6).unwrap();
            let (t3, ..) = threshold_for(l0, eps * 2.0, 1e-6).unwrap();
            assert!(t2 > t1 && t3 < t1, "l0={l0} ε={eps}: {t1} {t2} {t3}");
        }
    }
    // And empirically, with δ large enough to measure: N persons, each alone in l0 groups of
    // one release; the share of persons with at least one group released is the claimed δ.
    const PERSONS: usize = 20_000;
    for (l0, eps, delta) in [(1u32, 1.0, 0.01), (2, 1.0, 0.05)] {
        let (t, _, _, d) = threshold_for(l0, eps, delta).unwrap();
        let s = select_partitions(
            Noise::OpenDp,
            &vec![1; PERSONS * l0 as usize],
            l0,
            eps,
            delta,
        )
        .unwrap();
        let mut seen: Vec<usize> = s.kept.iter().map(|(g, _)| g / l0 as usize).collect();
        seen.dedup();
        let rate = seen.len() as f64 / PERSONS as f64;
        let (lo, hi) = binomial_band(d, PERSONS, Z);
        println!(
            "a lone person in {l0} group(s), threshold {t}: seen in {rate:.4} of cases, claimed δ {d:.4} (band {lo:.4}..{hi:.4})"
        );
        assert!(
            rate >= lo && rate <= hi,
            "a lone person was seen in {rate} of cases; δ claims {d}"
        );
    }
}
