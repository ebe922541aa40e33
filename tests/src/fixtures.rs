//! Fixture lakes: events pseudonymized with the data directory's real epoch keys and written
//! as Parquet exactly where the compactor would put them.

use std::collections::BTreeMap;
use std::path::Path;

use fingertip_anonymize::{KeyStore, KeysConfig};
use fingertip_model::DataDir;
use fingertip_model::Trigger;
use fingertip_store::StoredEvent;
use fingertip_store::lake::{ParquetOptions, date_of, write_partition};

/// One raw event of a fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub person_ref: String,
    pub app_id: String,
    pub org_unit: String,
    pub event_type: String,
    pub trigger: Trigger,
    pub started_at_ms: i64,
    pub duration_s: f64,
    pub data_elements: Vec<String>,
}

impl Event {
    pub fn new(
        person: &str,
        app: &str,
        unit: &str,
        event_type: &str,
        started_at_ms: i64,
        duration_s: f64,
    ) -> Self {
        Self {
            person_ref: person.into(),
            app_id: app.into(),
            org_unit: unit.into(),
            event_type: event_type.into(),
            trigger: Trigger::Mandatory,
            started_at_ms,
            duration_s,
            data_elements: Vec::new(),
        }
    }
}

/// Milliseconds of an RFC 3339 instant.
pub fn ms(rfc3339: &str) -> i64 {
    fingertip_model::parse_rfc3339_ms(rfc3339).expect("valid timestamp")
}

/// Writes `events` into `<data>/events/...` as Parquet, one file per partition.
pub fn write_lake(data_dir: &Path, events: &[Event]) -> anyhow::Result<()> {
    let keys = KeyStore::open(data_dir, KeysConfig::default())?;
    let mut parts: BTreeMap<(String, String), Vec<StoredEvent>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let epoch = keys.epoch_of(e.started_at_ms).label;
        let stored = StoredEvent {
            event_id: 0x1000_0000_0000_4000_8000_0000_0000_0000 + i as u128,
            person: keys.pseudonym(&epoch, &e.person_ref)?,
            key_epoch: epoch,
            org_unit: e.org_unit.clone(),
            event_type: e.event_type.clone(),
            trigger: e.trigger,
            started_at_ms: fingertip_model::coarsen_ms(e.started_at_ms, 60),
            duration_s: e.duration_s,
            data_elements: e.data_elements.clone(),
        };
        parts
            .entry((date_of(e.started_at_ms), e.app_id.clone()))
            .or_default()
            .push(stored);
    }
    for (n, ((date, app), rows)) in parts.iter().enumerate() {
        let mut refs: Vec<_> = rows.iter().map(StoredEvent::view).collect();
        let (events, file) = (DataDir::new(data_dir).events(), format!("fixture-{n:06}"));
        write_partition(
            &events,
            (date, app),
            &file,
            &mut refs,
            ParquetOptions::default(),
        )?;
    }
    Ok(())
}

/// The population of the SQL golden tests: three org units (30, 20 and 4 workers), four
/// apps, two weeks of October 2026 (key epoch 2026Q4) and a few events on 2026-09-28 (2026Q3).
/// Every number is chosen so that exact answers are easy to check by hand.
pub fn golden_population() -> Vec<Event> {
    let mut out = Vec::new();
    let units = [("u1", 30), ("u2", 20), ("u3", 4)];
    let mut worker = 0;
    for (unit, n) in units {
        for _ in 0..n {
            worker += 1;
            out.extend(golden_worker(&format!("W{worker:03}"), unit));
        }
    }
    for w in 1..=12 {
        out.push(Event::new(
            &format!("W{w:03}"),
            "attendance",
            "u1",
            "check_in",
            ms("2026-09-28T01:00:00Z"),
            60.0,
        ));
    }
    out
}

fn golden_worker(person: &str, unit: &str) -> Vec<Event> {
    let mut out = Vec::new();
    let monday = ms("2026-10-05T00:00:00Z");
    let day = 86_400_000;
    for week in 0..2 {
        for d in 0..5 {
            let t = monday + (week * 7 + d) * day;
            out.push(Event::new(
                person,
                "attendance",
                unit,
                "check_in",
                t + 3_600_000,
                60.0,
            ));
            let mut login = Event::new(person, "study", unit, "login", t + 4_000_000, 30.0);
            login.trigger = Trigger::Reminder;
            out.push(login);
        }
        for (i, d) in [0, 2, 4].into_iter().enumerate() {
            let t = monday + (week * 7 + d) * day + 7_200_000;
            let mut form = Event::new(person, "survey", unit, "form_submit", t, 300.0);
            form.trigger = if i == 0 {
                Trigger::Mandatory
            } else {
                Trigger::Voluntary
            };
            form.data_elements = vec!["hh.size".into(), "hh.income".into()];
            out.push(form);
        }
        let mut demand = Event::new(
            person,
            "messenger",
            unit,
            "group_demand",
            monday + (week * 7 + 1) * day + 13 * 3_600_000,
            120.0,
        );
        demand.trigger = Trigger::Mandatory;
        out.push(demand);
    }
    out
}

/// The org-unit dimension table of the golden tests (`<data>/dimensions/org_units.csv`).
pub const GOLDEN_ORG_UNITS: &str =
    "code,county,level\nu1,c1,township\nu2,c1,township\nu3,c2,township\n";

/// A query engine over `data_dir` with real noise and the default query configuration, whose
/// ledger holds `epsilon_total` (δ 0.5) per epoch, so that tests are refused only when they
/// mean to be.
pub fn query_engine(data_dir: &Path, epsilon_total: f64) -> fingertip_query::Engine {
    let budget = fingertip_dp::BudgetConfig {
        epsilon_total,
        delta_total: 0.5,
        ..Default::default()
    };
    let ledger = fingertip_dp::Ledger::open(data_dir, &budget).expect("ledger");
    fingertip_query::Engine::new(
        data_dir,
        Default::default(),
        fingertip_query::QueryConfig::default(),
        ledger,
        Default::default(),
    )
}
