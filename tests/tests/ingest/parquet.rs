//! The Parquet lake as an independent reader sees it: `tests/python/read_lake.py` reads every
//! file with pyarrow (and DuckDB) and reports schema, types, row count and timestamps, which
//! must match the documented stored-event schema and the coarsening to whole UTC minutes.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use fingertip_model::{coarsen_ms, parse_rfc3339_ms};
use fingertip_tests::events::{event, events, gzip, json_body, ndjson_body, now_ms, with, zstd};
use fingertip_tests::http::post_body;
use fingertip_tests::server::{Server, create_token};
use serde_json::{Value, json};

/// Runs the Python reader on `data`; fails with a clear message when it cannot run.
fn read_lake_py(data: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/read_lake.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(data)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for the independent Parquet reader ({e}); install Python 3, then `pip install pyarrow duckdb`"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() != Some(2),
        "{stderr}\nThe independent reader needs pyarrow: run `pip install pyarrow duckdb`."
    );
    assert!(out.status.success(), "read_lake.py failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "read_lake.py printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Posts `batch` for an app, with the given type and encoding; every event must be accepted.
fn send(server: &Server, token: &str, batch: &[Value], ndjson: bool, encoding: Option<&str>) {
    let plain = if ndjson {
        ndjson_body(batch)
    } else {
        json_body(batch)
    };
    let body = match encoding {
        Some("gzip") => gzip(&plain),
        Some("zstd") => zstd(&plain),
        _ => plain,
    };
    let ct = if ndjson {
        "application/x-ndjson"
    } else {
        "application/json"
    };
    let r = post_body(server.addr, token, ct, encoding, &body).unwrap();
    assert_eq!(
        (r.status, r.json()["accepted"].as_u64()),
        (202, Some(batch.len() as u64)),
        "{}",
        r.text()
    );
}

#[test]
fn an_independent_reader_sees_the_documented_schema_and_whole_utc_minutes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let attendance = create_token(&data, "app", Some("attendance"));
    let survey = create_token(&data, "app", Some("survey"));
    let server = Server::start(&data, &[]);
    // Timestamps with seconds, milliseconds and non-UTC offsets.
    let t = now_ms() - 3 * 60_000;
    let offset_time = |ms: i64, offset: &str| {
        let utc = fingertip_model::format_rfc3339_ms(ms);
        let shifted = chrono_free_shift(&utc, offset);
        assert_eq!(parse_rfc3339_ms(&shifted), Some(ms), "{shifted}");
        shifted
    };
    let mut batch_a = events(30);
    batch_a.push(with(
        event(30),
        "started_at",
        json!(offset_time(t - t % 1000 + 999, "+08:00")),
    ));
    batch_a.push(with(
        event(31),
        "started_at",
        json!(offset_time(t, "-03:30")),
    ));
    send(&server, &attendance, &batch_a, false, None);
    let batch_b = events(25);
    send(&server, &attendance, &batch_b, true, Some("gzip"));
    let batch_c = events(20);
    send(&server, &survey, &batch_c, false, Some("zstd"));
    assert_eq!(server.stop(), 0);

    let mut expected: BTreeMap<String, (i64, &str)> = BTreeMap::new();
    for (batch, app) in [
        (&batch_a, "attendance"),
        (&batch_b, "attendance"),
        (&batch_c, "survey"),
    ] {
        for e in batch {
            let ms = parse_rfc3339_ms(e["started_at"].as_str().unwrap()).unwrap();
            assert_ne!(
                ms % 60_000,
                0,
                "test events should not already be on the minute"
            );
            expected.insert(
                e["event_id"].as_str().unwrap().to_string(),
                (coarsen_ms(ms, 60), app),
            );
        }
    }

    let lake = read_lake_py(&data);
    println!(
        "pyarrow {} / duckdb {}",
        lake["pyarrow_version"], lake["duckdb"]["version"]
    );
    let schema: Vec<(String, String, bool)> = lake["schema"]
        .as_array()
        .expect("schema")
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["type"].as_str().unwrap().to_string(),
                f["nullable"].as_bool().unwrap(),
            )
        })
        .collect();
    let want = [
        ("event_id", "string"),
        ("app_id", "string"),
        ("org_unit", "string"),
        ("person", "fixed_size_binary[16]"),
        ("key_epoch", "string"),
        ("event_type", "string"),
        ("trigger", "string"),
        ("started_at", "timestamp[ms, tz=UTC]"),
        ("duration_s", "double"),
        ("data_elements", "list<item: string not null>"),
    ];
    let want: Vec<(String, String, bool)> = want
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string(), false))
        .collect();
    assert_eq!(schema, want);
    assert_eq!(lake["rows"].as_u64(), Some(expected.len() as u64));
    assert!(
        lake["files"].as_u64().unwrap() >= 2,
        "one file per app at least"
    );
    assert_eq!(lake["started_at_unit"], "ms");
    assert_eq!(lake["started_at_tz"], "UTC");
    assert_eq!(lake["started_at_whole_minutes"], true);
    assert_eq!(lake["event_ids_unique"], true);
    assert_eq!(
        lake["partitions_match_columns"], true,
        "date=/app_id= directories agree with the rows"
    );
    for row in lake["events"].as_array().unwrap() {
        let id = row["event_id"].as_str().unwrap();
        let (ms, app) = expected
            .get(id)
            .unwrap_or_else(|| panic!("unexpected event {id}"));
        assert_eq!(row["started_at_ms"].as_i64(), Some(*ms), "{row}");
        assert!(
            row["started_at"].as_str().unwrap().ends_with(":00+00:00"),
            "{row}"
        );
        assert_eq!(row["app_id"].as_str(), Some(*app));
        assert_eq!(row["person_len"], 16);
        let epoch = row["key_epoch"].as_str().unwrap();
        assert!(
            epoch.len() == 6 && epoch.as_bytes()[4] == b'Q',
            "key epoch {epoch}"
        );
    }

    let duck = &lake["duckdb"];
    if duck.is_null() {
        println!(
            "NOTE: duckdb is not installed; only pyarrow read the lake (`pip install duckdb`)"
        );
        return;
    }
    assert_eq!(duck["rows"].as_u64(), Some(expected.len() as u64));
    assert_eq!(
        duck["distinct_event_ids"].as_u64(),
        Some(expected.len() as u64)
    );
    assert_eq!(duck["rows_off_the_minute"], 0);
    let types = &duck["types"];
    for (column, ty) in [
        ("event_id", "VARCHAR"),
        ("person", "BLOB"),
        ("started_at", "TIMESTAMP WITH TIME ZONE"),
        ("duration_s", "DOUBLE"),
        ("data_elements", "VARCHAR[]"),
    ] {
        assert_eq!(types[column], ty, "duckdb type of {column}: {types}");
    }
}

/// `2026-11-28T15:12:37.123Z` shown in another offset (`+08:00`), without a date library:
/// shift the instant, format it as UTC, and swap the `Z` for the offset.
fn chrono_free_shift(utc: &str, offset: &str) -> String {
    let ms = parse_rfc3339_ms(utc).unwrap();
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let (h, m) = offset[1..].split_once(':').unwrap();
    let shift = sign * (h.parse::<i64>().unwrap() * 3_600_000 + m.parse::<i64>().unwrap() * 60_000);
    let local = fingertip_model::format_rfc3339_ms(ms + shift);
    format!("{}{offset}", local.trim_end_matches('Z'))
}
