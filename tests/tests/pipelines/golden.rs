//! The shipped pipelines with the test-only no-noise strategy over a fixed simulated population
//! (400 staff, two weeks), written twice into data directories with different keys, so every
//! pseudonym differs: the answers must agree (no released value depends on who is who). Values
//! are compared to a relative 1e-5: a person's contributions are scaled by a float sum whose
//! order varies between runs, which moves a sum by a fixed-point step (~1e-6 of its bound).
//! The exact answers themselves are pinned in `tests/sql/pipelines/shipped.slt`.

use std::fmt::Write;

use fingertip_anonymize::EpochScheme;
use fingertip_dp::{BudgetConfig, Ledger, Noise};
use fingertip_model::Catalog;
use fingertip_pipelines::{IndexRow, PipelineError, PipelinesConfig, Runner};
use fingertip_query::MemoryLimit;
use fingertip_tests::pipelines::{WEEKS, run, simulate};

const WORKERS: u32 = 400;
const SEED: u64 = 45;

/// One run of the shipped pipelines over [`WEEKS`] without noise, on a fresh data directory.
fn exact_rows() -> Vec<IndexRow> {
    exact_rows_within(MemoryLimit::default()).expect("pipeline run")
}

/// Like [`exact_rows`], with the session's memory pool limited to `limit`.
fn exact_rows_within(limit: MemoryLimit) -> Result<Vec<IndexRow>, PipelineError> {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let sim = simulate(&data, WORKERS, WEEKS.len() as u32, SEED);
    let budget = BudgetConfig {
        epsilon_total: 1e6,
        ..BudgetConfig::default()
    };
    let config = PipelinesConfig {
        memory_limit: limit,
        ..PipelinesConfig::default()
    };
    let ledger = Ledger::open(&data, &budget).expect("ledger");
    let catalog = Catalog::embedded();
    let runner = Runner::new(
        &data,
        config,
        catalog,
        ledger,
        EpochScheme::Quarter,
        sim.domain(),
    )
    .with_noise(Noise::NoNoise);
    Ok(run(&runner, &tmp.path().join("out"), &WEEKS, None)?.0)
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(String::new, |v| format!("{v:.6}"))
}

/// The rows as CSV, sorted by their key.
fn render(rows: &[IndexRow]) -> String {
    let mut rows: Vec<&IndexRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        (&a.index, &a.week, &a.app_id, &a.org_unit).cmp(&(
            &b.index,
            &b.week,
            &b.app_id,
            &b.org_unit,
        ))
    });
    let mut out =
        String::from("index,week,app_id,org_unit,value,ci_low,ci_high,epsilon,suppressed\n");
    for r in rows {
        let (v, lo, hi) = (num(r.value), num(r.ci_low), num(r.ci_high));
        let (index, week, app, unit, eps) = (&r.index, &r.week, &r.app_id, &r.org_unit, r.epsilon);
        writeln!(
            out,
            "{index},{week},{app},{unit},{v},{lo},{hi},{eps},{}",
            r.suppressed
        )
        .unwrap();
    }
    out
}

#[test]
fn the_shipped_pipelines_answer_the_same_under_other_pseudonyms() {
    let first = render(&exact_rows());
    let second = render(&exact_rows());
    if let Err(diff) = agree(&first, &second) {
        panic!("the same population under other pseudonyms gave other answers:\n{diff}");
    }
    assert!(first.lines().count() > 1000, "too few released rows");
}

/// The pipelines work inside their memory pool: under 16 MiB (far less than the run takes
/// without a limit) aggregations spill and the person stages stream to disk, and the answers
/// are the same; a pool too small for anything fails with a clear error, so the limit is
/// really applied.
#[test]
fn a_small_memory_pool_gives_the_same_answers() {
    let unlimited = render(&exact_rows());
    let limited = render(&exact_rows_within(MemoryLimit(16 << 20)).expect("run in 16 MiB"));
    if let Err(diff) = agree(&unlimited, &limited) {
        panic!("a 16 MiB pool changed the answers:\n{diff}");
    }
    let starved = exact_rows_within(MemoryLimit(1 << 10)).unwrap_err();
    assert!(
        starved.to_string().contains("Resources exhausted"),
        "a 1 KiB pool gave {starved}"
    );
}

/// Whether two renderings have the same rows, with numbers equal to a relative 1e-5; the
/// first differing rows (- a, + b) otherwise.
fn agree(a: &str, b: &str) -> Result<(), String> {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let close = |x: &str, y: &str| match (x.parse::<f64>(), y.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-5 * x.abs().max(y.abs()).max(0.1),
        _ => x == y,
    };
    let same = |x: &str, y: &str| {
        let (x, y): (Vec<&str>, Vec<&str>) = (x.split(',').collect(), y.split(',').collect());
        x.len() == y.len() && x.iter().zip(&y).all(|(x, y)| close(x, y))
    };
    let mut out = String::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or(""),
            b.get(i).copied().unwrap_or(""),
        );
        if !same(x, y) && out.lines().count() < 20 {
            out.push_str(&format!("- {x}\n+ {y}\n"));
        }
    }
    if out.is_empty() {
        Ok(())
    } else {
        Err(format!("{} rows vs {} rows\n{out}", a.len(), b.len()))
    }
}
