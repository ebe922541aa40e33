//! SQL golden tests in the style of sqllogictest: `tests/sql/*.slt`.
//!
//! ```text
//! query epsilon=1 max_groups=1 max_rows=10 bound=secs:0:600
//! SELECT ...
//! ----
//! org_unit | n
//! u1 | 300
//! ledger epsilon=1 delta=0.000001 epochs=2026Q4
//!
//! refused person_column
//! SELECT person, COUNT(*) FROM events GROUP BY person
//! ```
//!
//! Accepted queries run with the test-only no-noise strategy, so the expected rows are the
//! exact bounded values; refused queries must fail with the given code and spend nothing.
//! `FINGERTIP_SLT_COMPLETE=1 cargo test --test dp sql_golden` rewrites the expectations.

use std::path::{Path, PathBuf};

use fingertip_dp::Ledger;
use fingertip_query::{Answer, BoundsRequest, Engine, QueryRequest};
use fingertip_tests::fixtures::{GOLDEN_ORG_UNITS, golden_population, query_engine, write_lake};
use serde_json::Value;

#[derive(Debug)]
enum Block {
    Query {
        header: String,
        sql: String,
        expected: Vec<String>,
    },
    Refused {
        code: String,
        header: String,
        sql: String,
    },
    /// Must be answered (not fail), whatever the rows.
    Answered { header: String, sql: String },
}

fn parse(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    for chunk in text.split("\n\n") {
        let lines: Vec<&str> = chunk.lines().filter(|l| !l.starts_with('#')).collect();
        let Some((head, rest)) = lines.split_first() else {
            continue;
        };
        if let Some(spec) = head.strip_prefix("refused ") {
            let mut words = spec.split_whitespace();
            let code = words.next().unwrap_or_default().to_string();
            blocks.push(Block::Refused {
                code,
                header: format!("refused {}", words.collect::<Vec<_>>().join(" ")),
                sql: rest.join("\n"),
            });
        } else if head.starts_with("answered") {
            blocks.push(Block::Answered {
                header: head.to_string(),
                sql: rest.join("\n"),
            });
        } else if head.starts_with("query") {
            let split = rest.iter().position(|l| *l == "----").unwrap_or(rest.len());
            let expected = rest
                .get(split + 1..)
                .unwrap_or_default()
                .iter()
                .map(|s| s.to_string())
                .collect();
            blocks.push(Block::Query {
                header: head.to_string(),
                sql: rest[..split].join("\n"),
                expected,
            });
        } else {
            panic!("unknown block starting with {head:?}");
        }
    }
    blocks
}

fn request(header: &str, sql: &str) -> QueryRequest {
    let mut req = QueryRequest {
        sql: sql.into(),
        epsilon: 1.0,
        delta: None,
        bounds: BoundsRequest::default(),
    };
    for option in header.split_whitespace().skip(1) {
        let (k, v) = option.split_once('=').expect("option=value");
        match k {
            "epsilon" => req.epsilon = v.parse().unwrap(),
            "delta" => req.delta = Some(v.parse().unwrap()),
            "max_groups" => req.bounds.max_groups = Some(v.parse().unwrap()),
            "max_rows" => req.bounds.max_rows = Some(v.parse().unwrap()),
            "bound" => {
                let mut parts = v.split(':');
                let name = parts.next().unwrap().to_string();
                let lo = parts.next().unwrap().parse().unwrap();
                let hi = parts.next().unwrap().parse().unwrap();
                req.bounds.columns.insert(name, [lo, hi]);
            }
            other => panic!("unknown option {other}"),
        }
    }
    req
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.fract() == 0.0 => format!("{}", x as i64),
            Some(x) => format!("{}", (x * 1000.0).round() / 1000.0),
            None => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn render(answer: &Answer, ledger: &Ledger) -> Vec<String> {
    let names: Vec<&str> = answer.columns.iter().map(|c| c.name.as_str()).collect();
    let mut out = vec![names.join(" | ")];
    for row in &answer.rows {
        out.push(
            names
                .iter()
                .map(|n| cell(&row[*n]))
                .collect::<Vec<_>>()
                .join(" | "),
        );
    }
    let spend = ledger.spends().unwrap().pop().expect("a spend");
    out.push(format!(
        "ledger epsilon={} delta={} epochs={}",
        spend.epsilon,
        spend.delta,
        spend.epochs.join(",")
    ));
    out
}

async fn engine(dir: &Path) -> Engine {
    write_lake(dir, &golden_population()).unwrap();
    std::fs::create_dir_all(dir.join("dimensions")).unwrap();
    std::fs::write(dir.join("dimensions/org_units.csv"), GOLDEN_ORG_UNITS).unwrap();
    query_engine(dir, 1000.0).without_noise()
}

async fn run_file(path: &Path, complete: bool) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine(dir.path()).await;
    let text = std::fs::read_to_string(path).unwrap();
    let mut failures = Vec::new();
    let mut rewritten = Vec::new();
    for block in parse(&text) {
        match block {
            Block::Query {
                header,
                sql,
                expected,
            } => {
                let actual = match engine.run("golden", &request(&header, &sql)).await {
                    Ok(answer) => render(&answer, engine.ledger()),
                    Err(e) => vec![format!("error {}: {e}", e.code())],
                };
                if actual != expected {
                    failures.push(format!(
                        "{}:\n{sql}\nexpected:\n{}\nactual:\n{}",
                        path.display(),
                        expected.join("\n"),
                        actual.join("\n")
                    ));
                }
                rewritten.push(format!("{header}\n{sql}\n----\n{}", actual.join("\n")));
            }
            Block::Answered { header, sql } => {
                if let Err(e) = engine.run("golden", &request(&header, &sql)).await {
                    failures.push(format!(
                        "{}: expected an answer, got {}: {e}\n{sql}",
                        path.display(),
                        e.code()
                    ));
                }
                rewritten.push(format!("{header}\n{sql}"));
            }
            Block::Refused { code, header, sql } => {
                let before = engine.ledger().spends().unwrap().len();
                let req = request(&header, &sql);
                let got = match engine.run("golden", &req).await {
                    Ok(_) => "accepted".to_string(),
                    Err(e) => e.code().to_string(),
                };
                if got != code {
                    failures.push(format!(
                        "{}: expected refusal {code}, got {got}:\n{sql}",
                        path.display()
                    ));
                }
                if engine.ledger().spends().unwrap().len() != before {
                    failures.push(format!(
                        "{}: a refused query spent budget:\n{sql}",
                        path.display()
                    ));
                }
                let options = header.strip_prefix("refused").unwrap_or_default();
                rewritten.push(format!("refused {code}{options}\n{sql}").replace(" \n", "\n"));
            }
        }
    }
    if complete {
        let comments: String = text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(path, format!("{comments}{}\n", rewritten.join("\n\n"))).unwrap();
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_golden_files() {
    let complete = std::env::var("FINGERTIP_SLT_COMPLETE").is_ok_and(|v| v == "1");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sql");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let mut refusals = 0;
    for f in &files {
        refusals += std::fs::read_to_string(f)
            .unwrap()
            .matches("\nrefused ")
            .count();
        failures.extend(run_file(f, complete).await);
    }
    assert!(refusals >= 40, "only {refusals} adversarial queries");
    assert!(
        failures.is_empty(),
        "{} golden failure(s):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

mod fuzz;

/// Random SQL against invariants that do not trust the guard (see `fuzz.rs`).
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
