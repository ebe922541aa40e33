//! Undeclared org units: cells come from the data through partition selection. The case the
//! issue measured — 1,200 workers in four units of about 300, three registered apps, units not
//! declared — over the demo's five weeks. Selecting keys once per run (a person in at most the
//! level's cap of keys, not per week) must publish every unit and every app in every week, with
//! real OpenDP noise. Selecting per week cell, with a bound of cap × weeks, publishes none of
//! them here (its threshold at five weeks is about 600 people for a unit, 2,000 for an app).

use fingertip_pipelines::Domain;
use fingertip_tests::fixtures::{Event, ms, write_lake};
use fingertip_tests::pipelines::{run, runner};

const APPS: [&str; 3] = ["attendance", "grid-patrol", "work-groups"];
const WEEKS: [&str; 5] = ["2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"];

#[test]
fn undeclared_units_of_a_few_hundred_people_are_published() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut events = Vec::new();
    let monday = ms("2026-11-02T09:00:00Z");
    for w in 0..1_200 {
        let unit = format!("unit-{}", w % 4);
        let person = format!("w{w:04}");
        for week in 0..WEEKS.len() as i64 {
            for (a, app) in APPS.iter().enumerate() {
                let at = monday + week * 7 * 86_400_000 + a as i64 * 3_600_000;
                events.push(Event::new(&person, app, &unit, "check_in", at, 60.0));
            }
        }
    }
    write_lake(&data, &events).unwrap();
    let domain = Domain {
        apps: Some(APPS.iter().map(|a| a.to_string()).collect()),
        units: None,
    };
    let (rows, summary) = run(
        &runner(&data, domain, 1e6),
        &tmp.path().join("out"),
        &WEEKS,
        None,
    )
    .expect("run");
    assert!(!summary.public_domain && summary.delta > 0.0, "{summary:?}");
    let published = |app: &str, unit: &str| {
        rows.iter()
            .filter(|r| {
                r.index == "active_workers"
                    && !r.suppressed
                    && r.value.is_some()
                    && (app == "?" || r.app_id == app)
                    && (unit == "?" || r.org_unit == unit)
                    && (app == "?") != (r.app_id == "*")
                    && (unit == "?") != (r.org_unit == "*")
            })
            .count()
    };
    let units = published("*", "?");
    let apps = published("?", "*");
    println!("published active-worker cells: {units} of 20 unit cells, {apps} of 15 app cells");
    assert_eq!(units, 20, "every unit in every week");
    assert_eq!(apps, 15, "every app in every week");
    for r in rows
        .iter()
        .filter(|r| r.index == "active_workers" && r.app_id == "*")
    {
        if let (Some(v), "unit-0") = (r.value, r.org_unit.as_str()) {
            // σ ≈ 22 at this level: 5σ.
            assert!((v - 300.0).abs() < 112.0, "{r:?}");
        }
    }
}
