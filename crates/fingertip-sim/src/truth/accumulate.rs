//! Streaming accumulation of the true indices: additive sums per cell, and per (person, week)
//! the units, apps and data-element entries that the person-level indices need.

use std::collections::HashMap;
use std::sync::Arc;

use fingertip_model::Trigger;

use super::{Index, IndexRow, TruthConfig, burden};
use crate::calendar::{self, iso_week_label, monday_of};
use crate::event::{EventType, SimEvent};

/// The id standing for `*` (all apps or all units).
const STAR: u32 = u32::MAX;

/// Additive sums of one (week, app, unit) cell.
#[derive(Debug, Clone, Default)]
struct CellSums {
    checkin_s: f64,
    mandatory_s: f64,
    proofs: u64,
    uses: u64,
    forced_uses: u64,
    demands: u64,
    after_hours: u64,
    rankings: u64,
    entries: u64,
    duplicates: u64,
}

impl CellSums {
    fn add(&mut self, e: &SimEvent, after_hours: bool) {
        match e.event_type {
            EventType::CheckIn => self.checkin_s += e.duration_s,
            EventType::ProofUpload => self.proofs += 1,
            EventType::Session | EventType::Login => {
                self.uses += 1;
                self.forced_uses +=
                    u64::from(matches!(e.trigger, Trigger::Mandatory | Trigger::Reminder));
            }
            EventType::GroupDemand => {
                self.demands += 1;
                self.after_hours += u64::from(after_hours);
            }
            EventType::RankingPublished => self.rankings += 1,
            EventType::FormSubmit | EventType::StudySession => {}
        }
        if e.trigger == Trigger::Mandatory {
            self.mandatory_s += e.duration_s;
        }
        self.entries += e.data_elements.len() as u64;
    }
}

/// Entries of one element code made by one person in one app and unit in one week.
#[derive(Debug, Clone)]
struct Entry {
    element: u32,
    app: u32,
    unit: u32,
    count: u32,
}

#[derive(Debug, Default)]
struct PersonWeek {
    units: Vec<u32>,
    apps: Vec<u32>,
    entries: Vec<Entry>,
}

impl PersonWeek {
    fn add(&mut self, app: u32, unit: u32, elements: impl Iterator<Item = u32>) {
        insert_sorted(&mut self.units, unit);
        insert_sorted(&mut self.apps, app);
        for element in elements {
            match self
                .entries
                .iter_mut()
                .find(|x| (x.element, x.app, x.unit) == (element, app, unit))
            {
                Some(entry) => entry.count += 1,
                None => self.entries.push(Entry {
                    element,
                    app,
                    unit,
                    count: 1,
                }),
            }
        }
    }

    /// Entries whose element the same person also entered in another app this week.
    fn duplicates(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|x| {
            self.entries
                .iter()
                .any(|o| o.element == x.element && o.app != x.app)
        })
    }
}

fn insert_sorted(v: &mut Vec<u32>, x: u32) {
    if let Err(at) = v.binary_search(&x) {
        v.insert(at, x);
    }
}

/// Strings to dense ids.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<Arc<str>, u32>,
    names: Vec<Arc<str>>,
}

impl Interner {
    fn id(&mut self, s: &Arc<str>) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(s.clone(), id);
        self.names.push(s.clone());
        id
    }

    fn name(&self, id: u32) -> &str {
        if id == STAR {
            "*"
        } else {
            &self.names[id as usize]
        }
    }
}

/// Accumulates events; [`TruthBuilder::finish`] turns the sums into indices.
#[derive(Debug)]
pub struct TruthBuilder {
    config: TruthConfig,
    weeks: HashMap<i64, u32>,
    week_labels: Vec<String>,
    apps: Interner,
    units: Interner,
    elements: Interner,
    persons: Interner,
    cells: HashMap<(u32, u32, u32), CellSums>,
    person_weeks: HashMap<(u32, u32), PersonWeek>,
}

impl TruthBuilder {
    pub fn new(config: TruthConfig) -> Self {
        Self {
            config,
            weeks: HashMap::new(),
            week_labels: Vec::new(),
            apps: Interner::default(),
            units: Interner::default(),
            elements: Interner::default(),
            persons: Interner::default(),
            cells: HashMap::new(),
            person_weeks: HashMap::new(),
        }
    }

    /// Adds one event.
    pub fn observe(&mut self, e: &SimEvent) {
        let local = calendar::local_seconds(self.config.tz, e.started_at_ms);
        let day = local.div_euclid(86_400);
        let weekday = (day + 3).rem_euclid(7) as u32;
        let after_hours = self
            .config
            .is_after_hours(weekday, local.rem_euclid(86_400) as u32);
        let week = self.week_of(day);
        let (app, unit) = (self.apps.id(&e.app_id), self.units.id(&e.org_unit));
        for key in [
            (week, app, unit),
            (week, STAR, unit),
            (week, app, STAR),
            (week, STAR, STAR),
        ] {
            self.cells.entry(key).or_default().add(e, after_hours);
        }
        let person = self.persons.id(&e.person_ref);
        let elements: Vec<u32> = e
            .data_elements
            .iter()
            .map(|d| self.elements.id(d))
            .collect();
        self.person_weeks
            .entry((person, week))
            .or_default()
            .add(app, unit, elements.into_iter());
    }

    fn week_of(&mut self, local_day: i64) -> u32 {
        let monday = monday_of(local_day);
        let labels = &mut self.week_labels;
        *self.weeks.entry(monday).or_insert_with(|| {
            labels.push(iso_week_label(monday));
            labels.len() as u32 - 1
        })
    }

    /// Settles the person-level sums and returns the indices.
    pub fn finish(mut self) -> Truth {
        let workers = self.settle_persons();
        let mut cells: Vec<_> = self
            .cells
            .into_iter()
            .map(|(k, sums)| {
                (
                    k,
                    workers.get(&(k.0, k.2)).copied().unwrap_or_default(),
                    sums,
                )
            })
            .collect();
        let names = Names {
            weeks: self.week_labels,
            apps: self.apps,
            units: self.units,
        };
        cells.sort_by(|a, b| names.of(a.0).cmp(&names.of(b.0)));
        Truth {
            names,
            cells,
            burden: self.config.burden,
        }
    }
}

impl TruthBuilder {
    /// Counts active workers and their apps per (week, unit), and adds duplicate entries to
    /// their cells.
    fn settle_persons(&mut self) -> HashMap<(u32, u32), Workers> {
        let mut workers: HashMap<(u32, u32), Workers> = HashMap::new();
        for (&(_, week), pw) in &self.person_weeks {
            for &unit in pw.units.iter().chain([STAR].iter()) {
                let w = workers.entry((week, unit)).or_default();
                w.active += 1;
                w.apps += pw.apps.len() as u64;
            }
            for entry in pw.duplicates() {
                for (a, u) in [
                    (entry.app, entry.unit),
                    (STAR, entry.unit),
                    (entry.app, STAR),
                    (STAR, STAR),
                ] {
                    if let Some(cell) = self.cells.get_mut(&(week, a, u)) {
                        cell.duplicates += u64::from(entry.count);
                    }
                }
            }
        }
        workers
    }
}

/// The names behind the ids of a cell key.
#[derive(Debug)]
struct Names {
    weeks: Vec<String>,
    apps: Interner,
    units: Interner,
}

impl Names {
    fn of(&self, (week, app, unit): (u32, u32, u32)) -> (&str, &str, &str) {
        (
            &self.weeks[week as usize],
            self.apps.name(app),
            self.units.name(unit),
        )
    }
}

/// Active workers of a (week, unit) and the sum of their distinct-app counts.
#[derive(Debug, Clone, Copy, Default)]
struct Workers {
    active: u64,
    apps: u64,
}

/// The true indices, cell by cell in (week, app, unit) order.
#[derive(Debug)]
pub struct Truth {
    names: Names,
    cells: Vec<((u32, u32, u32), Workers, CellSums)>,
    burden: Vec<super::BurdenComponent>,
}

impl Truth {
    /// Every defined index of every cell, cells in (week, app, unit) order (`*` first),
    /// indices in [`Index::ALL`] order.
    pub fn rows(&self) -> impl Iterator<Item = IndexRow> + '_ {
        self.cells.iter().flat_map(move |(key, workers, sums)| {
            let (week, app, unit) = self.names.of(*key);
            let values = self.cell_values(key.1 == STAR, *workers, sums);
            values
                .into_iter()
                .map(move |(index, numerator, denominator)| IndexRow {
                    index,
                    week: week.to_string(),
                    app_id: app.to_string(),
                    org_unit: unit.to_string(),
                    value: numerator / denominator,
                    numerator,
                    denominator,
                })
        })
    }

    /// The row of one index in one cell, if defined.
    pub fn get(&self, index: Index, week: &str, app_id: &str, org_unit: &str) -> Option<IndexRow> {
        self.rows().find(|r| {
            r.index == index && r.week == week && r.app_id == app_id && r.org_unit == org_unit
        })
    }

    /// The number of cells (with at least one event).
    pub fn cell_count(&self) -> usize {
        self.cells.len()
    }

    /// (index, numerator, denominator) of every defined index of one cell.
    fn cell_values(&self, all_apps: bool, w: Workers, s: &CellSums) -> Vec<(Index, f64, f64)> {
        let active = w.active as f64;
        let mut out = vec![
            (Index::CheckinMinutesPerWorker, s.checkin_s / 60.0, active),
            (
                Index::ComplianceMinutesPerWorker,
                s.mandatory_s / 60.0,
                active,
            ),
            (Index::ForcedUseShare, s.forced_uses as f64, s.uses as f64),
            (Index::ProofUploadsPerWorker, s.proofs as f64, active),
            (
                Index::DuplicateEntryRate,
                s.duplicates as f64,
                s.entries as f64,
            ),
        ];
        if all_apps {
            out.push((Index::AppsPerWorker, w.apps as f64, active));
        }
        out.push((
            Index::AfterHoursDemandShare,
            s.after_hours as f64,
            s.demands as f64,
        ));
        out.push((Index::RankingsPublished, s.rankings as f64, 1.0));
        out.retain(|v| v.2 > 0.0);
        if let Some((num, den)) = burden(&self.burden, &out) {
            out.push((Index::BurdenIndex, num, den));
        }
        out
    }
}
