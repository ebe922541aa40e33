use fingertip_query::QueryRequest;
use fingertip_tests::fixtures::{Event, ms, query_engine, write_lake};

#[tokio::test]
async fn smoke() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    for p in 0..40 {
        for d in 0..5 {
            events.push(Event::new(
                &format!("P{p}"),
                "attendance",
                if p < 25 { "u1" } else { "u2" },
                "check_in",
                ms("2026-10-05T08:00:00Z") + d * 86_400_000,
                60.0,
            ));
        }
    }
    write_lake(dir.path(), &events).unwrap();
    let engine = query_engine(dir.path(), 30.0).without_noise();
    let req = QueryRequest { sql: "SELECT org_unit, COUNT(*) AS n, COUNT(DISTINCT person) AS workers, SUM(duration_s) AS secs, AVG(duration_s) a FROM events GROUP BY org_unit ORDER BY org_unit".into(), epsilon: 1.0, ..Default::default() };
    let answer = engine.run("t", &req).await.unwrap();
    println!(
        "{}",
        serde_json::to_string_pretty(&answer.to_json()).unwrap()
    );
    println!("{}", answer.to_table());
}

/// Unit conversions of a released value carry its interval; other arithmetic does not claim one.
#[tokio::test]
async fn affine_columns_carry_the_interval_of_their_source() {
    let dir = tempfile::tempdir().unwrap();
    let mut events = Vec::new();
    for p in 0..800 {
        for d in 0..4 {
            events.push(Event::new(
                &format!("P{p}"),
                "attendance",
                if p < 400 { "u1" } else { "u2" },
                "check_in",
                ms("2026-10-05T08:00:00Z") + d * 86_400_000,
                90.0,
            ));
        }
    }
    write_lake(dir.path(), &events).unwrap();
    let engine = query_engine(dir.path(), 30.0);
    let sql = "SELECT org_unit, SUM(duration_s) AS secs, SUM(duration_s) / 60.0 AS mins, \
               10 - SUM(duration_s) / 60.0 AS left, COUNT(*) / 7 AS weeks_int, \
               CAST(COUNT(*) AS DOUBLE) / 7 AS weeks, SUM(duration_s) / COUNT(*) AS ratio \
               FROM events GROUP BY org_unit ORDER BY org_unit";
    let req = QueryRequest {
        sql: sql.into(),
        epsilon: 1.0,
        ..Default::default()
    };
    let answer = engine.run("t", &req).await.unwrap();
    let kind = |name: &str| answer.columns.iter().find(|c| c.name == name).unwrap().kind;
    assert_eq!(kind("secs"), "sum");
    assert_eq!(kind("mins"), "scaled");
    assert_eq!(kind("left"), "scaled");
    assert_eq!(kind("weeks"), "scaled");
    assert_eq!(kind("weeks_int"), "derived", "integer division truncates");
    assert_eq!(kind("ratio"), "derived");
    assert_eq!(
        answer.rows.len(),
        2,
        "units of 400 pass partition selection"
    );
    for ci in &answer.intervals {
        let pair = |name: &str| -> (f64, f64) {
            let v = ci[name].as_array().unwrap();
            (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
        };
        let (lo, hi) = pair("secs");
        assert!(hi > lo, "a real interval: {lo}..{hi}");
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
        let (m_lo, m_hi) = pair("mins");
        assert!(close(m_lo, lo / 60.0) && close(m_hi, hi / 60.0));
        let (l_lo, l_hi) = pair("left");
        assert!(close(l_lo, 10.0 - hi / 60.0) && close(l_hi, 10.0 - lo / 60.0));
        assert!(ci.contains_key("weeks"));
        assert!(!ci.contains_key("weeks_int") && !ci.contains_key("ratio"));
    }
}

/// The engine works inside its memory pool: a person stage of 60,000 people under a 32 MiB pool
/// spills and gives exactly the answer it gives without a limit; a pool too small for anything
/// fails with a clear error, so the limit is really applied.
#[tokio::test]
async fn a_memory_limit_spills_instead_of_failing() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<Event> = (0..60_000)
        .map(|p| {
            Event::new(
                &format!("P{p}"),
                "attendance",
                &format!("u{}", p % 3),
                "check_in",
                ms("2026-10-05T08:00:00Z") + (p as i64 % 5) * 86_400_000,
                30.0 + (p % 7) as f64,
            )
        })
        .collect();
    write_lake(dir.path(), &events).unwrap();
    let sql = "SELECT org_unit, COUNT(DISTINCT person) AS workers, SUM(duration_s) AS secs \
               FROM events GROUP BY org_unit ORDER BY org_unit";
    let run = |limit: u64| {
        let dir = dir.path().to_path_buf();
        async move {
            let config = fingertip_query::QueryConfig {
                memory_limit: fingertip_query::MemoryLimit(limit),
                threads: 2,
                ..Default::default()
            };
            let budget = fingertip_dp::BudgetConfig {
                epsilon_total: 100.0,
                delta_total: 0.5,
                ..Default::default()
            };
            let ledger = fingertip_dp::Ledger::open(&dir, &budget).unwrap();
            let engine = fingertip_query::Engine::new(
                &dir,
                Default::default(),
                config,
                ledger,
                Default::default(),
            )
            .without_noise();
            let req = QueryRequest {
                sql: sql.into(),
                epsilon: 1.0,
                bounds: fingertip_query::BoundsRequest {
                    max_groups: Some(1),
                    max_rows: Some(1),
                    columns: [("secs".to_string(), [0.0, 60.0])].into_iter().collect(),
                },
                ..Default::default()
            };
            engine.run("t", &req).await
        }
    };
    let unlimited = run(0).await.unwrap();
    let limited = run(32 << 20).await.unwrap();
    assert_eq!(limited.rows, unlimited.rows);
    assert_eq!(unlimited.rows.len(), 3);
    let starved = run(1 << 10).await.unwrap_err();
    assert_eq!(starved.code(), "query_failed");
    assert!(
        starved.to_string().contains("not enough memory"),
        "{starved}"
    );
}
