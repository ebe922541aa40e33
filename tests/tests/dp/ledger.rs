//! The privacy budget ledger under concurrency and crashes: every spend is appended and
//! fsynced before its answer is returned, concurrent queries (threads or processes) cannot
//! overspend, a refused query spends nothing, a crash never loses a spend whose answer was
//! seen, a torn last line is cut rather than fatal, and a query spanning several key epochs is
//! charged in each of them.
//!
//! The process tests run the real `fingertip` binary (`cargo build -p fingertip` first).

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use fingertip_dp::accounting::Accounting;
use fingertip_dp::{BudgetConfig, Ledger, LedgerError, Spend};
use fingertip_tests::fixtures::{Event, ms, write_lake};
use fingertip_tests::server::fingertip_bin;
use fingertip_tests::stats::SplitMix;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// In-process: many threads, one data directory.
// ---------------------------------------------------------------------------------------------

fn spend(who: &str, n: usize, epsilon: f64, epochs: &[&str]) -> Spend {
    Spend::new(
        who,
        format!("{who}-{n}"),
        "events",
        epochs.iter().map(|e| e.to_string()).collect(),
        epsilon,
        0.0,
        "concurrent",
    )
}

#[test]
fn concurrent_charges_from_threads_never_overspend() {
    const THREADS: usize = 16;
    const K: usize = 7;
    const EPS: f64 = 0.1;
    let dir = tempfile::tempdir().unwrap();
    // ε = 0.1 does not add up exactly in floating point: 7 × 0.1 must still fit in 0.7.
    let config = BudgetConfig {
        epsilon_total: 0.7,
        delta_total: 1e-4,
        accounting: Accounting::Pure,
    };
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (data, config, barrier) =
                (dir.path().to_path_buf(), config.clone(), barrier.clone());
            std::thread::spawn(move || {
                // Each thread has its own handle, as separate processes would.
                let ledger = Ledger::open(&data, &config).unwrap();
                barrier.wait();
                let mut won = 0;
                for n in 0.. {
                    match ledger.charge(spend(&format!("t{t}"), n, EPS, &["2026Q4"])) {
                        Ok(()) => {
                            // Durable before return: the spend is in the file already.
                            let text =
                                std::fs::read_to_string(data.join("ledger/ledger.jsonl")).unwrap();
                            assert!(
                                text.contains(&format!("\"t{t}-{n}\"")),
                                "a charge returned before its spend was written"
                            );
                            won += 1;
                        }
                        Err(LedgerError::Insufficient { .. }) => break,
                        Err(e) => panic!("thread {t}: {e}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let ledger = Ledger::open(dir.path(), &config).unwrap();
    let status = ledger.status("events", &[]).unwrap();
    println!(
        "{THREADS} threads: {won} charges of ε={EPS} succeeded; status {:?}",
        status.epochs
    );
    assert_eq!(won, K, "exactly {K} charges fit");
    assert_eq!(status.epochs.len(), 1);
    assert_eq!(status.epochs[0].spends, K);
    assert!((status.epochs[0].epsilon_spent - K as f64 * EPS).abs() < 1e-9);
    assert_eq!(ledger.spends().unwrap().len(), K);
    let lines = std::fs::read_to_string(dir.path().join("ledger/ledger.jsonl"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(lines, K, "one line per spend, nothing else");
}

#[test]
fn concurrent_multi_epoch_charges_are_all_or_nothing() {
    // Half the threads charge 2026Q3 and 2026Q4 together, half only 2026Q4, until refused.
    // 2026Q3 has ε 0.5, 2026Q4 has 1.0: the two-epoch spends stop at 2026Q3's total, and the
    // others then fill 2026Q4 to exactly its total.
    const THREADS: usize = 12;
    let dir = tempfile::tempdir().unwrap();
    let config = BudgetConfig {
        epsilon_total: 1.0,
        delta_total: 1e-4,
        accounting: Accounting::Pure,
    };
    Ledger::open(dir.path(), &config)
        .unwrap()
        .set_total("events", Some("2026Q3"), 0.5, None)
        .unwrap();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (data, config, barrier) =
                (dir.path().to_path_buf(), config.clone(), barrier.clone());
            std::thread::spawn(move || {
                let ledger = Ledger::open(&data, &config).unwrap();
                let epochs: &[&str] = if t % 2 == 0 {
                    &["2026Q3", "2026Q4"]
                } else {
                    &["2026Q4"]
                };
                barrier.wait();
                let mut won = 0;
                for n in 0.. {
                    match ledger.charge(spend(&format!("t{t}"), n, 0.1, epochs)) {
                        Ok(()) => won += 1,
                        Err(LedgerError::Insufficient { .. }) => break,
                        Err(e) => panic!("thread {t}: {e}"),
                    }
                }
                (epochs.len(), won)
            })
        })
        .collect();
    let results: Vec<(usize, usize)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let both: usize = results.iter().filter(|r| r.0 == 2).map(|r| r.1).sum();
    let q4_only: usize = results.iter().filter(|r| r.0 == 1).map(|r| r.1).sum();
    let status = Ledger::open(dir.path(), &config)
        .unwrap()
        .status("events", &[])
        .unwrap();
    let by_epoch = |e: &str| status.epochs.iter().find(|b| b.epoch == e).unwrap().clone();
    let (q3, q4) = (by_epoch("2026Q3"), by_epoch("2026Q4"));
    println!(
        "two-epoch spends {both}, 2026Q4-only spends {q4_only}; 2026Q3 spent {} of 0.5, 2026Q4 spent {} of 1.0",
        q3.epsilon_spent, q4.epsilon_spent
    );
    assert!(
        q3.epsilon_spent <= 0.5 + 1e-9 && q4.epsilon_spent <= 1.0 + 1e-9,
        "overspent"
    );
    assert_eq!(
        q3.spends, both,
        "every two-epoch spend is charged in 2026Q3"
    );
    assert_eq!(q4.spends, both + q4_only, "and in 2026Q4");
    assert_eq!(both + q4_only, 10, "2026Q4 is filled to exactly its total");
    assert!(both <= 5);
}

// ---------------------------------------------------------------------------------------------
// The real binary: several processes, crashes, refusals, epochs.
// ---------------------------------------------------------------------------------------------

/// A small lake: 40 workers in two org units, check-ins in October 2026 (2026Q4) and, when
/// `with_q3`, also in late September 2026 (2026Q3).
fn lake(data: &Path, with_q3: bool) {
    let mut events = Vec::new();
    for p in 0..40 {
        let unit = if p < 25 { "u1" } else { "u2" };
        for d in 0..5 {
            events.push(Event::new(
                &format!("P{p:03}"),
                "attendance",
                unit,
                "check_in",
                ms("2026-10-05T08:00:00Z") + d * 86_400_000,
                60.0,
            ));
            if with_q3 {
                events.push(Event::new(
                    &format!("P{p:03}"),
                    "attendance",
                    unit,
                    "check_in",
                    ms("2026-09-21T08:00:00Z") + d * 86_400_000,
                    60.0,
                ));
            }
        }
    }
    write_lake(data, &events).unwrap();
    // These tests count ε exactly: basic composition (zCDP is unit-tested in fingertip-dp).
    std::fs::write(
        data.join("fingertip.toml"),
        "[budget]\naccounting = \"pure\"\n",
    )
    .unwrap();
}

const SQL: &str = "SELECT org_unit, COUNT(*) AS n FROM events GROUP BY org_unit ORDER BY org_unit";

/// `fingertip query SQL --epsilon EPS` with fixed bounds (nothing to estimate), JSON output.
fn query_command(data: &Path, sql: &str, epsilon: f64, principal: &str) -> Command {
    let mut cmd = Command::new(fingertip_bin());
    cmd.args([
        "query",
        "--data",
        data.to_str().unwrap(),
        "--format",
        "json",
        "--max-groups",
        "1",
        "--max-rows",
        "10",
        "--principal",
        principal,
    ])
    .arg("--epsilon")
    .arg(epsilon.to_string())
    .arg(sql)
    .env("RUST_LOG", "warn")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `fingertip budget --format json`, parsed; panics unless it succeeds.
fn budget(data: &Path) -> Value {
    let out = Command::new(fingertip_bin())
        .args([
            "budget",
            "--data",
            data.to_str().unwrap(),
            "--format",
            "json",
        ])
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "fingertip budget failed: {stderr}");
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("fingertip budget printed no JSON ({e}): {stdout}"))
}

fn set_total(data: &Path, total: f64, epoch: Option<&str>) {
    let mut cmd = Command::new(fingertip_bin());
    cmd.args([
        "budget",
        "--data",
        data.to_str().unwrap(),
        "--set-total",
        &total.to_string(),
    ])
    .env("RUST_LOG", "warn");
    if let Some(e) = epoch {
        cmd.args(["--epoch", e]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "fingertip budget --set-total failed: {}",
        text(&out).1
    );
}

/// (ε spent, spends) of `epoch` in a `fingertip budget --format json` status.
fn epoch_spent(status: &Value, epoch: &str) -> (f64, u64) {
    status["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["epoch"] == epoch)
        .map_or((0.0, 0), |e| {
            (
                e["epsilon_spent"].as_f64().unwrap(),
                e["spends"].as_u64().unwrap(),
            )
        })
}

fn total_spends(status: &Value) -> u64 {
    status["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["spends"].as_u64().unwrap())
        .max()
        .unwrap_or(0)
}

#[test]
fn concurrent_processes_never_overspend() {
    const PROCESSES: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    lake(data, false);
    set_total(data, 3.0, None);
    let children: Vec<Child> = (0..PROCESSES)
        .map(|i| {
            query_command(data, SQL, 1.0, &format!("proc-{i}"))
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let mut answered = 0;
    for (i, out) in outputs.iter().enumerate() {
        let (stdout, stderr) = text(out);
        if out.status.success() {
            let answer: Value = serde_json::from_str(&stdout)
                .unwrap_or_else(|e| panic!("process {i}: no JSON answer ({e}): {stdout}"));
            assert_eq!(answer["epsilon_spent"], 1.0);
            answered += 1;
        } else {
            assert_eq!(out.status.code(), Some(2), "process {i}: {stderr}");
            assert!(
                stderr.contains("budget_exhausted"),
                "process {i} failed for another reason: {stderr}"
            );
            assert!(
                stdout.trim().is_empty(),
                "process {i} printed an answer it did not pay for: {stdout}"
            );
        }
    }
    let status = budget(data);
    println!(
        "{PROCESSES} processes, budget for 3: {answered} answered; ledger {}",
        status["epochs"]
    );
    assert_eq!(answered, 3, "exactly 3 processes fit in the budget");
    assert_eq!(epoch_spent(&status, "2026Q4"), (3.0, 3));
}

#[test]
fn killed_processes_never_lose_a_spend_whose_answer_was_seen() {
    const ROUNDS: usize = 20;
    const PER_ROUND: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    lake(data, false);
    set_total(data, 1000.0, None);

    // How long one query takes here, to kill processes anywhere from start-up to exit.
    let started = Instant::now();
    let out = query_command(data, SQL, 0.1, "calibrate").output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let typical = started.elapsed();
    let mut rng = SplitMix::from_time();
    println!(
        "one query takes {typical:?}; kill schedule seed {:#x}",
        rng.0
    );

    let mut answered = Vec::new();
    let mut killed = 0;
    let mut principals = vec!["calibrate".to_string()];
    for round in 0..ROUNDS {
        // The first process of a round is never killed (it is waited for after the others),
        // so some answers are always seen however slow a loaded machine makes a query.
        let mut running: Vec<(String, Child, Option<Duration>)> = (0..PER_ROUND)
            .map(|i| {
                let who = format!("crash-{round}-{i}");
                let child = query_command(data, SQL, 0.1, &who).spawn().unwrap();
                let at = Duration::from_micros(rng.below(typical.as_micros() as u64 * 13 / 10));
                (who, child, (i > 0).then_some(at))
            })
            .collect();
        let t0 = Instant::now();
        running.sort_by_key(|r| r.2.map_or(Duration::MAX, |at| at));
        for (who, mut child, at) in running {
            if let Some(at) = at {
                if let Some(rest) = at.checked_sub(t0.elapsed()) {
                    std::thread::sleep(rest);
                }
                let _ = child.kill(); // SIGKILL, unless it has exited already
            }
            let out = child.wait_with_output().unwrap();
            let (stdout, _) = text(&out);
            // An answer is "seen" when it reached stdout, whatever happened next.
            if out.status.success() || stdout.contains("\"epsilon_spent\"") {
                answered.push(who.clone());
            } else {
                killed += 1;
            }
            principals.push(who);
        }
    }

    // The ledger still parses, holds every spend whose answer was seen, and nothing else.
    let status = budget(data);
    let epoch = status["epochs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["epoch"] == "2026Q4")
        .expect("2026Q4")
        .clone();
    let payers: Vec<&String> = epoch["by_principal"].as_object().unwrap().keys().collect();
    let spends = epoch["spends"].as_u64().unwrap() as usize;
    println!(
        "{} processes: {} answered, {killed} killed first; the ledger holds {spends} spends (with the calibration run's), so {} spends paid for answers never seen",
        ROUNDS * PER_ROUND,
        answered.len(),
        spends.saturating_sub(answered.len() + 1)
    );
    for who in &answered {
        assert!(
            payers.contains(&who),
            "{who} printed an answer but its spend is not in the ledger"
        );
    }
    assert!(
        spends > answered.len(),
        "≥ every answered query, plus the calibration"
    );
    assert!(
        killed > 0 && !answered.is_empty(),
        "the schedule should both kill and spare processes"
    );
    assert!(
        payers.iter().all(|p| principals.contains(p)),
        "a spend nobody made: {payers:?}"
    );

    // A crash in the middle of an append leaves a torn last line: cut, not fatal.
    let path = data.join("ledger/ledger.jsonl");
    let mut before = std::fs::read_to_string(&path).unwrap();
    before.truncate(before.rfind('\n').map_or(0, |i| i + 1)); // (in case a kill tore a line)
    let lines = before.lines().count();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, b"0badc0de {\"kind\":\"spend\",\"time\":\"2026-")
        })
        .unwrap();
    assert_eq!(
        total_spends(&budget(data)),
        total_spends(&status),
        "a torn tail is ignored when reading"
    );
    let out = query_command(data, SQL, 0.1, "after-crash")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "a torn tail must not stop spending: {}",
        text(&out).1
    );
    let after = std::fs::read_to_string(&path).unwrap();
    assert!(after.starts_with(&before), "earlier spends are untouched");
    assert_eq!(
        after.lines().count(),
        lines + 1,
        "the torn line was cut and the new spend appended"
    );
    assert!(!after.contains("0badc0de"));
    assert!(after.ends_with('\n'));
    assert_eq!(total_spends(&budget(data)), total_spends(&status) + 1);
}

#[test]
fn refused_queries_spend_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    lake(data, false);
    let refused = [
        ("SELECT person FROM events", 1.0),
        ("SELECT person, COUNT(*) FROM events GROUP BY person", 1.0),
        (
            "SELECT org_unit, MIN(person) FROM events GROUP BY org_unit",
            1.0,
        ),
        ("SELEC org_unit FROM events", 1.0),
        (SQL, 0.0),
        (SQL, 1e9),
        (SQL, 1e-9),
        (SQL, 1e-300),
    ];
    for (sql, epsilon) in refused {
        let out = query_command(data, sql, epsilon, "refused")
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{sql} (ε={epsilon}) was not refused: {stdout}{stderr}"
        );
        assert!(stderr.starts_with("refused ("), "{sql}: {stderr}");
        println!(
            "{sql} (ε={epsilon}): {}",
            stderr.lines().next().unwrap_or("")
        );
    }
    let status = budget(data);
    assert_eq!(
        total_spends(&status),
        0,
        "refused queries spent budget: {status}"
    );
    let ledger = std::fs::read_to_string(data.join("ledger/ledger.jsonl")).unwrap_or_default();
    assert!(!ledger.contains("\"spend\""), "{ledger}");

    // A query refused for lack of budget spends nothing either.
    set_total(data, 0.5, None);
    let out = query_command(data, SQL, 1.0, "too-much").output().unwrap();
    assert!(
        text(&out).1.contains("budget_exhausted"),
        "{}",
        text(&out).1
    );
    assert_eq!(total_spends(&budget(data)), 0);
    let out = query_command(data, SQL, 0.5, "fits").output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    assert_eq!(epoch_spent(&budget(data), "2026Q4"), (0.5, 1));

    // The red team's case: with the budget gone (here: set to 0), no spend runs, however
    // small — neither below the per-query minimum nor at it.
    set_total(data, 0.0, None);
    for epsilon in [1e-9, 1e-6, 0.001] {
        let out = query_command(data, SQL, epsilon, "tiny").output().unwrap();
        let stderr = text(&out).1;
        assert_eq!(out.status.code(), Some(2), "ε={epsilon} ran: {stderr}");
        assert!(
            stderr.contains("budget_exhausted") || stderr.contains("epsilon_out_of_range"),
            "ε={epsilon}: {stderr}"
        );
    }
    assert_eq!(epoch_spent(&budget(data), "2026Q4"), (0.5, 1));
}

#[test]
fn queries_spanning_two_key_epochs_are_charged_in_both() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    lake(data, true);
    // No time filter: the query reads 2026Q3 and 2026Q4 and pays in both.
    let out = query_command(data, SQL, 0.5, "both").output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["epochs"], serde_json::json!(["2026Q3", "2026Q4"]));
    let status = budget(data);
    println!("after an unfiltered query: {}", status["epochs"]);
    assert_eq!(epoch_spent(&status, "2026Q3"), (0.5, 1));
    assert_eq!(epoch_spent(&status, "2026Q4"), (0.5, 1));

    // Filtered to October: only 2026Q4.
    let sql = "SELECT org_unit, COUNT(*) AS n FROM events WHERE started_at >= '2026-10-01' GROUP BY org_unit";
    let out = query_command(data, sql, 0.25, "q4").output().unwrap();
    assert!(out.status.success(), "{}", text(&out).1);
    let status = budget(data);
    assert_eq!(epoch_spent(&status, "2026Q3"), (0.5, 1));
    assert_eq!(epoch_spent(&status, "2026Q4"), (0.75, 2));

    // All or nothing: when 2026Q3 cannot pay, an unfiltered query is refused and 2026Q4 is not
    // charged either.
    set_total(data, 0.5, Some("2026Q3"));
    let out = query_command(data, SQL, 0.1, "refused").output().unwrap();
    let stderr = text(&out).1;
    assert!(
        stderr.contains("budget_exhausted") && stderr.contains("2026Q3"),
        "{stderr}"
    );
    let status = budget(data);
    println!("after a refused two-epoch query: {}", status["epochs"]);
    assert_eq!(epoch_spent(&status, "2026Q3"), (0.5, 1));
    assert_eq!(epoch_spent(&status, "2026Q4"), (0.75, 2));
}
