//! Random SQL against invariants that do not trust the guard (see `fuzz.rs`). The golden
//! `.slt` files of the engine run in the `slt` test binary (`tests/tests/slt`).

use fingertip_tests::fixtures::{golden_population, query_engine, write_lake};

mod fuzz;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_queries_never_fail_or_depend_on_persons() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let population = golden_population();
    let mut reversed = population.clone();
    reversed.reverse();
    write_lake(a.path(), &population).unwrap();
    write_lake(b.path(), &reversed).unwrap();
    let a = query_engine(a.path(), 1e9).without_noise();
    let b = query_engine(b.path(), 1e9).without_noise();
    let (cases, accepted, failures) = fuzz::run(&a, &b).await;
    eprintln!("guard fuzzing: {cases} queries, {accepted} answered");
    assert!(
        accepted * 20 >= cases,
        "only {accepted} of {cases} fuzzed queries were answered"
    );
    assert!(
        failures.is_empty(),
        "{} fuzz failure(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
