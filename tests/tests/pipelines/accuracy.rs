//! The published burden indices against the simulator's exact ones (`fingertip_sim::compute_truth`).
//!
//! 3 000 simulated staff in about 100 townships over two ISO weeks (2026-W45 and W46) go
//! straight into the lake; apps and townships are a public domain (every cell is released, no
//! partition selection). The pipelines run twice with real OpenDP noise:
//!
//! - the shipped pipelines (shipped ε): their intervals must hold the true values at about the
//!   stated rate;
//! - copies of the shipped files with every `epsilon` multiplied by [`FACTOR`] (so active workers
//!   0.4 → 8 and each index 0.2 → 4; 40 per run): with ≈30 staff per township, the shipped ε
//!   gives per-township intervals far too wide to rank townships (a per-worker index of a
//!   township of 30 staff has an interval of several times its value), so ranking can only be
//!   tested with more ε. Bounds are the shipped ones.
//!
//! Coverage is measured per index over every published (not suppressed) cell that has a true
//! value, at every level. Ratio intervals combine two 97.5% intervals and are conservative;
//! counts have exact 95% intervals. Intervals cover noise, not the bias of the per-person
//! bounds (docs/indices.md): with the scaled ε the all-apps × all-units cells of
//! `proof_uploads_per_worker` (released about 7% below the true value: heavy townships'
//! staff upload more than the bound of 16 a week) are narrower than that bias and miss, and
//! so at times do those of `checkin_minutes_per_worker` (bound 75 minutes); they are printed
//! by level, and counted in the per-index rate like every other cell.
//!
//! Ordering: at the township level (`app_id = *`) and the app level (`org_unit = *`), every
//! pair of cells whose published intervals do not overlap must be in the true order; the
//! simulator's heavy townships must rank above its light ones on the burden index, and the
//! townships with a data barrier above those without on the duplicate-entry rate.

use std::collections::{BTreeMap, HashMap};

use fingertip_dp::BudgetConfig;
use fingertip_dp::accounting::Accounting;
use fingertip_pipelines::IndexRow;
use fingertip_sim::Tier;
use fingertip_tests::pipelines::{
    Key, WEEKS, copy_pipelines, coverage, published, run, runner, runner_with, simulate,
};
use fingertip_tests::stats::binomial_band;

const WORKERS: u32 = 3_000;
const SEED: u64 = 2026;
/// The ε of every pipeline in the ranking run is the shipped ε times this.
const FACTOR: f64 = 20.0;

/// The published cells of one index at one level and week: (cell key, value, low, high).
fn cells<'a>(
    rows: &'a [IndexRow],
    index: &str,
    week: &str,
    level: &str,
) -> Vec<(&'a str, f64, f64, f64)> {
    rows.iter()
        .filter(|r| {
            r.index == index
                && r.week == week
                && fingertip_tests::pipelines::level(&r.app_id, &r.org_unit) == level
        })
        .filter_map(|r| {
            published(r).map(|(v, lo, hi)| {
                (
                    if level == "app" {
                        r.app_id.as_str()
                    } else {
                        r.org_unit.as_str()
                    },
                    v,
                    lo,
                    hi,
                )
            })
        })
        .collect()
}

fn truth_of(
    truth: &HashMap<Key, f64>,
    index: &str,
    week: &str,
    level: &str,
    key: &str,
) -> Option<f64> {
    let (app, unit) = if level == "app" {
        (key, "*")
    } else {
        ("*", key)
    };
    truth
        .get(&(
            index.to_string(),
            week.to_string(),
            app.to_string(),
            unit.to_string(),
        ))
        .copied()
}

/// Prints, per index, the mean 95% interval width against the mean true value of published
/// township cells (`app_id = *`): how much a township's interval says.
fn print_township_widths(label: &str, rows: &[IndexRow], truth: &HashMap<Key, f64>) {
    let mut sums: BTreeMap<&str, (f64, f64, usize)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.app_id == "*" && r.org_unit != "*") {
        let (Some((_, lo, hi)), Some(t)) = (
            published(r),
            truth.get(&(
                r.index.clone(),
                r.week.clone(),
                r.app_id.clone(),
                r.org_unit.clone(),
            )),
        ) else {
            continue;
        };
        let s = sums.entry(r.index.as_str()).or_default();
        *s = (s.0 + hi - lo, s.1 + t, s.2 + 1);
    }
    for (index, (w, t, n)) in sums {
        let n = n as f64;
        println!(
            "{label}: {index}: township intervals {:.3} wide on average, true values {:.3} on average",
            w / n,
            t / n
        );
    }
}

/// Prints the 95% half-width of every headline cell (all apps × all units, and each app) in
/// the last week: relative to the value, or in percentage points for shares. Returns how many
/// headline cells are informative (half-width ≤ 10% of the value, or ≤ 5 points for a share),
/// the median relative half-width, and the all-apps × all-units cells that are not informative.
fn headline_widths(label: &str, rows: &[IndexRow]) -> (usize, f64, Vec<String>) {
    let week = WEEKS[WEEKS.len() - 1];
    let mut rel = Vec::new();
    let mut good = 0;
    let mut wide_at_top = Vec::new();
    for r in rows.iter().filter(|r| r.week == week && r.org_unit == "*") {
        let Some((v, lo, hi)) = published(r) else {
            continue;
        };
        let half = (hi - lo) / 2.0;
        let share = r.index.ends_with("_share") || r.index.ends_with("_rate");
        let ok = if share {
            half <= 0.05
        } else {
            half <= 0.1 * v.abs()
        };
        good += usize::from(ok);
        if !ok && r.app_id == "*" {
            wide_at_top.push(r.index.clone());
        }
        rel.push(half / v.abs().max(1e-9));
        let shown = if share {
            format!("{:.1}% ± {:.1} points", v * 100.0, half * 100.0)
        } else {
            format!(
                "{v:.2} ± {half:.2} ({:.0}%)",
                half / v.abs().max(1e-9) * 100.0
            )
        };
        println!(
            "headline {label}: {} {}: {shown}{}",
            r.index,
            r.app_id,
            if ok { "" } else { "  (wide)" }
        );
    }
    rel.sort_by(f64::total_cmp);
    let median = rel.get(rel.len() / 2).copied().unwrap_or(f64::NAN);
    println!(
        "headline {label}: {good} of {} cells informative; median half-width {:.1}% of the value",
        rel.len(),
        median * 100.0
    );
    (good, median, wide_at_top)
}

/// Copies a data directory without its ledger (whose epochs already use zCDP).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "ledger" {
            continue;
        }
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Asserts the coverage of every index is not significantly below 95%; returns a summary.
fn check_coverage(label: &str, rows: &[IndexRow], truth: &HashMap<Key, f64>) -> String {
    let coverage = coverage(rows, truth);
    let mut summary = String::new();
    let mut failures = Vec::new();
    for (index, c) in &coverage {
        let line = format!(
            "{label}: {index}: {}/{} = {:.3} ({})\n",
            c.covered,
            c.cells,
            c.rate(),
            c.levels()
        );
        summary.push_str(&line);
        // Not significantly below 95%: four binomial standard deviations under it.
        let (floor, _) = binomial_band(0.95, c.cells, 4.0);
        if c.cells < 50 || c.rate() < floor {
            failures.push(format!("{} (floor {floor:.3})", line.trim_end()));
        }
    }
    println!("{summary}");
    for index in [
        "checkin_minutes_per_worker",
        "duplicate_entry_rate",
        "apps_per_worker",
        "rankings_published",
        "burden_index",
    ] {
        assert!(
            coverage.contains_key(index),
            "{label}: no published {index} cell has a true value"
        );
    }
    assert!(
        failures.is_empty(),
        "{label}: coverage below 95%:\n{}",
        failures.join("\n")
    );
    summary
}

#[test]
fn published_intervals_hold_the_true_values_and_rank_heavy_above_light() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let sim = simulate(&data, WORKERS, 2, SEED);
    let truth = sim.truth_values();
    let scaled = tmp.path().join("pipelines-scaled");
    let scaled_eps = copy_pipelines(&scaled, FACTOR);
    // Budget enough for both runs under zCDP (ρ grows with the square of the scaled ε).
    let runner = runner(&data, sim.domain(), 1e6);

    let (shipped_rows, summary) =
        run(&runner, &tmp.path().join("out-shipped"), &WEEKS, None).expect("shipped run");
    assert!(summary.public_domain && summary.delta == 0.0, "{summary:?}");
    check_coverage("shipped ε", &shipped_rows, &truth);
    print_township_widths("shipped ε", &shipped_rows, &truth);
    let zcdp = headline_widths("zCDP", &shipped_rows);

    // The same run under pure accounting (Laplace noise on L1 bounds), in its own data
    // directory's ledger: the before/after of docs/privacy.md.
    let pure_data = tmp.path().join("data-pure");
    copy_dir(&data, &pure_data);
    let pure_runner = runner_with(
        &pure_data,
        sim.domain(),
        &BudgetConfig {
            epsilon_total: 1e6,
            accounting: Accounting::Pure,
            ..BudgetConfig::default()
        },
    );
    let (pure_rows, _) =
        run(&pure_runner, &tmp.path().join("out-pure"), &WEEKS, None).expect("pure run");
    check_coverage("shipped ε, pure", &pure_rows, &truth);
    let pure = headline_widths("pure", &pure_rows);
    assert!(
        zcdp.1 < pure.1,
        "zCDP intervals are not narrower at the headline levels: {zcdp:?} vs {pure:?}"
    );
    // Every all-apps × all-units headline is informative at the shipped ε under zCDP.
    assert!(zcdp.2.is_empty(), "wide all-level headlines: {:?}", zcdp.2);

    let (rows, summary) = run(
        &runner,
        &tmp.path().join("out-scaled"),
        &WEEKS,
        Some(&scaled),
    )
    .expect("scaled run");
    assert!((summary.epsilon - scaled_eps).abs() < 1e-9, "{summary:?}");
    check_coverage(&format!("ε × {FACTOR}"), &rows, &truth);
    print_township_widths(&format!("ε × {FACTOR}"), &rows, &truth);

    check_separated_pairs(&rows, &truth);
    check_heavy_above_light(&sim, &rows, &truth);
}

/// Every pair of township (or app) cells whose intervals are disjoint is in the true order.
fn check_separated_pairs(rows: &[IndexRow], truth: &HashMap<Key, f64>) {
    let indices: Vec<String> = rows
        .iter()
        .map(|r| r.index.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut report = BTreeMap::new();
    let mut wrong_pairs = Vec::new();
    for index in indices.iter().filter(|i| *i != "active_workers") {
        for level in ["unit", "app"] {
            let (mut pairs, mut separated, mut wrong) = (0, 0, 0);
            for week in WEEKS {
                let cs = cells(rows, index, week, level);
                for a in &cs {
                    for b in &cs {
                        let (Some(ta), Some(tb)) = (
                            truth_of(truth, index, week, level, a.0),
                            truth_of(truth, index, week, level, b.0),
                        ) else {
                            continue;
                        };
                        if a.0 >= b.0 {
                            continue;
                        }
                        pairs += 1;
                        let (hi, lo, t_hi, t_lo) = if a.2 > b.3 {
                            (a, b, ta, tb)
                        } else if b.2 > a.3 {
                            (b, a, tb, ta)
                        } else {
                            continue;
                        };
                        separated += 1;
                        if t_hi < t_lo {
                            wrong += 1;
                            wrong_pairs.push(format!("{index} {week} {level}: {} {:?} above {} {:?}, truth {t_hi} < {t_lo}", hi.0, hi, lo.0, lo));
                        }
                    }
                }
            }
            report.insert((index.clone(), level), (pairs, separated, wrong));
        }
    }
    for ((index, level), (pairs, separated, wrong)) in &report {
        println!(
            "ordering {index} {level}: {separated} of {pairs} pairs separated, {wrong} against the truth"
        );
    }
    let separated: usize = report.values().map(|v| v.1).sum();
    let wrong: usize = report.values().map(|v| v.2).sum();
    assert!(
        wrong * 100 <= separated,
        "{wrong} of {separated} separated pairs are out of order:\n{}",
        wrong_pairs.join("\n")
    );
    // Counts and per-worker sums tell many townships apart; shares with their own noisy
    // denominators and the burden index (evaluated at its components' interval ends) do not.
    for index in [
        "checkin_minutes_per_worker",
        "proof_uploads_per_worker",
        "rankings_published",
    ] {
        let (pairs, separated, _) = report[&(index.to_string(), "unit")];
        assert!(
            separated * 10 >= pairs,
            "{index}: only {separated} of {pairs} township pairs are told apart"
        );
    }
}

/// Heavy townships above light ones on the burden index; data-barrier townships above the
/// others on the duplicate-entry rate.
fn check_heavy_above_light(
    sim: &fingertip_tests::pipelines::Simulated,
    rows: &[IndexRow],
    truth: &HashMap<Key, f64>,
) {
    let townships: HashMap<String, &fingertip_sim::Township> = sim
        .pop
        .org
        .townships
        .iter()
        .map(|t| (t.unit.code.to_string(), t))
        .collect();
    for week in WEEKS {
        let burden = cells(rows, "burden_index", week, "unit");
        let of = |tier: Tier| {
            burden
                .iter()
                .filter(|c| townships[c.0].profile.tier == tier)
                .collect::<Vec<_>>()
        };
        let (heavy, light) = (of(Tier::Heavy), of(Tier::Light));
        let (mut right, mut right_truth, mut pairs) = (0, 0, 0);
        for h in &heavy {
            for l in &light {
                pairs += 1;
                right += usize::from(h.1 > l.1);
                let t =
                    |k: &str| truth_of(truth, "burden_index", week, "unit", k).unwrap_or(f64::NAN);
                right_truth += usize::from(t(h.0) > t(l.0));
            }
        }
        let mean = |v: &[&(&str, f64, f64, f64)]| {
            v.iter().map(|c| c.1).sum::<f64>() / v.len().max(1) as f64
        };
        println!(
            "{week}: burden index, {} heavy townships (mean {:.1}) vs {} light (mean {:.1}): {right} of {pairs} pairs ranked heavy first ({right_truth} in truth)",
            heavy.len(),
            mean(&heavy),
            light.len(),
            mean(&light)
        );
        assert!(
            heavy.len() >= 5 && light.len() >= 5,
            "{week}: too few published heavy/light townships"
        );
        assert!(
            right as f64 >= 0.9 * pairs as f64,
            "{week}: only {right} of {pairs} heavy/light pairs ranked heavy first"
        );

        let dup = cells(rows, "duplicate_entry_rate", week, "unit");
        let (barrier, open): (Vec<_>, Vec<_>) = dup
            .iter()
            .partition(|c| townships[c.0].profile.data_barrier);
        let (mb, mo) = (mean(&barrier), mean(&open));
        println!(
            "{week}: duplicate-entry rate, {} townships with a data barrier (mean {mb:.3}) vs {} without (mean {mo:.3})",
            barrier.len(),
            open.len()
        );
        assert!(mb > mo + 0.3, "{week}: barrier {mb} vs open {mo}");
    }
}
