//! `fingertip pipeline run` end to end, through the real binary: the four outputs (read back by
//! pyarrow and DuckDB for the Parquet file), the report (self-contained, a chart per index, ε
//! stated, loaded by headless Chromium without a console message), the refusal of a run the
//! budget cannot pay for, and pipeline files refused when loaded, naming the file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use fingertip_dp::{BudgetConfig, Ledger};
use fingertip_sim::App;
use fingertip_tests::pipelines::{
    WEEKS, broken_copy, create_app_tokens, parse_csv, pipeline_files, shipped_epsilon, shipped_rho,
    simulate,
};
use fingertip_tests::server::run;
use serde_json::Value;

const CSV_HEADER: [&str; 10] = [
    "index",
    "week",
    "app_id",
    "org_unit",
    "value",
    "ci_low",
    "ci_high",
    "epsilon",
    "suppressed",
    "clause",
];
const OUTPUTS: [&str; 4] = [
    "indices.parquet",
    "indices.csv",
    "indices.json",
    "report.html",
];

/// A data directory with a simulated population (ending with 2026-W46), its org-unit table and
/// an app token per simulated app.
fn data_dir(
    tmp: &Path,
    workers: u32,
    weeks: u32,
) -> (PathBuf, fingertip_tests::pipelines::Simulated) {
    let data = tmp.join("data");
    let sim = simulate(&data, workers, weeks, 7);
    create_app_tokens(&data);
    (data, sim)
}

fn pipeline_run(
    data: &Path,
    out: &Path,
    weeks: &[&str],
    pipelines: Option<&Path>,
) -> (i32, String, String) {
    let (data, out) = (data.to_str().unwrap(), out.to_str().unwrap());
    let mut args = vec!["pipeline", "run", "--data", data, "--out", out];
    match weeks {
        [w] => args.extend(["--week", w]),
        [first, .., last] => args.extend(["--from", first, "--to", last]),
        [] => {}
    }
    if let Some(p) = pipelines {
        args.extend(["--pipelines", p.to_str().unwrap()]);
    }
    run(&args)
}

/// The index names and their ε in the shipped pipeline files.
fn shipped_indices() -> BTreeMap<String, f64> {
    pipeline_files()
        .iter()
        .map(|(file, text)| {
            let eps = text
                .lines()
                .find_map(|l| l.strip_prefix("epsilon = ")?.trim().parse::<f64>().ok())
                .expect("epsilon");
            (file.trim_end_matches(".toml").to_string(), eps)
        })
        .collect()
}

/// `tests/python/read_indices.py OUT`: pyarrow and DuckDB on the outputs.
fn read_indices_py(out: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/read_indices.py");
    let result = Command::new("python3")
        .arg(&script)
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for the independent Parquet reader ({e}); install Python 3, then `pip install pyarrow duckdb`"));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        result.status.code() != Some(2),
        "{stderr}\nThe independent readers need pyarrow and DuckDB: run `pip install pyarrow duckdb`."
    );
    assert!(result.status.success(), "read_indices.py failed: {stderr}");
    serde_json::from_slice(&result.stdout).unwrap_or_else(|e| {
        panic!(
            "read_indices.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&result.stdout)
        )
    })
}

/// The report's wording of ε (three decimals at most, trailing zeros dropped).
fn epsilon_text(eps: f64) -> String {
    let s = format!("{eps:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The part of the report that is the section of index `name`.
fn section_of<'a>(html: &'a str, name: &str) -> &'a str {
    let marker = format!("<code>{name}</code>");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("the report has no section for {name}"));
    let start = html[..at].rfind("<section").expect("section start");
    let end = html[at..].find("</section>").expect("section end") + at;
    &html[start..end]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(1.0)
}

#[test]
fn a_run_writes_every_output_and_a_self_contained_report() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, sim) = data_dir(tmp.path(), 1_000, 2);
    let out = tmp.path().join("out");
    let (code, stdout, stderr) = pipeline_run(&data, &out, &WEEKS, None);
    assert_eq!(code, 0, "pipeline run failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("indices.parquet, indices.csv, indices.json and report.html"),
        "{stdout}"
    );
    for file in OUTPUTS {
        assert!(out.join(file).is_file(), "{file} was not written");
    }
    let indices = shipped_indices();
    let run_eps = shipped_epsilon();

    // indices.csv: the documented columns, one row per index and cell, only public keys.
    let csv = parse_csv(&std::fs::read_to_string(out.join("indices.csv")).unwrap());
    assert_eq!(csv[0], CSV_HEADER, "indices.csv header");
    let rows = &csv[1..];
    assert!(
        rows.iter().all(|r| r.len() == CSV_HEADER.len()),
        "every CSV row has 10 fields"
    );
    let names: BTreeSet<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        names,
        indices.keys().map(String::as_str).collect(),
        "every shipped index is published"
    );
    let weeks: BTreeSet<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(weeks, WEEKS.into_iter().collect());
    let apps: BTreeSet<&str> = App::ALL.iter().map(|a| a.id()).chain(["*"]).collect();
    let units: BTreeSet<String> = sim
        .pop
        .org
        .townships
        .iter()
        .map(|t| t.unit.code.to_string())
        .chain(["*".to_string()])
        .collect();
    for r in rows {
        assert!(
            apps.contains(r[2].as_str()) && units.contains(&r[3]),
            "a cell keyed by something else than an app and a township: {r:?}"
        );
        assert!(close(r[7].parse().unwrap(), indices[&r[0]]), "ε of {r:?}");
        assert!(!r[9].is_empty(), "no clause: {r:?}");
        match r[8].as_str() {
            "true" => assert!(
                r[4].is_empty() && r[5].is_empty() && r[6].is_empty(),
                "a suppressed cell shows a value: {r:?}"
            ),
            "false" => {
                if let (Ok(v), Ok(lo), Ok(hi)) = (
                    r[4].parse::<f64>(),
                    r[5].parse::<f64>(),
                    r[6].parse::<f64>(),
                ) {
                    assert!(lo <= v && v <= hi, "value outside its interval: {r:?}");
                }
            }
            other => panic!("suppressed = {other:?}"),
        }
    }
    let published = rows
        .iter()
        .filter(|r| r[8] == "false" && !r[4].is_empty())
        .count();
    assert!(
        published > 0 && rows.iter().any(|r| r[8] == "true"),
        "{published} published of {}",
        rows.len()
    );

    // indices.json: the run summary and the same rows; the published copy is identical.
    let doc: Value =
        serde_json::from_slice(&std::fs::read(out.join("indices.json")).unwrap()).unwrap();
    let run = &doc["run"];
    assert!(close(run["epsilon"].as_f64().unwrap(), run_eps), "{run}");
    assert_eq!(run["weeks"], serde_json::json!(WEEKS));
    assert_eq!(run["public_domain"], true);
    assert_eq!(run["delta"], 0.0);
    let json_rows = doc["rows"].as_array().unwrap();
    assert_eq!(json_rows.len(), rows.len());
    for (j, c) in json_rows.iter().zip(rows) {
        let key = [&j["index"], &j["week"], &j["app_id"], &j["org_unit"]]
            .map(|v| v.as_str().unwrap().to_string());
        assert_eq!(key.as_slice(), &c[..4]);
        let same = |v: &Value, s: &str| match (v.as_f64(), s.parse::<f64>()) {
            (Some(a), Ok(b)) => close(a, b),
            (None, Err(_)) => v.is_null() && s.is_empty(),
            _ => false,
        };
        assert!(
            same(&j["value"], &c[4]) && same(&j["ci_low"], &c[5]) && same(&j["ci_high"], &c[6]),
            "{j} vs {c:?}"
        );
    }
    let published_copy = std::fs::read(data.join("published").join("indices.json")).unwrap();
    assert_eq!(
        published_copy,
        std::fs::read(out.join("indices.json")).unwrap(),
        "the server's copy is the run's indices.json"
    );

    // indices.parquet through pyarrow and DuckDB, compared with the CSV by DuckDB.
    let read = read_indices_py(&out);
    let (pa, duck) = (&read["pyarrow"], &read["duckdb"]);
    let schema: Vec<(String, String)> = pa["schema"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().into(),
                f["type"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected_types = [
        "string", "string", "string", "string", "double", "double", "double", "double", "bool",
        "string",
    ];
    assert_eq!(
        schema,
        CSV_HEADER
            .iter()
            .zip(expected_types)
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect::<Vec<_>>()
    );
    assert_eq!(pa["rows"].as_u64(), Some(rows.len() as u64));
    assert_eq!(pa["suppressed_with_value"], 0);
    assert_eq!(
        pa["suppressed"].as_u64(),
        Some(rows.iter().filter(|r| r[8] == "true").count() as u64)
    );
    for name in indices.keys() {
        let n = rows.iter().filter(|r| &r[0] == name).count() as u64;
        assert_eq!(
            (
                pa["per_index"][name].as_u64(),
                duck["per_index"][name].as_u64()
            ),
            (Some(n), Some(n)),
            "{name}"
        );
    }
    assert_eq!(duck["csv_header"], serde_json::json!(CSV_HEADER));
    for field in ["rows", "csv_rows", "matching_rows", "distinct_cells"] {
        assert_eq!(
            duck[field].as_u64(),
            Some(rows.len() as u64),
            "DuckDB {field}: {duck}"
        );
    }

    // report.html: one document, nothing fetched, a chart per index, ε stated.
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.matches("</html>").count() == 1);
    assert!(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"));
    let lower = html.to_ascii_lowercase();
    for banned in [
        "<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(", "src=",
    ] {
        assert!(!lower.contains(banned), "the report contains {banned}");
    }
    let without_xmlns = lower.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    assert!(
        !without_xmlns.contains("http://") && !without_xmlns.contains("https://"),
        "the report links out"
    );
    for name in indices.keys() {
        let svgs = section_of(&html, name).matches("<svg").count();
        assert!(svgs >= 1, "{name} has no chart");
    }
    // Under zCDP (the default) the run's ε is its ρ converted at half the default δ total.
    let converted = fingertip_dp::accounting::epsilon_of_rho(
        shipped_rho(),
        fingertip_dp::accounting::conversion_delta(
            fingertip_dp::BudgetConfig::default().delta_total,
        ),
    );
    let eps = epsilon_text(converted);
    assert!(
        html.contains(&format!("Privacy budget used by this run: ε = {eps},")),
        "the header does not state ε = {eps}"
    );
    assert!(
        html.contains(&format!("ε (epsilon) used by this run</th><td>{eps}</td>")),
        "the privacy table does not state ε = {eps}"
    );

    let browser = fingertip_tests::browser::load(&out.join("report.html"), tmp.path())
        .unwrap_or_else(|| panic!("{} is missing: install Chromium (Debian: `apt-get install chromium`) for the report check", fingertip_tests::browser::CHROMIUM));
    assert!(browser.exited_ok, "chromium failed:\n{}", browser.stderr);
    assert!(
        browser.dom.contains("Fingertip burden report") && browser.dom.contains("<svg"),
        "the DOM lacks the report"
    );
    assert!(
        browser.console.is_empty(),
        "the report logged to the console:\n{}",
        browser.console.join("\n")
    );
}

#[test]
fn a_run_the_budget_cannot_pay_for_is_refused_and_spends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = data_dir(tmp.path(), 300, 1);
    let d = data.to_str().unwrap();
    let (code, _, stderr) = run(&["budget", "--data", d, "--set-total", "0.5"]);
    assert_eq!(code, 0, "{stderr}");
    let ledger = Ledger::open(&data, &BudgetConfig::default()).unwrap();
    let log = data.join("ledger").join("ledger.jsonl");
    let before = std::fs::read(&log).unwrap();
    assert!(ledger.spends().unwrap().is_empty());

    let out = tmp.path().join("out");
    let (code, stdout, stderr) = pipeline_run(&data, &out, &["2026-W46"], None);
    assert_ne!(
        code,
        0,
        "a run costing {} passed a budget of 0.5:\n{stdout}",
        shipped_epsilon()
    );
    assert!(stderr.contains("budget_exhausted"), "{stderr}");
    assert!(
        ledger.spends().unwrap().is_empty(),
        "the refused run was charged"
    );
    assert_eq!(std::fs::read(&log).unwrap(), before, "the ledger changed");
    assert!(
        !out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(),
        "the refused run wrote outputs"
    );
    assert!(
        !data.join("published").exists(),
        "the refused run published indices"
    );

    // With budget for it, the same run goes through and is charged once.
    let (code, _, stderr) = run(&["budget", "--data", d, "--set-total", "30"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = pipeline_run(&data, &out, &["2026-W46"], None);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let spends = ledger.spends().unwrap();
    assert_eq!(spends.len(), 1);
    assert!(
        close(spends[0].rho, shipped_rho())
            && spends[0].epsilon == 0.0
            && spends[0].epochs == ["2026Q4"],
        "{spends:?}"
    );
    for file in OUTPUTS {
        assert!(out.join(file).is_file(), "{file}");
    }
}

/// One deliberately broken pipeline directory: a copy of `pipelines/` with `file` edited (and
/// an extra view), and what the refusal must say besides the file's path.
struct Broken {
    what: &'static str,
    file: &'static str,
    edit: fn(&str) -> String,
    view: Option<(&'static str, &'static str)>,
    expected: &'static str,
}

/// The person stage of `rankings_published` reading `FROM staff`, a view renaming `person`.
fn from_renaming_view(text: &str) -> String {
    let start = text.find("person_sql = \"\"\"").expect("person_sql");
    let end = text.find("[bounds]").expect("[bounds]");
    let sql = "person_sql = \"\"\"\nSELECT who AS person, week, app_id, substr(CAST(who AS VARCHAR), 1, 2) AS org_unit,\n       \
               SUM(CASE WHEN event_type = 'ranking_published' THEN 1 ELSE 0 END) AS numerator\nFROM staff\n\
               GROUP BY who, week, app_id, substr(CAST(who AS VARCHAR), 1, 2)\n\"\"\"\n\n";
    format!("{}{sql}{}", &text[..start], &text[end..])
}

const BROKEN: [Broken; 8] = [
    Broken {
        what: "unknown table",
        file: "checkin_minutes_per_worker.toml",
        edit: |t| t.replace("FROM weekly_events", "FROM weekly_eventz"),
        view: None,
        expected: "person_sql does not plan",
    },
    Broken {
        what: "SQL syntax",
        file: "forced_use_share.toml",
        edit: |t| t.replace("SELECT person, week", "SELEKT person, week"),
        view: None,
        expected: "person_sql does not plan",
    },
    Broken {
        what: "no [bounds]",
        file: "proof_uploads_per_worker.toml",
        edit: |t| t[..t.find("[bounds]").unwrap()].to_string(),
        view: None,
        expected: "[bounds] is missing",
    },
    Broken {
        what: "no denominator bound",
        file: "after_hours_demand_share.toml",
        edit: |t| {
            t.lines()
                .filter(|l| !l.starts_with("denominator_per_week"))
                .map(|l| format!("{l}\n"))
                .collect()
        },
        view: None,
        expected: "denominator_per_week",
    },
    Broken {
        what: "org_unit from person",
        file: "rankings_published.toml",
        edit: |t| {
            t.replace(
                "SELECT person, week, app_id, org_unit,",
                "SELECT person, week, app_id, substr(CAST(person AS VARCHAR), 1, 2) AS org_unit,",
            )
            .replace(
                "GROUP BY person, week, app_id, org_unit",
                "GROUP BY person, week, app_id, substr(CAST(person AS VARCHAR), 1, 2)",
            )
        },
        view: None,
        expected: "the released key `org_unit` is derived from person",
    },
    Broken {
        what: "week aggregated from person",
        file: "compliance_minutes_per_worker.toml",
        edit: |t| {
            t.replace("SELECT person, week, app_id, org_unit,", "SELECT person, MAX(CASE WHEN person IS NULL THEN week ELSE 'x' END) AS week, app_id, org_unit,")
                .replace("GROUP BY person, week, app_id, org_unit", "GROUP BY person, app_id, org_unit")
        },
        view: None,
        expected: "the released key `week` is derived from person",
    },
    Broken {
        what: "org_unit from person renamed by a view",
        file: "rankings_published.toml",
        edit: from_renaming_view,
        view: Some((
            "staff",
            "SELECT person AS who, week, app_id, org_unit, event_type FROM weekly_events",
        )),
        expected: "the released key `org_unit` is derived from person",
    },
    Broken {
        what: "not TOML",
        file: "apps_per_worker.toml",
        edit: |t| t.replacen("kind = ", "kind == ", 1),
        view: None,
        expected: "apps_per_worker.toml",
    },
];

#[test]
fn broken_pipeline_files_are_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = data_dir(tmp.path(), 200, 1);
    let mut failures = Vec::new();
    for (i, case) in BROKEN.iter().enumerate() {
        let dir = tmp.path().join(format!("pipelines-{i}"));
        let path = broken_copy(&dir, case.file, case.edit);
        if let Some((name, sql)) = case.view {
            std::fs::create_dir_all(dir.join("views")).unwrap();
            std::fs::write(dir.join("views").join(format!("{name}.sql")), sql).unwrap();
        }
        let out = tmp.path().join(format!("out-{i}"));
        let (code, stdout, stderr) = pipeline_run(&data, &out, &["2026-W46"], Some(&dir));
        let message: Vec<&str> = stderr.lines().filter(|l| l.starts_with("Error")).collect();
        println!("{}: exit {code}: {}", case.what, message.join(" | "));
        if code == 0
            || !stderr.contains(&path.display().to_string())
            || !stderr.contains(case.expected)
        {
            failures.push(format!("{} ({}): exit {code}, expected the path and `{}`; stdout:\n{stdout}\nstderr:\n{stderr}", case.what, case.file, case.expected));
        }
        assert!(!out.exists(), "{}: outputs were written", case.what);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(
        Ledger::open(&data, &BudgetConfig::default())
            .unwrap()
            .spends()
            .unwrap()
            .is_empty(),
        "a refused run was charged"
    );
    assert!(!data.join("published").exists());
}
