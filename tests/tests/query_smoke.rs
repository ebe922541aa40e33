use fingertip_dp::{BudgetConfig, Ledger};
use fingertip_query::{Engine, QueryConfig, QueryRequest};
use fingertip_tests::fixtures::{Event, ms, write_lake};

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
    let ledger = Ledger::open(dir.path(), &BudgetConfig::default()).unwrap();
    let engine = Engine::new(
        dir.path(),
        Default::default(),
        QueryConfig::default(),
        ledger,
        Default::default(),
    )
    .without_noise();
    let req = QueryRequest { sql: "SELECT org_unit, COUNT(*) AS n, COUNT(DISTINCT person) AS workers, SUM(duration_s) AS secs, AVG(duration_s) a FROM events GROUP BY org_unit ORDER BY org_unit".into(), epsilon: 1.0, ..Default::default() };
    let answer = engine.run("t", &req).await.unwrap();
    println!(
        "{}",
        serde_json::to_string_pretty(&answer.to_json()).unwrap()
    );
    println!("{}", answer.to_table());
}
