//! The sqllogictest files of the DP engine (`tests/sql/*.slt`) and of the pipelines
//! (`tests/sql/pipelines/*.slt`), run by the `sqllogictest` crate with the test-only no-noise
//! strategy, so every expected row is the exact bounded value a release would centre its noise
//! on.
//!
//! ```text
//! cargo test -p fingertip-tests --test slt                 # run every file
//! cargo test -p fingertip-tests --test slt -- side_doors   # files whose path contains a word
//! cargo test -p fingertip-tests --test slt -- --complete   # rewrite the expected results
//! ```
//!
//! Besides SQL, the files use a few statements of this harness (never of the engine):
//! `SET epsilon=… delta=… max_groups=… max_rows=… bound=NAME:LO:HI` (the request of the
//! queries that follow), `SHOW LAST SPEND` (the ledger's last charge: ε, δ, key epochs), and in
//! pipeline files `RUN PIPELINES` (the shipped pipelines over a simulated population; its rows
//! become the table `indices`). A refusal is `statement error \[code\]`; a refusal that charged
//! the ledger fails whatever its code.
//!
//! `--complete` rewrites results, never refusals: review its diff like code.

mod cells;
mod pipelines_db;
mod query_db;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sqllogictest::{DB, DefaultColumnType, Runner, default_normalizer};

/// At least this many refusals must be tested (`statement error`), so a file that loses its
/// adversarial queries fails.
const MIN_REFUSALS: usize = 40;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let complete = args.iter().any(|a| a == "--complete");
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let files: Vec<PathBuf> = slt_files()
        .into_iter()
        .filter(|f| {
            filters.is_empty()
                || filters
                    .iter()
                    .any(|w| f.to_string_lossy().contains(w.as_str()))
        })
        .collect();
    let mut failures = Vec::new();
    for file in &files {
        let outcome = if file.parent().is_some_and(|d| d.ends_with("pipelines")) {
            run(file, complete, pipelines_db::PipelinesDb::new)
        } else {
            run(file, complete, query_db::QueryDb::new)
        };
        match outcome {
            Ok(()) => println!("ok       {}", file.display()),
            Err(e) => {
                println!("FAILED   {}", file.display());
                failures.push(format!("{}:\n{e}", file.display()));
            }
        }
    }
    if filters.is_empty() && !complete {
        let refusals = count_refusals(&files);
        if refusals < MIN_REFUSALS {
            failures.push(format!(
                "only {refusals} refusals tested (at least {MIN_REFUSALS})"
            ));
        }
    }
    println!("\n{} file(s), {} failed", files.len(), failures.len());
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("\n{}", failures.join("\n\n"));
        ExitCode::FAILURE
    }
}

/// Every `.slt` file under `tests/sql`, sorted.
fn slt_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("tests/sql") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "slt") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn count_refusals(files: &[PathBuf]) -> usize {
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
        .map(|text| text.matches("statement error").count())
        .sum()
}

/// Runs (or with `complete`, rewrites) one file against a fresh database made by `make`.
fn run<D, F>(file: &Path, complete: bool, make: F) -> Result<(), String>
where
    D: DB<ColumnType = DefaultColumnType> + Send + 'static,
    F: Fn() -> D + Send + 'static,
{
    let mut runner = Runner::new(move || {
        let db = make();
        async move { Ok(db) }
    });
    runner.with_validator(cells::close_enough);
    runner.with_column_validator(same_types);
    if complete {
        let update = runner.update_test_file(
            file,
            " ",
            cells::close_enough,
            default_normalizer,
            same_types,
        );
        futures::executor::block_on(update).map_err(|e| e.to_string())
    } else {
        runner
            .run_file(file)
            .map_err(|e| e.display(false).to_string())
    }
}

/// The column types (`query TIR`) must be the answer's.
fn same_types(actual: &Vec<DefaultColumnType>, expected: &Vec<DefaultColumnType>) -> bool {
    actual == expected
}
