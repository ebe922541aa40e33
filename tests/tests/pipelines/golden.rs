//! Exact golden answers of the shipped pipelines, with the test-only no-noise strategy: every
//! index, week, app and org unit of a fixed simulated population (400 staff, two weeks), its
//! value and interval bounds, pinned in `tests/golden/pipelines.csv`. A change to bounding,
//! clamping, suppression, interval maths or the SQL of a pipeline shows up here as a diff.
//!
//! The same population is written twice, into data directories with different keys, so every
//! pseudonym differs: the answers must agree (no released value depends on who is who). Values
//! are compared to a relative 1e-5: a person's contributions are scaled by a float sum whose
//! order varies between runs, which moves a sum by a fixed-point step (~1e-6 of its bound).
//!
//! `FINGERTIP_BLESS=1 cargo test -p fingertip-tests --test pipelines golden` rewrites the file
//! after a deliberate change; review its diff like code.

use std::fmt::Write;

use fingertip_dp::Noise;
use fingertip_pipelines::IndexRow;
use fingertip_tests::pipelines::{WEEKS, repo_root, run, runner, simulate};

const GOLDEN: &str = "tests/golden/pipelines.csv";
const WORKERS: u32 = 400;
const SEED: u64 = 45;

/// One run of the shipped pipelines over [`WEEKS`] without noise, on a fresh data directory.
fn exact_rows() -> Vec<IndexRow> {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let sim = simulate(&data, WORKERS, WEEKS.len() as u32, SEED);
    let runner = runner(&data, sim.domain(), 1e6).with_noise(Noise::NoNoise);
    let (rows, _) = run(&runner, &tmp.path().join("out"), &WEEKS, None).expect("pipeline run");
    rows
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
fn the_shipped_pipelines_give_their_golden_exact_answers() {
    let first = render(&exact_rows());
    let second = render(&exact_rows());
    if let Err(diff) = agree(&first, &second) {
        panic!("the same population under other pseudonyms gave other answers:\n{diff}");
    }
    let path = repo_root().join(GOLDEN);
    if std::env::var_os("FINGERTIP_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &first).unwrap();
        println!("wrote {}", path.display());
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    if let Err(diff) = agree(&golden, &first) {
        panic!(
            "{GOLDEN} differs from this run; if the change is deliberate, FINGERTIP_BLESS=1 \
             rewrites it:\n{diff}"
        );
    }
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
