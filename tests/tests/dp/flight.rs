//! Arrow Flight SQL end to end: the real `fingertip serve --flight-listen` and the real Python
//! clients (ADBC's `adbc-driver-flightsql`, `pyarrow.flight`) in `tests/python/flight_sql.py`:
//! DP answers as Arrow and pandas with their noise metadata, refusals and budget errors as
//! gRPC statuses, tokens and roles, catalog browsing, one charge per statement and tickets
//! that cannot be replayed, and the same ledger charge as the CLI for the same query. The
//! researcher's example notebook (`examples/researcher_notebook.py`) runs too, so it stays
//! true.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fingertip_dp::{BudgetConfig, Ledger, Spend};
use fingertip_tests::fixtures::{Event, ms, write_lake};
use fingertip_tests::server::{Server, create_token, run, token_id, wait_until};
use serde_json::Value;

const QUERY: &str = "SELECT org_unit, COUNT(DISTINCT person) AS workers, SUM(duration_s) AS secs \
                     FROM events GROUP BY org_unit ORDER BY org_unit";

/// A lake of 2 org units × 150 workers × 5 check-ins, a budget of ε 4 (pure accounting, so
/// charges add up as plain ε), and a server with Flight SQL on a free port.
fn start() -> (tempfile::TempDir, Server, String) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut events = Vec::new();
    for p in 0..300 {
        for d in 0..5 {
            let unit = if p < 150 { "u1" } else { "u2" };
            let at = ms("2026-10-05T08:00:00Z") + d * 86_400_000;
            events.push(Event::new(
                &format!("P{p}"),
                "attendance",
                unit,
                "check_in",
                at,
                60.0,
            ));
        }
    }
    write_lake(&data, &events).unwrap();
    let config = "[budget]\nepsilon_total = 4.0\naccounting = \"pure\"\n";
    std::fs::write(data.join("fingertip.toml"), config).unwrap();
    let server = Server::start_with(&data, &[], |cmd| {
        cmd.args(["--flight-listen", "127.0.0.1:0"]);
    });
    let uri = flight_uri(&server);
    (tmp, server, uri)
}

/// `grpc://ADDRESS` from the server's `flight sql listening on ADDRESS` line.
fn flight_uri(server: &Server) -> String {
    let line = |s: String| {
        s.lines().find_map(|l| {
            l.strip_prefix("flight sql listening on ")
                .map(str::to_string)
        })
    };
    assert!(
        wait_until(Duration::from_secs(30), || line(server.stdout_text())
            .is_some()),
        "no Flight SQL address on stdout: {}\nlog: {}",
        server.stdout_text(),
        server.run_log()
    );
    format!("grpc://{}", line(server.stdout_text()).unwrap().trim())
}

/// `python3 SCRIPT ARGS`, which must succeed; its stdout.
fn python(script: &Path, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for the Flight SQL clients ({e})"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() != Some(2),
        "{stderr}\nThe Flight SQL tests need `pip install adbc-driver-flightsql pandas pyarrow` (scripts/test.sh installs them)."
    );
    assert!(
        out.status.success(),
        "{} failed: {stderr}",
        script.display()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn spends(data: &Path) -> Vec<Spend> {
    let config = BudgetConfig {
        epsilon_total: 4.0,
        accounting: fingertip_dp::accounting::Accounting::Pure,
        ..Default::default()
    };
    Ledger::open(data, &config).unwrap().spends().unwrap()
}

/// Asserts that a step failed with the gRPC `code` and a message naming `refusal`.
fn assert_refused(report: &Value, step: &str, code: &str, refusal: &str) {
    let r = &report[step];
    assert_eq!(r["grpc"], code, "{step}: {r}");
    let message = r["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(refusal),
        "{step}: `{refusal}` not in {message}"
    );
}

#[test]
fn flight_sql_answers_refuses_and_charges_like_the_cli() {
    let (tmp, server, uri) = start();
    let data = tmp.path().join("data");
    let researcher = create_token(&data, "researcher", None);
    let other = create_token(&data, "researcher", None);
    let app = create_token(&data, "app", Some("attendance"));
    let script = repo_file("tests/python/flight_sql.py");
    let stdout = python(&script, &[&uri, &researcher, &other, &app]);
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("flight_sql.py printed no JSON ({e}): {stdout}"));
    println!("{}", serde_json::to_string_pretty(&report).unwrap());

    check_answer(&report["query"]["ok"]);
    assert_refused(&report, "refused", "InvalidArgument", "person_column");
    assert_refused(
        &report,
        "over_budget",
        "FailedPrecondition",
        "budget_exhausted",
    );
    assert_refused(&report, "no_token", "Unauthenticated", "missing_token");
    assert_refused(&report, "bad_token", "Unauthenticated", "invalid_token");
    assert_refused(&report, "app_token", "PermissionDenied", "wrong_role");
    assert_refused(&report, "ingest", "PermissionDenied", "read_only");
    assert_refused(&report, "delete", "InvalidArgument", "not_a_query");
    check_catalog(&report["catalog"]["ok"]);
    check_tickets(&report["tickets"]["ok"]);

    let cli = [
        "query",
        "--data",
        data.to_str().unwrap(),
        "--epsilon",
        "1",
        "--max-groups",
        "1",
        "--max-rows",
        "10",
        "--bound",
        "secs=0:600",
        "--principal",
        "cli:flight-test",
        "--format",
        "json",
        QUERY,
    ];
    let (code, _, stderr) = run(&cli);
    assert_eq!(code, 0, "fingertip query failed: {stderr}");
    check_ledger(&spends(&data), token_id(&researcher), token_id(&other));
    assert_eq!(server.stop(), 0);
}

/// Arrow and pandas, with the release's metadata and an interval around every noisy value.
fn check_answer(a: &Value) {
    let columns = [
        "org_unit",
        "workers",
        "workers_ci_low",
        "workers_ci_high",
        "secs",
        "secs_ci_low",
        "secs_ci_high",
    ];
    assert_eq!(a["columns"], serde_json::json!(columns), "{a}");
    assert_eq!(a["pandas_columns"], a["columns"]);
    assert_eq!(
        (
            a["rows"].as_array().unwrap().len(),
            a["pandas_rows"].as_u64()
        ),
        (2, Some(2))
    );
    assert_eq!(a["intervals_hold"], true);
    let meta = &a["schema_metadata"];
    assert_eq!(meta["fingertip.epsilon_spent"], "1.0");
    assert!(
        meta["fingertip.delta_spent"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 0.0
    );
    assert_eq!(meta["fingertip.epochs"], "[\"2026Q4\"]");
    let workers = &a["fields"]["workers"];
    assert_eq!(workers["fingertip.kind"], "persons");
    assert!(!workers["fingertip.mechanism"].as_str().unwrap().is_empty());
    let scale: f64 = workers["fingertip.noise_scale"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(scale > 0.0);
    assert_eq!(a["fields"]["secs"]["fingertip.kind"], "sum");
    assert_eq!(a["fields"]["secs_ci_high"]["fingertip.interval_of"], "secs");
    assert_eq!(a["fields"]["org_unit"]["fingertip.kind"], "group_key");
}

/// `adbc_get_objects` and `adbc_get_table_schema` see `events` and the dimension tables.
fn check_catalog(c: &Value) {
    let events = &c["tables"]["events"];
    assert_eq!(events["type"], "TABLE", "{c}");
    for column in [
        "org_unit",
        "person",
        "event_type",
        "duration_s",
        "date",
        "app_id",
    ] {
        assert!(
            events["columns"]
                .as_array()
                .unwrap()
                .contains(&column.into()),
            "{column}: {c}"
        );
    }
    assert!(
        c["tables"]["event_catalog"]["columns"]
            .as_array()
            .unwrap()
            .contains(&"category".into())
    );
    assert!(
        c["events_schema"]
            .as_array()
            .unwrap()
            .contains(&"started_at".into())
    );
    assert_eq!(c["vendor"], "Fingertip");
}

/// A ticket serves its answer once, and only to the token that ran the statement.
fn check_tickets(t: &Value) {
    assert_eq!(t["schema_epsilon"], "0.1", "the default ε: {t}");
    assert_eq!(t["total_records"], 1);
    assert_eq!(t["other_token"]["grpc"], "NotFound", "{t}");
    assert_eq!(t["owner"]["ok"], 1, "{t}");
    assert_eq!(t["owner_again"]["grpc"], "NotFound", "{t}");
}

/// Each executed statement is charged once (the ADBC query ran twice: Arrow, then pandas; the
/// raw statement once, however often its ticket was presented), nothing else was charged,
/// and a Flight statement costs what the same CLI query costs.
fn check_ledger(spends: &[Spend], researcher: &str, other: &str) {
    let of = |who: &str| -> Vec<&Spend> { spends.iter().filter(|s| s.principal == who).collect() };
    let flight = of(researcher);
    let cli = of("cli:flight-test");
    assert!(
        of(other).is_empty(),
        "a ticket fetched by another token charged it"
    );
    assert_eq!(cli.len(), 1);
    let same = |s: &&&Spend| s.fingerprint == cli[0].fingerprint;
    assert_eq!(flight.iter().filter(same).count(), 2, "{flight:#?}");
    let defaults: Vec<_> = flight.iter().filter(|s| s.epsilon == 0.1).collect();
    assert_eq!(
        defaults.len(),
        1,
        "the ticketed statement is charged once: {flight:#?}"
    );
    assert_eq!(
        flight.len(),
        3,
        "refusals and errors charge nothing: {flight:#?}"
    );
    for s in flight.iter().filter(same) {
        let key = |s: &Spend| {
            (
                s.epsilon,
                s.delta,
                s.epochs.clone(),
                s.epsilon_units,
                s.delta_units,
                s.rho,
                s.dataset.clone(),
            )
        };
        assert_eq!(key(s), key(cli[0]), "Flight and CLI charge the same");
    }
}

#[test]
fn the_researcher_notebook_example_runs() {
    let (tmp, server, uri) = start();
    let data = tmp.path().join("data");
    let researcher = create_token(&data, "researcher", None);
    let svg = tmp.path().join("workers.svg");
    let script = repo_file("examples/researcher_notebook.py");
    let stdout = python(
        &script,
        &[
            "--uri",
            &uri,
            "--token",
            &researcher,
            "--out",
            svg.to_str().unwrap(),
        ],
    );
    println!("{stdout}");
    assert!(stdout.contains("u1") && stdout.contains("u2"), "{stdout}");
    let chart = std::fs::read_to_string(&svg).expect("the notebook writes its chart");
    assert_eq!(chart.matches("class=\"bar\"").count(), 2, "{chart}");
    assert_eq!(chart.matches("class=\"error-bar\"").count(), 2, "{chart}");
    let charged = spends(&data);
    assert_eq!(
        charged.len(),
        1,
        "the notebook asks one question: {charged:#?}"
    );
    assert_eq!(charged[0].principal, token_id(&researcher));
    assert_eq!(server.stop(), 0);
}
