//! Small statistics for the tests of released noise: the discrete Laplace distribution,
//! a chi-square goodness-of-fit p-value, binomial tolerances and a seeded generator for
//! test schedules (never for noise: all noise comes from OpenDP).

/// P[Z = z] for discrete Laplace noise of scale `b` (P[Z = z] ∝ exp(-|z|/b)).
pub fn discrete_laplace_pmf(b: f64, z: i64) -> f64 {
    let q = (-1.0 / b).exp();
    (1.0 - q) / (1.0 + q) * q.powf(z.unsigned_abs() as f64)
}

/// P[Z ≥ k] for discrete Laplace noise of scale `b`, any integer `k`.
pub fn discrete_laplace_upper(b: f64, k: i64) -> f64 {
    let q = (-1.0 / b).exp();
    if k >= 1 {
        q.powf(k as f64) / (1.0 + q)
    } else {
        1.0 - q.powf((1 - k) as f64) / (1.0 + q)
    }
}

/// The variance of discrete Laplace noise of scale `b`: 2q/(1-q)² with q = exp(-1/b)
/// (≈ 2b² for large b).
pub fn discrete_laplace_variance(b: f64) -> f64 {
    let q = (-1.0 / b).exp();
    2.0 * q / ((1.0 - q) * (1.0 - q))
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error below 1e-13).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    assert!(a > 0.0 && x >= 0.0, "gamma_q({a}, {x})");
    if x == 0.0 {
        return 1.0;
    }
    let log_prefix = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        // Series for P(a, x).
        let (mut sum, mut term, mut n) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        1.0 - sum * log_prefix.exp()
    } else {
        // Continued fraction for Q(a, x) (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        log_prefix.exp() * h
    }
}

/// P[χ²(df) ≥ stat].
pub fn chi_square_sf(stat: f64, df: usize) -> f64 {
    gamma_q(df as f64 / 2.0, stat / 2.0)
}

/// A chi-square goodness-of-fit test of integer samples against a pmf on ℤ: every integer with
/// an expected count of at least `min_expected` is its own bin; the two tails beyond them are
/// one bin each. Returns (statistic, degrees of freedom, p-value).
pub fn chi_square_fit(
    samples: &[i64],
    pmf: impl Fn(i64) -> f64,
    min_expected: f64,
) -> (f64, usize, f64) {
    let n = samples.len() as f64;
    // The central bins: the contiguous range around the mode with enough expected mass.
    let mut lo = 0i64;
    while pmf(lo - 1) * n >= min_expected {
        lo -= 1;
    }
    let mut hi = 0i64;
    while pmf(hi + 1) * n >= min_expected {
        hi += 1;
    }
    let central: f64 = (lo..=hi).map(&pmf).sum();
    let mass_below: f64 = {
        // P[Z < lo] by symmetry-free summation of the tail until negligible.
        let mut s = 0.0;
        let mut z = lo - 1;
        loop {
            let p = pmf(z);
            s += p;
            if p < 1e-18 {
                break;
            }
            z -= 1;
        }
        s
    };
    let mass_above = (1.0 - central - mass_below).max(0.0);
    let mut observed = vec![0u64; (hi - lo + 3) as usize];
    for &s in samples {
        let bin = if s < lo {
            0
        } else if s > hi {
            observed.len() - 1
        } else {
            (s - lo + 1) as usize
        };
        observed[bin] += 1;
    }
    let mut expected = vec![mass_below * n];
    expected.extend((lo..=hi).map(|z| pmf(z) * n));
    expected.push(mass_above * n);
    let mut stat = 0.0;
    let mut bins = 0;
    for (o, e) in observed.iter().zip(&expected) {
        if *e > 0.0 {
            stat += (*o as f64 - e).powi(2) / e;
            bins += 1;
        } else {
            assert_eq!(*o, 0, "a sample fell where the pmf has no mass");
        }
    }
    let df = bins - 1;
    (stat, df, chi_square_sf(stat, df))
}

/// The interval `p ± z·sqrt(p(1-p)/n)` an observed rate of `n` Bernoulli(p) trials falls in
/// except with a probability of about 2·Φ(-z).
pub fn binomial_band(p: f64, n: usize, z: f64) -> (f64, f64) {
    let sd = (p * (1.0 - p) / n as f64).sqrt();
    (p - z * sd, p + z * sd)
}

/// P[X ≥ k] for X ~ Binomial(n, p), summed in log space.
pub fn binomial_upper(k: usize, n: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let ln_choose = |j: usize| {
        ln_gamma(n as f64 + 1.0) - ln_gamma(j as f64 + 1.0) - ln_gamma((n - j) as f64 + 1.0)
    };
    (k..=n)
        .map(|j| (ln_choose(j) + j as f64 * p.ln() + (n - j) as f64 * (1.0 - p).ln()).exp())
        .sum::<f64>()
        .min(1.0)
}

/// One-sided Clopper–Pearson bounds of a rate from `k` successes in `n` trials: the true
/// rate is at least `lo` except with probability `alpha`, and at most `hi` except with
/// probability `alpha`.
pub fn clopper_pearson(k: usize, n: usize, alpha: f64) -> (f64, f64) {
    // lo: P[X ≥ k | lo] = alpha (increasing in p); hi: P[X ≤ k | hi] = alpha (decreasing).
    let solve = |right: &dyn Fn(f64) -> bool| {
        let (mut a, mut b) = (0.0f64, 1.0f64);
        for _ in 0..60 {
            let m = (a + b) / 2.0;
            if right(m) { a = m } else { b = m }
        }
        (a + b) / 2.0
    };
    let lo = if k == 0 {
        0.0
    } else {
        solve(&|p| binomial_upper(k, n, p) < alpha)
    };
    let hi = if k == n {
        1.0
    } else {
        solve(&|p| 1.0 - binomial_upper(k + 1, n, p) > alpha)
    };
    (lo, hi)
}

/// SplitMix64: a seeded generator for test schedules (e.g. when to kill a process).
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// Seeded from the clock (print the seed to reproduce a run).
    pub fn from_time() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Self(nanos ^ u64::from(std::process::id()).rotate_left(32))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clopper_pearson_brackets_the_rate() {
        let (lo, hi) = clopper_pearson(30, 100, 0.05);
        assert!((binomial_upper(30, 100, lo) - 0.05).abs() < 1e-6, "{lo}");
        assert!(
            (1.0 - binomial_upper(31, 100, hi) - 0.05).abs() < 1e-6,
            "{hi}"
        );
        assert!(0.2 < lo && lo < 0.3 && 0.3 < hi && hi < 0.4, "{lo} {hi}");
        assert_eq!(clopper_pearson(0, 10, 0.05).0, 0.0);
        assert_eq!(clopper_pearson(10, 10, 0.05).1, 1.0);
    }

    #[test]
    fn chi_square_quantiles() {
        // Textbook 5% critical values.
        for (x, df) in [
            (3.841_459, 1),
            (5.991_465, 2),
            (18.307_04, 10),
            (67.504_81, 50),
        ] {
            let p = chi_square_sf(x, df);
            assert!((p - 0.05).abs() < 1e-5, "df={df}: {p}");
        }
        assert!((chi_square_sf(2.0, 2) - (-1.0f64).exp()).abs() < 1e-12);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn discrete_laplace_sums_to_one() {
        for b in [0.3, 1.0, 7.5] {
            let total: f64 = (-2000..=2000).map(|z| discrete_laplace_pmf(b, z)).sum();
            assert!((total - 1.0).abs() < 1e-12);
            let var: f64 = (-2000..=2000)
                .map(|z| (z * z) as f64 * discrete_laplace_pmf(b, z))
                .sum();
            assert!((var / discrete_laplace_variance(b) - 1.0).abs() < 1e-9);
            let up: f64 = (3..=2000).map(|z| discrete_laplace_pmf(b, z)).sum();
            assert!((up - discrete_laplace_upper(b, 3)).abs() < 1e-12);
            let up0: f64 = (-1..=2000).map(|z| discrete_laplace_pmf(b, z)).sum();
            assert!((up0 - discrete_laplace_upper(b, -1)).abs() < 1e-12);
        }
    }
}
