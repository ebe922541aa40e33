//! Accuracy with real noise (the default OpenDP strategy) on a lake whose truth is known:
//! answers are within a few noise scales of the truth, and over repeated runs the 95%
//! intervals of every released cell cover the (bounded) truth about 95% of the time.
//!
//! The lake: 6 org units with 80…130 workers (630 in all), each with a few check-ins and
//! logins in October 2026 (key epoch 2026Q4); one worker in 20 is "heavy" (30 check-ins of up
//! to 300 s), more than the bounds of the coverage runs allow, so there the truth is the
//! *bounded* truth: per person at most `max_rows` rows and a total of at most
//! `max_rows · 300` s.
//!
//! Tolerances: rates are compared with bands of ±4 binomial standard errors (pooled per
//! measure) or ±4.5 (per cell); with the ~40 comparisons here a correct engine fails this file
//! well under once in a thousand runs.

mod audit;

use std::collections::BTreeMap;

use fingertip_dp::{ci95_half_width, discrete_laplace_tail};
use fingertip_query::{Answer, BoundsRequest, Engine, QueryRequest};
use fingertip_tests::fixtures::{Event, ms, query_engine, write_lake};
use fingertip_tests::stats::{SplitMix, binomial_band};
use serde_json::Value;

const UNITS: [(&str, usize); 6] = [
    ("o1", 80),
    ("o2", 90),
    ("o3", 100),
    ("o4", 110),
    ("o5", 120),
    ("o6", 130),
];
const MAX_ROWS: u32 = 20;
const HI: f64 = 300.0;

/// One worker's events: (org unit, check-in durations, login durations).
struct Worker {
    unit: &'static str,
    checkins: Vec<f64>,
    logins: Vec<f64>,
}

/// The fixture population, with `scale` times as many workers per org unit.
fn population(scale: usize) -> Vec<Worker> {
    let mut rng = SplitMix(0x5eed_f1a9_e271_0001);
    let mut out = Vec::new();
    for (unit, n) in UNITS {
        for _ in 0..n * scale {
            let heavy = out.len() % 20 == 7;
            let checkins = if heavy {
                30
            } else {
                1 + rng.below(12) as usize
            };
            let logins = rng.below(6) as usize;
            out.push(Worker {
                unit,
                checkins: (0..checkins)
                    .map(|_| {
                        if heavy {
                            250.0 + rng.below(51) as f64
                        } else {
                            20.0 + rng.below(281) as f64
                        }
                    })
                    .collect(),
                logins: (0..logins).map(|_| 5.0 + rng.below(56) as f64).collect(),
            });
        }
    }
    out
}

fn events(workers: &[Worker]) -> Vec<Event> {
    let start = ms("2026-10-05T06:00:00Z");
    let mut out = Vec::new();
    for (w, worker) in workers.iter().enumerate() {
        let person = format!("staff-{w:04}");
        for (i, d) in worker.checkins.iter().enumerate() {
            out.push(Event::new(
                &person,
                "attendance",
                worker.unit,
                "check_in",
                start + i as i64 * 86_400_000 + w as i64 * 60_000,
                *d,
            ));
        }
        for (i, d) in worker.logins.iter().enumerate() {
            out.push(Event::new(
                &person,
                "study",
                worker.unit,
                "login",
                start + i as i64 * 86_400_000 + 3_600_000,
                *d,
            ));
        }
    }
    out
}

/// Per org unit: persons, rows, total seconds, under the coverage runs' bounds (or none).
#[derive(Debug, Default, Clone, Copy)]
struct Truth {
    persons: f64,
    rows: f64,
    secs: f64,
}

fn truth(workers: &[Worker], bounded: bool, checkins_only: bool) -> BTreeMap<&'static str, Truth> {
    let mut out: BTreeMap<&str, Truth> = BTreeMap::new();
    for w in workers {
        let values: Vec<f64> = w
            .checkins
            .iter()
            .chain(if checkins_only {
                [].iter()
            } else {
                w.logins.iter()
            })
            .copied()
            .collect();
        if values.is_empty() {
            continue;
        }
        let (mut rows, mut secs) = (values.len() as f64, values.iter().sum::<f64>());
        if bounded {
            rows = rows.min(f64::from(MAX_ROWS));
            secs = secs.clamp(0.0, f64::from(MAX_ROWS) * HI);
        }
        let t = out.entry(w.unit).or_default();
        t.persons += 1.0;
        t.rows += rows;
        t.secs += secs;
    }
    out
}

async fn engine(dir: &std::path::Path, workers: &[Worker]) -> Engine {
    write_lake(dir, &events(workers)).unwrap();
    query_engine(dir, 1e9)
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn interval(answer: &Answer, row: usize, column: &str) -> (f64, f64) {
    let pair = answer.intervals[row][column]
        .as_array()
        .unwrap_or_else(|| panic!("no interval for {column}"));
    (num(&pair[0]), num(&pair[1]))
}

fn scale_of(answer: &Answer, column: &str) -> f64 {
    answer
        .columns
        .iter()
        .find(|c| c.name == column)
        .and_then(|c| c.noise_scale)
        .unwrap_or_else(|| panic!("no noise scale for {column}"))
}

/// Coverage and error statistics of one measure.
#[derive(Debug, Default)]
struct Tally {
    cells: usize,
    covered: usize,
    within_4: usize,
    worst_in_scales: f64,
    per_unit: BTreeMap<&'static str, (usize, usize)>,
}

impl Tally {
    fn add(
        &mut self,
        unit: &'static str,
        truth: f64,
        value: f64,
        (lo, hi): (f64, f64),
        scale: f64,
    ) {
        self.cells += 1;
        let covered = lo <= truth && truth <= hi;
        self.covered += usize::from(covered);
        let e = self.per_unit.entry(unit).or_default();
        e.0 += 1;
        e.1 += usize::from(covered);
        let err = (value - truth).abs() / scale;
        self.within_4 += usize::from(err <= 4.0);
        self.worst_in_scales = self.worst_in_scales.max(err);
    }

    fn rate(&self) -> f64 {
        self.covered as f64 / self.cells as f64
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intervals_cover_the_bounded_truth_over_repeated_runs() {
    const RUNS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let workers = population(1);
    let engine = engine(dir.path(), &workers).await;
    let exact = truth(&workers, false, false);
    let bounded = truth(&workers, true, false);
    assert!(
        exact
            .values()
            .zip(bounded.values())
            .all(|(e, b)| e.rows > b.rows && e.secs > b.secs),
        "the bounds bind for the heavy workers"
    );

    let mut bounds = BoundsRequest {
        max_groups: Some(1),
        max_rows: Some(MAX_ROWS),
        ..Default::default()
    };
    bounds.columns.insert("secs".into(), [0.0, HI]);
    bounds.columns.insert("avg_s".into(), [0.0, HI]);
    let request = QueryRequest {
        sql: "SELECT org_unit, COUNT(*) AS n, COUNT(DISTINCT person) AS workers, SUM(duration_s) AS secs, AVG(duration_s) AS avg_s \
              FROM events GROUP BY org_unit ORDER BY org_unit"
            .into(),
        epsilon: 1.0,
        delta: None,
        bounds,
    };
    let (mut persons, mut rows, mut secs, mut avg) = (
        Tally::default(),
        Tally::default(),
        Tally::default(),
        Tally::default(),
    );
    let mut scales = (0.0, 0.0, 0.0);
    let started = std::time::Instant::now();
    for run in 0..RUNS {
        let answer = engine.run("accuracy", &request).await.unwrap();
        assert_eq!(
            answer.rows.len(),
            UNITS.len(),
            "run {run}: every org unit (80+ workers) is released"
        );
        let s = (
            scale_of(&answer, "workers"),
            scale_of(&answer, "n"),
            scale_of(&answer, "secs"),
        );
        if run == 0 {
            scales = s;
            // ε = 1 split in three (persons, rows, seconds): scales 1/(1/3), 20/(1/3), 6000/(1/3).
            assert_eq!(s.0, 3.0);
            assert_eq!(s.1, 3.0 * f64::from(MAX_ROWS));
            assert!(
                (s.2 / (3.0 * f64::from(MAX_ROWS) * HI) - 1.0).abs() < 1e-3,
                "sum scale {}",
                s.2
            );
        }
        assert_eq!(s, scales, "the scales do not depend on the data");
        for (i, row) in answer.rows.iter().enumerate() {
            let unit: &'static str = UNITS
                .iter()
                .map(|u| u.0)
                .find(|u| row["org_unit"] == *u)
                .expect("a known org unit");
            let t = bounded[unit];
            persons.add(
                unit,
                t.persons,
                num(&row["workers"]),
                interval(&answer, i, "workers"),
                s.0,
            );
            rows.add(unit, t.rows, num(&row["n"]), interval(&answer, i, "n"), s.1);
            secs.add(
                unit,
                t.secs,
                num(&row["secs"]),
                interval(&answer, i, "secs"),
                s.2,
            );
            // AVG has no single noise scale: its error is measured in the scale of sum/count
            // propagated to the ratio.
            let avg_truth = t.secs / t.rows;
            let avg_scale = (s.2 + avg_truth * s.1) / t.rows;
            avg.add(
                unit,
                avg_truth,
                num(&row["avg_s"]),
                interval(&answer, i, "avg_s"),
                avg_scale,
            );
        }
    }
    println!("{RUNS} runs in {:.1} s", started.elapsed().as_secs_f64());

    for (name, tally, scale) in [
        ("workers", &persons, scales.0),
        ("n", &rows, scales.1),
        ("secs", &secs, scales.2),
        ("avg_s", &avg, 0.0),
    ] {
        let per_unit: Vec<String> = tally
            .per_unit
            .iter()
            .map(|(u, (n, c))| format!("{u} {:.3}", *c as f64 / *n as f64))
            .collect();
        println!(
            "{name}: 95% intervals covered the truth in {:.4} of {} cells ({}); within 4 scales: {:.4}; worst error {:.2} scales",
            tally.rate(),
            tally.cells,
            per_unit.join(", "),
            tally.within_4 as f64 / tally.cells as f64,
            tally.worst_in_scales
        );
        if name == "avg_s" {
            // Sum and count each at 97.5%: the ratio's interval holds with ≥ 95% by the union
            // bound, usually much more.
            assert!(
                tally.rate() >= 0.93,
                "AVG intervals covered only {}",
                tally.rate()
            );
            for (u, (n, c)) in &tally.per_unit {
                let (lo, _) = binomial_band(0.95, *n, 4.5);
                assert!(
                    *c as f64 / *n as f64 >= lo,
                    "AVG in {u}: covered {c} of {n}"
                );
            }
            assert!(
                tally.worst_in_scales < 18.0,
                "AVG: an error of {} propagated scales",
                tally.worst_in_scales
            );
            continue;
        }
        // The exact coverage of the discrete interval (a little above 95% for small scales).
        // Sums are noised in integer units of a power of two near bound / 2²⁰.
        let unit = if name == "secs" {
            2f64.powi((f64::from(MAX_ROWS) * HI / 1_048_576.0).log2().floor() as i32)
        } else {
            1.0
        };
        let scale_int = scale / unit;
        let expected = 1.0 - discrete_laplace_tail(scale_int, ci95_half_width(scale_int) + 1);
        let (lo, hi) = binomial_band(expected, tally.cells, 4.0);
        assert!(
            tally.rate() >= lo && tally.rate() <= hi,
            "{name}: covered {} of cells, expected {expected:.4} ± {:.4}",
            tally.rate(),
            hi - expected
        );
        for (u, (n, c)) in &tally.per_unit {
            let (lo, hi) = binomial_band(expected, *n, 4.5);
            let r = *c as f64 / *n as f64;
            assert!(
                r >= lo && r <= hi,
                "{name} in {u}: covered {c} of {n}, expected {expected:.4}"
            );
        }
        // |error| ≤ 4 scales happens with probability 1 - P[|Z| > 4b] (≈ 1 - e⁻⁴ = 98.2%).
        let p4 = 1.0 - discrete_laplace_tail(scale_int, (4.0 * scale_int).floor() as u64 + 1);
        let (lo, hi) = binomial_band(p4, tally.cells, 4.0);
        let r4 = tally.within_4 as f64 / tally.cells as f64;
        assert!(
            r4 >= lo && r4 <= hi,
            "{name}: {r4} of errors within 4 scales, expected {p4:.4}"
        );
        // No error beyond 18 scales (P ≈ e⁻¹⁸ per cell).
        assert!(
            tally.worst_in_scales < 18.0,
            "{name}: an error of {} scales",
            tally.worst_in_scales
        );
    }
}

/// Relative errors of workers and check-in seconds per org unit with no bounds given (a
/// withheld org unit counts as an error of 100%): (mean, worst) of each.
async fn errors_without_bounds(scale: usize, runs: usize) -> ((f64, f64), (f64, f64)) {
    let dir = tempfile::tempdir().unwrap();
    let workers = population(scale);
    let engine = engine(dir.path(), &workers).await;
    let truth = truth(&workers, false, true);
    let request = QueryRequest {
        sql: "SELECT org_unit, COUNT(DISTINCT person) AS workers, SUM(duration_s) AS checkin_s \
              FROM events WHERE event_type = 'check_in' GROUP BY org_unit ORDER BY org_unit"
            .into(),
        epsilon: 1.0,
        ..Default::default()
    };
    let (mut worst_workers, mut worst_secs) = (0.0f64, 0.0f64);
    let (mut sum_workers, mut sum_secs) = (0.0, 0.0);
    let (mut withheld, mut worst_released) = (0, 0.0f64);
    for _ in 0..runs {
        let answer = engine.run("accuracy", &request).await.unwrap();
        assert_eq!(
            (answer.bounds.max_groups, answer.bounds.estimated.len()),
            (1, 1),
            "grouped by org_unit alone, max_groups is 1 and only the clamp of check-in seconds is estimated: {:?}",
            answer.bounds
        );
        let sum = answer
            .columns
            .iter()
            .find(|c| c.name == "checkin_s")
            .unwrap();
        println!(
            "{} workers: max_groups {} (estimated), check-in seconds clamp {:?} (estimated), noise scales: workers {:?}, seconds {:?}; threshold {:?}; {} of {} org units released",
            workers.len(),
            answer.bounds.max_groups,
            sum.contribution_range,
            answer
                .columns
                .iter()
                .find(|c| c.name == "workers")
                .and_then(|c| c.noise_scale),
            sum.noise_scale,
            answer.partition_threshold,
            answer.rows.len(),
            UNITS.len()
        );
        for (unit, t) in &truth {
            let row = answer.rows.iter().find(|r| r["org_unit"] == *unit);
            let (ew, es) = match row {
                Some(row) => (
                    (num(&row["workers"]) - t.persons).abs() / t.persons,
                    (num(&row["checkin_s"]) - t.secs).abs() / t.secs,
                ),
                None => {
                    withheld += 1;
                    (1.0, 1.0)
                }
            };
            if row.is_some() {
                worst_released = worst_released.max(es);
            }
            worst_workers = worst_workers.max(ew);
            worst_secs = worst_secs.max(es);
            sum_workers += ew;
            sum_secs += es;
        }
    }
    let cells = (runs * truth.len()) as f64;
    println!(
        "{withheld} of {cells} org-unit answers withheld; worst relative error of released check-in seconds {worst_released:.4}"
    );
    let out = (
        (sum_workers / cells, worst_workers),
        (sum_secs / cells, worst_secs),
    );
    println!(
        "relative error over {runs} runs × {} org units ({} workers): workers mean {:.4} worst {:.4}; check-in seconds mean {:.4} worst {:.4}",
        truth.len(),
        workers.len(),
        out.0.0,
        out.0.1,
        out.1.0,
        out.1.1
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_bounds_the_answers_are_useful_at_1000_workers_per_org_unit() {
    // No bounds at all: max_groups and the clamp of each person's check-in seconds are
    // estimated privately (`[query] estimation_share` of ε), the rest is as above. With 10×
    // the workers of the coverage runs the estimates are good; see the ignored test below
    // for ~100 workers per org unit.
    let ((_, worst_workers), (_, worst_secs)) = errors_without_bounds(10, 5).await;
    assert!(
        worst_workers < 0.25,
        "workers per org unit off by {worst_workers:.3}"
    );
    assert!(
        worst_secs < 0.25,
        "check-in seconds per org unit off by {worst_secs:.3}"
    );
}

/// At ~100 workers per org unit and ε = 1 a sum is at the limit of what DP allows (seen: mean
/// error 23%, worst 34% for check-in seconds; workers mean 2.8%, worst 17%); the test holds the
/// defaults to that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_bounds_the_answers_are_useful_at_100_workers_per_org_unit() {
    let ((mean_workers, worst_workers), (mean_secs, _)) = errors_without_bounds(1, 10).await;
    assert!(
        mean_workers < 0.08 && worst_workers < 0.3,
        "workers per org unit off by {mean_workers:.3} on average, {worst_workers:.3} at worst"
    );
    assert!(
        mean_secs < 0.4,
        "check-in seconds per org unit off by {mean_secs:.3} on average"
    );
}

/// Quantiles with nothing set (no bounds, default ε split) are useful: the p90 of check-in
/// durations over the 630 workers at ε = 1 lands within 25% of the true p90 of every
/// check-in in (almost) every run. The value range's upper end is estimated privately and the
/// grid is geometric, so the candidates are dense where the data are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantiles_without_bounds_are_within_a_quarter_of_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let workers = population(1);
    let engine = engine(dir.path(), &workers).await;
    let mut all: Vec<f64> = workers.iter().flat_map(|w| w.checkins.clone()).collect();
    all.sort_by(f64::total_cmp);
    let truth = all[((all.len() - 1) as f64 * 0.9).round() as usize];
    let request = QueryRequest {
        sql: "SELECT APPROX_PERCENTILE_CONT(duration_s, 0.9) AS p90 FROM events \
              WHERE event_type = 'check_in'"
            .into(),
        epsilon: 1.0,
        delta: None,
        bounds: BoundsRequest::default(),
    };
    let runs = 10;
    let mut errors = Vec::new();
    for _ in 0..runs {
        let answer = engine.run("accuracy", &request).await.unwrap();
        errors.push((num(&answer.rows[0]["p90"]) - truth).abs() / truth);
    }
    let within = errors.iter().filter(|e| **e <= 0.25).count();
    assert!(
        within >= runs - 1,
        "p90 {truth}: relative errors {errors:?}"
    );
}
