//! The empirical privacy audit: for each mechanism family, two neighbouring lakes — one with a
//! heavy worker, one without — the same release drawn thousands of times on each, and a lower
//! confidence bound ε̂ on the privacy loss the outputs show. DP at the charged ε promises that
//! no event is more than e^ε (plus δ) times likelier on one lake than on the other, so ε̂ must
//! stay at or below the charged ε; the same audit run with noise at half the scale the
//! privacy map needs (`Noise::HalfScale`) must find more, so the audit can fail.
//!
//! Method (as in published DP auditing): 1,000 calibration draws per lake choose the event
//! and direction that separate the lakes best (threshold events on each released number,
//! joint events on all of them, "the group is released"); 4,000 fresh draws per lake then
//! give one-sided Clopper–Pearson bounds p̲ (on the lake the event favours) and q̄ (on the
//! other), each at α = 1e-4, and ε̂ = ln((p̲ − δ) / q̄). With six families the audit raises a
//! false alarm on a correct engine with probability below 2e-3; at half scale the true loss
//! is 2ε, and the joint events find most of it (the table in docs/privacy.md).
//!
//! Each release is drawn through `Engine::release_samples`: the query is accepted, planned
//! and run once exactly as `Engine::run` runs it, then its noise is drawn by the engine's own
//! `release::apply`. Post-processing (HAVING, ORDER BY, LIMIT) only transforms these numbers.

use std::path::Path;

use fingertip_dp::Noise;
use fingertip_pipelines::{Domain, IndexRow, RunRequest};
use fingertip_query::{BoundsRequest, DrawnGroup, QueryRequest};
use fingertip_tests::fixtures::{Event, ms, query_engine, write_lake};
use fingertip_tests::pipelines::{pipeline_files, runner};
use fingertip_tests::stats::{SplitMix, clopper_pearson};

const EPSILON: f64 = 1.0;
const DELTA: f64 = 1e-6;
const CALIBRATION: usize = 1_000;
const DRAWS: usize = 4_000;
const ALPHA: f64 = 1e-4;

/// The neighbouring lakes: `o1` with 100 workers and `o2` with `o2` workers, one of whom (in
/// the first lake only) is heavy: 40 check-ins of 600 s, far above every bound below.
fn lakes(o2: usize) -> (tempfile::TempDir, tempfile::TempDir) {
    let mut rng = SplitMix(0xa0d1_7000_0000_0001);
    let day = ms("2026-10-06T08:00:00Z");
    let mut base = Vec::new();
    for (unit, n) in [("o1", 100), ("o2", o2 - 1)] {
        for w in 0..n {
            let person = format!("{unit}-{w}");
            for k in 0..3 {
                let secs = 60.0 + rng.below(181) as f64;
                base.push(Event::new(
                    &person,
                    "attendance",
                    unit,
                    "check_in",
                    day + k * 86_400_000,
                    secs,
                ));
            }
        }
    }
    let heavy: Vec<Event> = (0..40)
        .map(|k| {
            Event::new(
                "heavy",
                "attendance",
                "o2",
                "check_in",
                day + k * 3_600_000,
                600.0,
            )
        })
        .collect();
    let with = tempfile::tempdir().unwrap();
    let without = tempfile::tempdir().unwrap();
    write_lake(with.path(), &[base.clone(), heavy].concat()).unwrap();
    write_lake(without.path(), &base).unwrap();
    (with, without)
}

/// One family: its query, bounds, and the group whose release is observed.
struct Family {
    name: &'static str,
    sql: &'static str,
    bounds: &'static [(&'static str, f64, f64)],
    group: &'static [&'static str],
}

const FAMILIES: &[Family] = &[
    Family {
        name: "noisy count",
        sql: "SELECT COUNT(*) AS n FROM events",
        bounds: &[],
        group: &[],
    },
    Family {
        name: "bounded sum",
        sql: "SELECT SUM(duration_s) AS s FROM events",
        bounds: &[("s", 0.0, 600.0)],
        group: &[],
    },
    Family {
        name: "COUNT(DISTINCT person)",
        sql: "SELECT COUNT(DISTINCT person) AS p FROM events",
        bounds: &[],
        group: &[],
    },
    Family {
        name: "average",
        sql: "SELECT AVG(duration_s) AS a FROM events",
        bounds: &[("a", 0.0, 600.0)],
        group: &[],
    },
    Family {
        name: "quantile",
        sql: "SELECT APPROX_PERCENTILE_CONT(duration_s, 0.9) AS p90 FROM events",
        bounds: &[("p90", 0.0, 600.0)],
        group: &[],
    },
    Family {
        name: "partition selection",
        sql: "SELECT org_unit, COUNT(*) AS n FROM events GROUP BY org_unit",
        bounds: &[],
        group: &["o2"],
    },
];

fn request(f: &Family) -> QueryRequest {
    let mut bounds = BoundsRequest {
        max_groups: Some(1),
        max_rows: Some(5),
        ..Default::default()
    };
    for (column, lo, hi) in f.bounds {
        bounds.columns.insert((*column).into(), [*lo, *hi]);
    }
    QueryRequest {
        sql: f.sql.into(),
        epsilon: EPSILON,
        delta: Some(DELTA),
        bounds,
    }
}

/// What one draw released for the observed group: its person count and measure values.
type Obs = Option<Vec<f64>>;

fn observe(draw: &[DrawnGroup], group: &[&str]) -> Obs {
    let g = draw
        .iter()
        .find(|g| g.keys.iter().map(String::as_str).eq(group.iter().copied()))?;
    let mut v = vec![g.persons as f64];
    v.extend(&g.quantities);
    v.extend(g.values.iter().map(|x| x.unwrap_or(f64::NAN)));
    Some(v)
}

#[derive(Debug, Clone)]
enum Ev {
    Released,
    Ge(usize, f64),
    Le(usize, f64),
    AllGe(Vec<f64>),
    AllLe(Vec<f64>),
}

impl Ev {
    fn holds(&self, o: &Obs) -> bool {
        let Some(v) = o else { return false };
        match self {
            Ev::Released => true,
            Ev::Ge(j, t) => v[*j] >= *t,
            Ev::Le(j, t) => v[*j] <= *t,
            Ev::AllGe(t) => v.iter().zip(t).all(|(x, t)| x >= t),
            Ev::AllLe(t) => v.iter().zip(t).all(|(x, t)| x <= t),
        }
    }
}

fn count(ev: &Ev, obs: &[Obs]) -> usize {
    obs.iter().filter(|o| ev.holds(o)).count()
}

/// Candidate events: joint and per-number thresholds at the exact values of both lakes and
/// at deciles of the calibration draws.
fn candidates(exact: [&Obs; 2], calibration: [&[Obs]; 2]) -> Vec<Ev> {
    let mut out = vec![Ev::Released];
    for e in exact.into_iter().flatten() {
        out.push(Ev::AllGe(e.clone()));
        out.push(Ev::AllLe(e.clone()));
    }
    let width = exact
        .iter()
        .flat_map(|e| e.as_ref())
        .map(Vec::len)
        .max()
        .unwrap_or(0);
    for j in 0..width {
        let mut xs: Vec<f64> = calibration
            .iter()
            .flat_map(|c| c.iter().flatten().map(|v| v[j]))
            .filter(|x| x.is_finite())
            .collect();
        xs.sort_by(f64::total_cmp);
        for d in 1..10 {
            if let Some(t) = xs.get(xs.len() * d / 10) {
                out.push(Ev::Ge(j, *t));
                out.push(Ev::Le(j, *t));
            }
        }
        for e in exact.into_iter().flatten() {
            out.push(Ev::Ge(j, e[j]));
            out.push(Ev::Le(j, e[j]));
        }
    }
    out
}

/// The audit's lower confidence bound on ε (for a release of δ `delta`), and the event used.
fn epsilon_hat(
    exact: [&Obs; 2],
    calibration: [&[Obs]; 2],
    fresh: [&[Obs]; 2],
    delta: f64,
) -> (f64, String) {
    let n = |c: &[Obs]| c.len() as f64;
    let mut best: Option<(f64, Ev, usize)> = None;
    for ev in candidates(exact, calibration) {
        for a in 0..2 {
            let (ka, kb) = (count(&ev, calibration[a]), count(&ev, calibration[1 - a]));
            if ka < 30 {
                continue;
            }
            let score = (ka as f64 / n(calibration[a])).ln()
                - ((kb as f64 + 1.0) / n(calibration[1 - a])).ln();
            if best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((score, ev.clone(), a));
            }
        }
    }
    let Some((_, ev, a)) = best else {
        return (0.0, "no event".into());
    };
    let (ka, kb) = (count(&ev, fresh[a]), count(&ev, fresh[1 - a]));
    let p_lo = clopper_pearson(ka, fresh[a].len(), ALPHA).0;
    let q_hi = clopper_pearson(kb, fresh[1 - a].len(), ALPHA).1;
    let eps = ((p_lo - delta).max(0.0) / q_hi).ln().max(0.0);
    let lake = ["with", "without"][a];
    let n = fresh[a].len();
    (
        eps,
        format!("{ev:?} favours the lake {lake} the heavy worker: {ka} vs {kb} of {n}"),
    )
}

/// One audited family: its name, ε̂, the ε it was charged, and the event that showed ε̂.
type Audited = (&'static str, f64, f64, String);

/// Audits every family with `noise`.
async fn audit(noise: Noise, with_pipeline: bool) -> Vec<Audited> {
    // o2 sits at the partition-selection threshold of its noisy person count (ε/2 of the
    // query, one group per person), where one person moves the release probability most.
    let (threshold, ..) = fingertip_dp::threshold_for(1, EPSILON / 2.0, DELTA).unwrap();
    let (with, without) = lakes(threshold as usize);
    let mut out = Vec::new();
    for f in FAMILIES {
        let started = std::time::Instant::now();
        let req = request(f);
        let mut exact = Vec::new();
        let mut drawn = Vec::new();
        for dir in [with.path(), without.path()] {
            let engine = query_engine(dir, 1e6);
            let e = engine
                .clone()
                .with_noise(Noise::NoNoise)
                .release_samples(&req, 1)
                .await
                .unwrap();
            exact.push(observe(&e[0], f.group));
            let draws = engine
                .with_noise(noise)
                .release_samples(&req, CALIBRATION + DRAWS)
                .await
                .unwrap();
            drawn.push(
                draws
                    .iter()
                    .map(|d| observe(d, f.group))
                    .collect::<Vec<Obs>>(),
            );
        }
        let delta = if f.group.is_empty() { 0.0 } else { DELTA };
        out.push(judge(
            f.name,
            EPSILON,
            delta,
            noise,
            &exact,
            &drawn,
            CALIBRATION,
        ));
        println!("  ({:.1} s)", started.elapsed().as_secs_f64());
    }
    if with_pipeline {
        out.push(audit_pipeline(noise, with.path(), without.path()).await);
    }
    out.push(audit_gaussian(noise));
    out
}

/// The discrete Gaussian family, drawn through `fingertip_dp::release_sums` with a ρ budget
/// as pipelines call it under zCDP: one person moves a cell sum by 2 steps (L2 bound 2),
/// ρ = 0.05, so σ ≈ 6.3 and the charge is ε(ρ) at δ = 10⁻³ (the ledger's conversion). Its
/// privacy loss lives in the tails, so it gets its own events: "the released sum is at least
/// t" for t on a grid out to 6σ, chosen on 20,000 calibration draws per neighbour (by the ε
/// the event shows there after δ), judged on 200,000 fresh ones (cheap: no query runs). At half scale its true loss is ε(4ρ) ≈ 2.5.
fn audit_gaussian(noise: Noise) -> Audited {
    use fingertip_dp::{Bound, Budget, release_sums};
    const RHO: f64 = 0.05;
    const GAUSS_DELTA: f64 = 1e-3;
    const CAL: usize = 20_000;
    const N: usize = 200_000;
    let charged = fingertip_dp::accounting::epsilon_of_rho(RHO, GAUSS_DELTA);
    let draw = |exact: i64, n: usize| -> Vec<f64> {
        let input = vec![exact; n];
        release_sums(noise, &input, 1.0, Bound::Norm(2), Budget::Rho(RHO))
            .unwrap()
            .values
    };
    let (with_cal, without_cal) = (draw(2, CAL), draw(0, CAL));
    let at_least = |xs: &[f64], t: f64| xs.iter().filter(|x| **x >= t).count();
    let sigma = 2.0 / (2.0 * RHO).sqrt();
    let best = (0..=24)
        .map(|k| k as f64 * sigma / 4.0)
        .filter(|t| at_least(&with_cal, *t) >= 30)
        .max_by(|a, b| {
            // The event's ε estimate on the calibration draws, δ taken off as the judgement
            // below takes it: a far tail event whose rate is near δ can show no loss at all.
            let score = |t: f64| {
                let p = at_least(&with_cal, t) as f64 / CAL as f64;
                let q = (at_least(&without_cal, t) as f64 + 1.0) / CAL as f64;
                ((p - GAUSS_DELTA).max(1e-12) / q).ln()
            };
            score(*a).total_cmp(&score(*b))
        })
        .unwrap();
    let (with, without) = (draw(2, N), draw(0, N));
    let (ka, kb) = (at_least(&with, best), at_least(&without, best));
    let p_lo = clopper_pearson(ka, N, ALPHA).0;
    let q_hi = clopper_pearson(kb, N, ALPHA).1;
    let eps = ((p_lo - GAUSS_DELTA).max(0.0) / q_hi).ln().max(0.0);
    let event = format!("sum ≥ {best:.1}: {ka} vs {kb} of {N}");
    println!(
        "{noise:?} | discrete Gaussian (ρ = {RHO}) | ε̂ = {eps:.3} (charged {charged:.3} at δ = {GAUSS_DELTA}) | {event}"
    );
    ("discrete Gaussian", eps, charged, event)
}

fn judge(
    name: &'static str,
    charged: f64,
    delta: f64,
    noise: Noise,
    exact: &[Obs],
    drawn: &[Vec<Obs>],
    calibration: usize,
) -> Audited {
    let (cal_a, fresh_a) = drawn[0].split_at(calibration);
    let (cal_b, fresh_b) = drawn[1].split_at(calibration);
    let (eps, event) = epsilon_hat(
        [&exact[0], &exact[1]],
        [cal_a, cal_b],
        [fresh_a, fresh_b],
        delta,
    );
    println!("{noise:?} | {name} | ε̂ = {eps:.3} (charged {charged}) | {event}");
    (name, eps, charged, event)
}

/// The pipeline family: the shipped people pipeline and a count index released at the
/// all-apps, all-units level only, with the week's check-in minutes bounded in L1 by the
/// pipeline's own person-stage bounding. Apps and units are declared (no δ). A pipeline run
/// is slower to draw than a query release (each draw re-runs its person stages: ~70 ms), so
/// it gets 500 draws per lake. It is a smoke test of the whole run, not a measurement: judged at
/// the (ε, δ) its ρ converts to (5.68 at δ = 10⁻⁶), it could not fail with 400 fresh draws
/// (their largest possible ε̂ is about 3.8). The run's parts are checked where they can fail:
/// its bounding exactly (`tests/tests/pipelines/bounding.rs`), its noise by the discrete
/// Gaussian family here (with the half-scale test).
async fn audit_pipeline(noise: Noise, with: &Path, without: &Path) -> Audited {
    const CAL: usize = 100;
    const N: usize = 400;
    const INDEX_EPSILON: f64 = 1.0;
    let specs = tempfile::tempdir().unwrap();
    let mut charged_rho = INDEX_EPSILON * INDEX_EPSILON / 2.0;
    for (name, text) in pipeline_files() {
        if name == "active_workers.toml" {
            let epsilon = text
                .lines()
                .find_map(|l| l.strip_prefix("epsilon = ")?.trim().parse::<f64>().ok())
                .unwrap();
            charged_rho += epsilon * epsilon / 2.0;
            std::fs::write(specs.path().join(name), text).unwrap();
        }
    }
    std::fs::write(specs.path().join("audit.toml"), AUDIT_INDEX).unwrap();
    let domain = Domain {
        apps: Some(vec!["attendance".into()]),
        units: Some(vec!["o1".into(), "o2".into()]),
    };
    let tz = fingertip_pipelines::PipelinesConfig::default()
        .time_zone
        .parse()
        .unwrap();
    let week = fingertip_pipelines::weeks::label(ms("2026-10-07T08:00:00Z"), tz);
    let req = RunRequest {
        out: specs.path().join("out"),
        weeks: vec![week.clone()],
        pipelines: Some(specs.path().to_path_buf()),
        principal: "audit".into(),
        progress: false,
    };
    let observe_run = |rows: &[IndexRow]| -> Obs {
        let value = |index: &str| {
            rows.iter()
                .find(|r| {
                    r.index == index && r.week == week && r.app_id == "*" && r.org_unit == "*"
                })
                .and_then(|r| r.value)
        };
        Some(vec![value("active_workers")?, value("audit_checkins")?])
    };
    let started = std::time::Instant::now();
    let mut exact = Vec::new();
    let mut drawn = Vec::new();
    for dir in [with, without] {
        let r = runner(dir, domain.clone(), 1e6);
        let e = r
            .clone()
            .with_noise(Noise::NoNoise)
            .release_samples(&req, 1)
            .await
            .unwrap();
        exact.push(observe_run(&e[0]));
        let draws = r
            .with_noise(noise)
            .release_samples(&req, CAL + N)
            .await
            .unwrap();
        drawn.push(draws.iter().map(|d| observe_run(d)).collect::<Vec<Obs>>());
    }
    // The run is ρ-zCDP (ρ = Σ ε²/2, discrete Gaussian noise): (ε(ρ), δ)-DP at any δ.
    let rho = charged_rho;
    let charged = fingertip_dp::accounting::epsilon_of_rho(rho, DELTA);
    let audited = judge("pipeline run", charged, DELTA, noise, &exact, &drawn, CAL);
    println!("  ({:.1} s)", started.elapsed().as_secs_f64());
    audited
}

const AUDIT_INDEX: &str = r#"
name = "audit_checkins"
kind = "count"
title = "Check-in minutes (audit)"
unit = "minutes per week"
description = "The audit's index: check-in minutes in the week."
clause = "Audit only."
not_measured = "Nothing else."
higher_is_worse = true
epsilon = 1.0
levels = ["all"]
person_sql = """
SELECT person, week, app_id, org_unit,
       SUM(CASE WHEN event_type = 'check_in' THEN duration_s ELSE 0 END) / 60.0 AS numerator
FROM weekly_events
GROUP BY person, week, app_id, org_unit
"""

[bounds]
numerator_per_week = 75.0
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audited_epsilon_stays_within_the_charged_epsilon() {
    let failed: Vec<_> = audit(Noise::OpenDp, true)
        .await
        .into_iter()
        .filter(|(_, eps, charged, _)| *eps > *charged)
        .collect();
    assert!(
        failed.is_empty(),
        "the outputs show more privacy loss than charged: {failed:#?}"
    );
}

/// The audit can fail: at half the noise scale it must see more loss than is charged, in
/// every query family.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_catches_half_scale_noise() {
    let missed: Vec<_> = audit(Noise::HalfScale, false)
        .await
        .into_iter()
        .filter(|(_, eps, charged, _)| *eps <= *charged)
        .collect();
    assert!(
        missed.is_empty(),
        "the audit did not notice half-scale noise: {missed:#?}"
    );
}
