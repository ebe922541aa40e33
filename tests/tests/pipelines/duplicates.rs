//! The duplicate-entry index (the data-barrier index) tells a population that types the same
//! data elements into two apps from one that does not, with the shipped pipelines and ε.
//!
//! Two fixture populations of 3 000 staff in 10 org units, one week (2026-W46): every working
//! day each person submits one household-survey form with eight household elements and one
//! poverty-registry form with eight elements. Behind a data barrier, six of the registry's eight
//! elements are the survey's again (true rate 60 / 80 = 0.75); without one, the registry asks
//! for eight of its own (true rate 0). Per person 80 entries a week: the pipeline's bound.
//!
//! With the shipped ε (0.2, split over four levels and numerator/denominator), the noise of one
//! level has scale 80 / 0.025 = 3 200 entries (95% half-width ≈ 11 800) against 240 000 entries
//! over all apps and 120 000 per app: the two populations are told apart with disjoint
//! intervals over all apps and units, and in each app over all units. (Per org unit, 24 000
//! entries, the shipped ε gives a value standard deviation of about 0.19: units are ranked in
//! `pipelines/accuracy.rs` with more ε.)

use fingertip_model::Trigger;
use fingertip_pipelines::{Domain, IndexRow};
use fingertip_tests::fixtures::{Event, ms, write_lake};
use fingertip_tests::pipelines::{published, run, runner};

const WORKERS: usize = 3_000;
const UNITS: usize = 10;
const WEEK: &str = "2026-W46";
const SURVEY: [&str; 8] = [
    "hh.size",
    "hh.income",
    "hh.members",
    "hh.address",
    "hh.head_name",
    "hh.phone",
    "hh.housing",
    "hh.land_area",
];
const REGISTRY_BARRIER: [&str; 8] = [
    "hh.size",
    "hh.income",
    "hh.members",
    "hh.address",
    "hh.head_name",
    "hh.phone",
    "pr.cause",
    "pr.plan",
];
const REGISTRY_OPEN: [&str; 8] = [
    "pr.cause",
    "pr.plan",
    "pr.verification",
    "pr.assistance_type",
    "pr.income_source",
    "pr.visit",
    "pr.measures",
    "pr.exit",
];

fn population(registry: [&str; 8]) -> Vec<Event> {
    // Monday 2026-11-09 09:00 in Asia/Shanghai.
    let monday = ms("2026-11-09T01:00:00Z");
    let mut out = Vec::with_capacity(WORKERS * 10);
    for w in 0..WORKERS {
        let (person, unit) = (format!("EMP-{w:05}"), format!("u{:02}", w % UNITS));
        for day in 0..5 {
            let t = monday + day * 86_400_000 + (w as i64 % 60) * 60_000;
            let mut survey =
                Event::new(&person, "household-survey", &unit, "form_submit", t, 600.0);
            survey.data_elements = SURVEY.iter().map(|s| s.to_string()).collect();
            let mut form = Event::new(
                &person,
                "poverty-registry",
                &unit,
                "form_submit",
                t + 3_600_000,
                900.0,
            );
            form.trigger = Trigger::Reminder;
            form.data_elements = registry.iter().map(|s| s.to_string()).collect();
            out.extend([survey, form]);
        }
    }
    out
}

/// Runs the shipped pipelines over one population; returns its duplicate-entry rows.
fn duplicate_entry_rows(registry: [&str; 8]) -> Vec<IndexRow> {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_lake(&data, &population(registry)).unwrap();
    let domain = Domain {
        apps: Some(vec!["household-survey".into(), "poverty-registry".into()]),
        units: Some((0..UNITS).map(|u| format!("u{u:02}")).collect()),
    };
    let runner = runner(&data, domain, 30.0);
    let (rows, _) = run(&runner, &tmp.path().join("out"), &[WEEK], None).expect("pipeline run");
    rows.into_iter()
        .filter(|r| r.index == "duplicate_entry_rate")
        .collect()
}

fn cell(rows: &[IndexRow], app: &str, unit: &str) -> (f64, f64, f64) {
    let row = rows
        .iter()
        .find(|r| r.app_id == app && r.org_unit == unit)
        .unwrap_or_else(|| panic!("no cell {app} × {unit}"));
    published(row).unwrap_or_else(|| panic!("cell {app} × {unit} not published: {row:?}"))
}

#[test]
fn duplicate_entry_rate_separates_re_entry_from_none() {
    let barrier = duplicate_entry_rows(REGISTRY_BARRIER);
    let open = duplicate_entry_rows(REGISTRY_OPEN);
    for (app, unit) in [
        ("*", "*"),
        ("household-survey", "*"),
        ("poverty-registry", "*"),
    ] {
        let (b, o) = (cell(&barrier, app, unit), cell(&open, app, unit));
        println!(
            "{app} × {unit}: barrier {:.3} [{:.3}, {:.3}], no barrier {:.3} [{:.3}, {:.3}]",
            b.0, b.1, b.2, o.0, o.1, o.2
        );
        assert!(
            b.1 > o.2,
            "{app} × {unit}: intervals overlap: barrier {b:?}, no barrier {o:?}"
        );
        assert!(
            b.0 > 0.5 && o.0 < 0.2,
            "{app} × {unit}: barrier {} vs no barrier {}",
            b.0,
            o.0
        );
    }
}
