//! The command line as users see it (this integration test also makes `cargo test` build the
//! `fingertip` binary that the end-to-end tests in `tests/` run).

use std::process::Command;

fn fingertip(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fingertip"))
        .args(args)
        .output()
        .expect("run fingertip");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn help_lists_every_command() {
    let (code, stdout, _) = fingertip(&["--help"]);
    assert_eq!(code, 0);
    for cmd in [
        "serve", "query", "pipeline", "simulate", "demo", "budget", "keys", "token", "apps",
    ] {
        assert!(
            stdout.contains(cmd),
            "`{cmd}` missing from --help:\n{stdout}"
        );
    }
}

#[test]
fn token_create_prints_the_token_last_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = fingertip(&[
        "token",
        "create",
        "--data",
        data,
        "--role",
        "app",
        "--app-id",
        "attendance",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let token = stdout.lines().last().unwrap();
    assert!(token.starts_with("ft_"), "{token}");
    let stored = std::fs::read_to_string(dir.path().join("tokens.json")).unwrap();
    assert!(!stored.contains(token));
    let (code, _, stderr) = fingertip(&["token", "create", "--data", data, "--role", "app"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--app-id"), "{stderr}");
}

#[test]
fn budget_reports_totals_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (code, _, stderr) = fingertip(&[
        "budget",
        "--data",
        data,
        "--set-total",
        "3",
        "--epoch",
        "2026Q4",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, _) = fingertip(&["budget", "--data", data, "--format", "json"]);
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let epoch = &status["epochs"][0];
    assert_eq!(epoch["epoch"], "2026Q4");
    assert_eq!(epoch["epsilon_total"], 3.0);
    assert_eq!(epoch["epsilon_spent"], 0.0);
    assert_eq!(epoch["epsilon_remaining"], 3.0);
}

#[test]
fn refused_queries_exit_non_zero_with_the_reason_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = fingertip(&[
        "query",
        "--data",
        data,
        "--epsilon",
        "1",
        "SELECT * FROM events",
    ]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty());
    assert!(stderr.contains("refused (raw_rows)"), "{stderr}");
}

#[test]
fn apps_are_registered_with_their_issuer_and_only_registered_apps_get_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let token = |app: &str| {
        fingertip(&[
            "token", "create", "--data", data, "--role", "app", "--app-id", app,
        ])
    };
    assert_eq!(
        token("legacy").0,
        0,
        "without a registry any app id gets a token"
    );
    let (code, stdout, stderr) = fingertip(&[
        "apps",
        "register",
        "--data",
        data,
        "--app-id",
        "attendance",
        "--issuer",
        "County Civil Affairs Bureau",
        "--issuer-level",
        "county",
        "--name",
        "Daily Attendance",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("issued by County Civil Affairs Bureau, county"),
        "{stdout}"
    );
    assert_eq!(token("attendance").0, 0);
    let (code, _, stderr) = token("survey");
    assert_ne!(code, 0);
    assert!(stderr.contains("`survey` is not registered"), "{stderr}");
    let (code, _, stderr) = fingertip(&[
        "apps",
        "update",
        "--data",
        data,
        "--app-id",
        "attendance",
        "--issuer",
        "City Health",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        fingertip(&["apps", "retire", "--data", data, "--app-id", "attendance"]).0,
        0
    );
    let (code, _, stderr) = token("attendance");
    assert_ne!(code, 0);
    assert!(stderr.contains("was retired"), "{stderr}");
    let (code, stdout, _) = fingertip(&["apps", "list", "--data", data, "--format", "json"]);
    assert_eq!(code, 0);
    let apps: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(apps[0]["issuer"], "City Health");
    assert_eq!(apps[0]["issuer_level"], "county");
    assert!(apps[0]["retired_at"].is_string());
    let audit = std::fs::read_to_string(dir.path().join("apps.audit.jsonl")).unwrap();
    assert_eq!(audit.lines().count(), 3, "register, update, retire");
}
