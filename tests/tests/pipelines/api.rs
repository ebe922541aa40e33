//! `GET /v1/indices` on a real `fingertip serve`: the latest run `fingertip pipeline run`
//! published, to oversight tokens only, filtered by week, index, app_id and org_unit.

use std::path::Path;

use fingertip_tests::http::{get, request};
use fingertip_tests::pipelines::{WEEKS, simulate};
use fingertip_tests::server::{Server, create_token, run};
use serde_json::Value;

fn pipeline_run(data: &Path, out: &Path, from: &str, to: &str) {
    let (code, stdout, stderr) = run(&[
        "pipeline",
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--from",
        from,
        "--to",
        to,
    ]);
    assert_eq!(code, 0, "pipeline run failed:\n{stdout}\n{stderr}");
}

/// The rows of a 200 answer.
fn rows(addr: std::net::SocketAddr, query: &str, token: &str) -> Vec<Value> {
    let r = get(addr, &format!("/v1/indices{query}"), Some(token));
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    r.json()["rows"].as_array().expect("rows").clone()
}

/// Equal JSON documents, numbers equal up to the last bits a parse and re-print may change.
fn same_doc(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= 1e-12 * x.abs().max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_doc(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_doc(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn indices_are_served_to_oversight_only_latest_run_filtered() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    simulate(&data, 400, 2, 3);
    let app = create_token(&data, "app", Some("attendance"));
    for other in [
        "household-survey",
        "poverty-registry",
        "study",
        "work-groups",
        "grid-patrol",
    ] {
        create_token(&data, "app", Some(other));
    }
    let researcher = create_token(&data, "researcher", None);
    let oversight = create_token(&data, "oversight", None);
    let server = Server::start(&data, &[]);
    let addr = server.addr;

    // Before any run: nothing to serve, and still only to oversight.
    let r = get(addr, "/v1/indices", Some(&oversight));
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (404, "no_indices"),
        "{}",
        r.text()
    );
    let r = get(addr, "/v1/indices?colour=red", Some(&oversight));
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (400, "invalid_filter"),
        "{}",
        r.text()
    );
    let check_roles = || {
        let r = get(addr, "/v1/indices", None);
        assert_eq!(r.status, 401, "no token: {}", r.text());
        let r = get(addr, "/v1/indices", Some("ft_nope_nope"));
        assert_eq!(r.status, 401, "unknown token: {}", r.text());
        for (who, token) in [("app", &app), ("researcher", &researcher)] {
            let r = get(addr, "/v1/indices", Some(token));
            assert_eq!(
                (r.status, r.error_code().as_str()),
                (403, "wrong_role"),
                "{who} token: {}",
                r.text()
            );
            assert!(!r.text().contains("\"rows\""), "{who} token got rows");
        }
    };
    check_roles();

    // A run over two weeks, published while the server runs.
    let out = tmp.path().join("out");
    pipeline_run(&data, &out, WEEKS[0], WEEKS[1]);
    let file: Value =
        serde_json::from_slice(&std::fs::read(out.join("indices.json")).unwrap()).unwrap();
    let r = get(addr, "/v1/indices", Some(&oversight));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let all = r.json();
    assert!(
        same_doc(&all, &file),
        "the server does not serve the run's indices.json"
    );
    let everything = all["rows"].as_array().unwrap();
    assert!(everything.len() > 100, "{} rows", everything.len());
    check_roles();

    // Filters: each narrows to exactly the matching rows; they combine; `*` is a value.
    type Filter = fn(&Value) -> bool;
    let cases: [(&str, Filter); 6] = [
        ("?week=2026-W46", |r| r["week"] == "2026-W46"),
        ("?index=burden_index", |r| r["index"] == "burden_index"),
        ("?app_id=attendance", |r| r["app_id"] == "attendance"),
        ("?org_unit=%2A", |r| r["org_unit"] == "*"),
        (
            "?org_unit=*&app_id=*&index=checkin_minutes_per_worker",
            |r| {
                r["org_unit"] == "*"
                    && r["app_id"] == "*"
                    && r["index"] == "checkin_minutes_per_worker"
            },
        ),
        (
            "?week=2026-W45&index=duplicate_entry_rate&app_id=poverty-registry",
            |r| {
                r["week"] == "2026-W45"
                    && r["index"] == "duplicate_entry_rate"
                    && r["app_id"] == "poverty-registry"
            },
        ),
    ];
    for (query, matches) in cases {
        let got = rows(addr, query, &oversight);
        assert!(
            !got.is_empty() && got.iter().all(matches),
            "{query}: {} rows, some not matching",
            got.len()
        );
        assert_eq!(
            got.len(),
            everything.iter().filter(|r| matches(r)).count(),
            "{query}"
        );
    }
    assert_eq!(
        rows(
            addr,
            "?org_unit=*&app_id=*&index=checkin_minutes_per_worker",
            &oversight
        )
        .len(),
        2,
        "one cell per week"
    );
    assert!(rows(addr, "?week=2030-W01", &oversight).is_empty());
    for bad in ["?colour=red", "?week=2026-W46&person=x", "?Week=2026-W46"] {
        let r = get(addr, &format!("/v1/indices{bad}"), Some(&oversight));
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "invalid_filter"),
            "{bad}: {}",
            r.text()
        );
    }
    let r = request(
        addr,
        "POST",
        "/v1/indices",
        &[("Authorization", &format!("Bearer {oversight}"))],
        b"{}",
    )
    .unwrap();
    assert_eq!(r.status, 405, "{}", r.text());

    // A later run replaces what is served.
    pipeline_run(&data, &tmp.path().join("out-2"), WEEKS[1], WEEKS[1]);
    let latest = get(addr, "/v1/indices", Some(&oversight)).json();
    assert_eq!(latest["run"]["weeks"], serde_json::json!([WEEKS[1]]));
    assert!(
        latest["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["week"] == WEEKS[1])
    );
    assert_ne!(latest["run"]["generated_at"], Value::Null);
    assert_eq!(server.stop(), 0);
}
