//! Noise: from the release stage's exact per-group sums to noisy numbers with their scales
//! and 95% intervals. Every number goes through `fingertip_dp` (OpenDP); nothing else here
//! touches the exact values.

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::ScalarValue;
use fingertip_dp::{
    Bound, Budget, DpError, Groups, Noise, Sums, ci95_half_width, fixed_point_unit, quantile,
    release_counts, release_sums, suppressed,
};

use crate::stages::{PERSONS, Quantity, group_col, quantity_col};

/// The exact release-stage output, column by column.
#[derive(Debug, Default)]
pub struct Exact {
    pub keys: Vec<Vec<ScalarValue>>,
    pub persons: Vec<i64>,
    pub totals: Vec<Vec<f64>>,
    pub lists: Vec<Vec<Vec<f64>>>,
}

/// Reads release-stage batches (`__g*`, `__persons`, `__q*`).
pub fn read_exact(
    batches: &[RecordBatch],
    groups: usize,
    quantities: &[Quantity],
) -> Result<Exact, datafusion::error::DataFusionError> {
    let mut out = Exact {
        totals: vec![Vec::new(); quantities.len()],
        lists: vec![Vec::new(); quantities.len()],
        ..Default::default()
    };
    for b in batches {
        let column = |name: &str| {
            b.column_by_name(name).cloned().ok_or_else(|| {
                datafusion::error::DataFusionError::Internal(format!("missing {name}"))
            })
        };
        let persons = column(PERSONS)?;
        for row in 0..b.num_rows() {
            let keys = (0..groups)
                .map(|g| ScalarValue::try_from_array(&column(&group_col(g))?, row))
                .collect::<Result<_, _>>()?;
            out.keys.push(keys);
            out.persons
                .push(persons.as_primitive::<Int64Type>().value(row));
        }
        for (i, q) in quantities.iter().enumerate() {
            let c = column(&quantity_col(i))?;
            match q {
                Quantity::Values { .. } => {
                    let lists = c.as_list::<i32>();
                    for row in 0..b.num_rows() {
                        let vals = if lists.is_null(row) {
                            Vec::new()
                        } else {
                            floats(&lists.value(row))
                        };
                        out.lists[i].push(vals);
                    }
                }
                _ => {
                    let f = datafusion::arrow::compute::cast(&c, &DataType::Float64)?;
                    let f = f.as_primitive::<Float64Type>();
                    out.totals[i].extend(
                        (0..b.num_rows()).map(|r| if f.is_null(r) { 0.0 } else { f.value(r) }),
                    );
                }
            }
        }
    }
    Ok(out)
}

fn floats(a: &dyn Array) -> Vec<f64> {
    match datafusion::arrow::compute::cast(a, &DataType::Float64) {
        Ok(f) => f.as_primitive::<Float64Type>().iter().flatten().collect(),
        Err(_) => Vec::new(),
    }
}

impl Exact {
    /// The same release over exactly `cells` (a public domain): groups not in the data get
    /// zeros, groups outside the domain are dropped.
    pub fn align_to(&self, cells: &[Vec<String>]) -> Exact {
        let key = |k: &[ScalarValue]| k.iter().map(|v| v.to_string()).collect::<Vec<_>>();
        let index: std::collections::HashMap<Vec<String>, usize> = self
            .keys
            .iter()
            .enumerate()
            .map(|(i, k)| (key(k), i))
            .collect();
        let mut out = Exact {
            totals: vec![Vec::new(); self.totals.len()],
            lists: vec![Vec::new(); self.lists.len()],
            ..Default::default()
        };
        for cell in cells {
            let found = index.get(cell).copied();
            out.keys.push(
                cell.iter()
                    .map(|v| ScalarValue::Utf8(Some(v.clone())))
                    .collect(),
            );
            out.persons.push(found.map_or(0, |i| self.persons[i]));
            for q in 0..self.totals.len() {
                out.totals[q].push(
                    found
                        .and_then(|i| self.totals[q].get(i).copied())
                        .unwrap_or(0.0),
                );
                out.lists[q].push(
                    found
                        .and_then(|i| self.lists[q].get(i).cloned())
                        .unwrap_or_default(),
                );
            }
        }
        out
    }
}

/// How to noise one release.
#[derive(Debug, Clone)]
pub struct NoiseParams {
    pub noise: Noise,
    pub max_groups: u32,
    pub max_rows: u32,
    pub quantile_rows: u32,
    pub epsilon_persons: f64,
    pub epsilon_quantity: f64,
    pub delta: f64,
    /// Per quantity: clamp range of a total, value range of values.
    pub ranges: Vec<(f64, f64)>,
    pub min_persons: u32,
    /// The groups are a declared public domain: no partition selection.
    pub public: bool,
}

/// Noise of one quantity, in value units.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuantityNoise {
    pub mechanism: &'static str,
    pub epsilon: f64,
    /// Laplace scale (value units); for quantiles, the score noise scale.
    pub scale: f64,
    /// The same scale in the integer units the noise was drawn in.
    pub scale_int: f64,
    /// 95% interval half-width (value units), `None` for quantiles.
    pub half_width: Option<f64>,
}

/// A released group.
#[derive(Debug, Clone)]
pub struct NoisyGroup {
    pub keys: Vec<ScalarValue>,
    pub persons: i64,
    pub quantities: Vec<f64>,
}

/// The noisy release.
#[derive(Debug, Clone)]
pub struct Noisy {
    pub groups: Vec<NoisyGroup>,
    /// Groups kept by partition selection but below `min_persons` (noisy), withheld.
    pub suppressed: usize,
    pub persons_noise: QuantityNoise,
    pub threshold: Option<i64>,
    pub quantities: Vec<QuantityNoise>,
}

/// Noises the exact release.
pub fn apply(exact: &Exact, quantities: &[Quantity], p: &NoiseParams) -> Result<Noisy, DpError> {
    let grouped = exact.keys.first().is_some_and(|k| !k.is_empty()) || exact.keys.len() != 1;
    let l0 = if grouped { p.max_groups } else { 1 };
    let (groups, mechanism) = if grouped && !p.public {
        (
            Groups::FromData { delta: p.delta },
            "discrete_laplace_threshold",
        )
    } else {
        (Groups::Public, "discrete_laplace")
    };
    let budget = Budget::Epsilon(p.epsilon_persons);
    let counts = release_counts(p.noise, &exact.persons, l0, budget, groups)?;
    let persons_noise = laplace_noise(mechanism, counts.cost.epsilon, counts.scale, 1.0);
    let kept = counts.kept;
    let mut values = vec![Vec::new(); kept.len()];
    let mut noise_info = Vec::with_capacity(quantities.len());
    for (qi, q) in quantities.iter().enumerate() {
        let (noisy, info) = noise_quantity(exact, qi, q, &kept, l0, p)?;
        for (g, v) in noisy.into_iter().enumerate() {
            values[g].push(v);
        }
        noise_info.push(info);
    }
    let mut groups = Vec::new();
    let mut withheld = 0;
    for ((index, persons), quantities) in kept.into_iter().zip(values) {
        if suppressed(persons, p.min_persons) {
            withheld += 1;
            continue;
        }
        groups.push(NoisyGroup {
            keys: exact.keys[index].clone(),
            persons,
            quantities,
        });
    }
    Ok(Noisy {
        groups,
        suppressed: withheld,
        persons_noise,
        threshold: counts.threshold,
        quantities: noise_info,
    })
}

fn laplace_noise(
    mechanism: &'static str,
    epsilon: f64,
    scale_int: f64,
    unit: f64,
) -> QuantityNoise {
    QuantityNoise {
        mechanism,
        epsilon,
        scale: scale_int * unit,
        scale_int,
        half_width: Some(ci95_half_width(scale_int) as f64 * unit),
    }
}

fn noise_quantity(
    exact: &Exact,
    qi: usize,
    q: &Quantity,
    kept: &[(usize, i64)],
    l0: u32,
    p: &NoiseParams,
) -> Result<(Vec<f64>, QuantityNoise), DpError> {
    let (lo, hi) = p.ranges.get(qi).copied().unwrap_or((0.0, 0.0));
    match q {
        Quantity::Rows { .. } | Quantity::Present { .. } => {
            let ints: Vec<i64> = kept
                .iter()
                .map(|(g, _)| exact.totals[qi][*g].round() as i64)
                .collect();
            let linf = match q {
                Quantity::Present { .. } => 1,
                _ => i64::from(p.max_rows),
            };
            Ok(sums_noise(release_sums(
                p.noise,
                &ints,
                1.0,
                Bound::Groups { l0, linf },
                Budget::Epsilon(p.epsilon_quantity),
            )?))
        }
        Quantity::Total { .. } => {
            // Fixed point, rounded to the nearest step: sensitivity ⌈bound/unit⌉ + 1 steps.
            let bound = lo.abs().max(hi.abs()).max(1e-9);
            let unit = fixed_point_unit(bound);
            let steps: Vec<i64> = kept
                .iter()
                .map(|(g, _)| (exact.totals[qi][*g] / unit).round() as i64)
                .collect();
            let linf = (bound / unit).ceil() as i64 + 1;
            Ok(sums_noise(release_sums(
                p.noise,
                &steps,
                unit,
                Bound::Groups { l0, linf },
                Budget::Epsilon(p.epsilon_quantity),
            )?))
        }
        Quantity::Values { alpha, .. } => noise_quantiles(exact, qi, kept, l0, p, (lo, hi), *alpha),
    }
}

fn sums_noise(s: Sums) -> (Vec<f64>, QuantityNoise) {
    let info = laplace_noise("discrete_laplace", s.cost.epsilon, s.scale_steps, s.unit);
    (s.values, info)
}

const QUANTILE_STEPS: usize = 256;
/// Relative step of the geometric quantile grid (3%).
const QUANTILE_RATIO: f64 = 1.03;

/// Candidate values of a quantile in `[lo, hi]`: for a range starting at zero or above, `lo`
/// then a geometric grid (3% apart) from `(hi − lo) / 2048` above it, so small and large
/// values get the same relative precision; otherwise 257 evenly spaced values.
pub(crate) fn quantile_grid(lo: f64, hi: f64) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    if lo < 0.0 {
        let step = (hi - lo) / QUANTILE_STEPS as f64;
        return (0..=QUANTILE_STEPS).map(|i| lo + i as f64 * step).collect();
    }
    let mut grid = vec![lo];
    let mut offset = (hi - lo) / 2048.0;
    while offset < (hi - lo) * QUANTILE_RATIO {
        grid.push(lo + offset.min(hi - lo));
        offset *= QUANTILE_RATIO;
    }
    grid.dedup();
    grid
}

/// The index of the grid value nearest `v` (clamped into the grid).
fn nearest(grid: &[f64], v: f64) -> usize {
    let i = grid.partition_point(|g| *g <= v);
    match i {
        0 => 0,
        i if i == grid.len() => grid.len() - 1,
        i => {
            if v - grid[i - 1] <= grid[i] - v {
                i - 1
            } else {
                i
            }
        }
    }
}

fn noise_quantiles(
    exact: &Exact,
    qi: usize,
    kept: &[(usize, i64)],
    l0: u32,
    p: &NoiseParams,
    (lo, hi): (f64, f64),
    alpha: f64,
) -> Result<(Vec<f64>, QuantityNoise), DpError> {
    let grid = quantile_grid(lo, hi);
    let candidates: Vec<i64> = (0..grid.len() as i64).collect();
    let epsilon = p.epsilon_quantity / f64::from(l0.max(1));
    let mut out = Vec::with_capacity(kept.len());
    let mut scale = 0.0;
    for (g, _) in kept {
        let ints: Vec<i64> = exact.lists[qi][*g]
            .iter()
            .filter(|v| !v.is_nan())
            .map(|v| nearest(&grid, *v) as i64)
            .collect();
        let (chosen, s) = quantile(
            p.noise,
            ints,
            candidates.clone(),
            alpha,
            p.quantile_rows,
            epsilon,
        )?;
        scale = s;
        out.push(grid[chosen.clamp(0, grid.len() as i64 - 1) as usize]);
    }
    Ok((
        out,
        QuantityNoise {
            mechanism: "exponential_quantile",
            epsilon: p.epsilon_quantity,
            scale,
            scale_int: scale,
            half_width: None,
        },
    ))
}
