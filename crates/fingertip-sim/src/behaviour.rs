//! What one worker does in one week, app by app: the burden model.
//!
//! Times are local (the simulation's time zone); working hours are Monday–Friday 08:00–18:00.
//! Each app's events follow the township's [`UnitProfile`]: heavy units check in several times
//! a day (weekends too) and upload proof screenshots, re-type household data into the poverty
//! registry, get work-group demands at night, and must log in and study daily while the study
//! app publishes a ranking of them every Monday; light units do little of this.

use std::sync::Arc;

use fingertip_model::Trigger;

use crate::calendar::Day;
use crate::event::{App, EventType, SimEvent};
use crate::org::UnitProfile;
use crate::population::{Distribution, Population};
use crate::rng::Rng;

const HOUR: u32 = 3_600;

/// Generates the events of one worker-week into `out` (unsorted).
pub(crate) struct WeekGen<'a> {
    pop: &'a Population,
    profile: &'a UnitProfile,
    rng: Rng,
    person: Arc<str>,
    home: Arc<str>,
    app: App,
    /// Household elements (bits of `HOUSEHOLD_ELEMENTS`) entered in the household survey.
    household: u16,
    out: &'a mut Vec<SimEvent>,
}

impl<'a> WeekGen<'a> {
    pub(crate) fn new(
        pop: &'a Population,
        worker: u32,
        rng: Rng,
        out: &'a mut Vec<SimEvent>,
    ) -> Self {
        let township = &pop.org.townships[pop.workers[worker as usize].township as usize];
        let profile = match pop.options.distribution {
            Distribution::Realistic => &township.profile,
            Distribution::Adversarial => &UnitProfile::WORST_CASE,
        };
        Self {
            pop,
            profile,
            rng,
            person: Population::person_ref(worker).into(),
            home: township.unit.code.clone(),
            app: App::Attendance,
            household: 0,
            out,
        }
    }

    /// Runs every app the worker uses over `days` (the household survey before the registry,
    /// so that re-entered data can be the data entered that week).
    pub(crate) fn run(&mut self, worker: u32, days: &[Day]) {
        let apps = self.pop.workers[worker as usize];
        for app in App::ALL.into_iter().filter(|a| apps.uses(*a)) {
            self.app = app;
            for day in days {
                self.day(app, day);
            }
        }
    }

    fn day(&mut self, app: App, day: &Day) {
        match app {
            App::Attendance => self.attendance(day),
            App::HouseholdSurvey => self.household_survey(day),
            App::PovertyRegistry => self.poverty_registry(day),
            App::Study => self.study(day),
            App::WorkGroups => self.work_groups(day),
            App::GridPatrol => self.grid_patrol(day),
        }
    }

    fn attendance(&mut self, day: &Day) {
        let p = self.profile;
        let checkins = match (day.is_weekend(), p.weekend_checkins) {
            (false, _) => p.checkins_per_day,
            (true, true) => 1,
            (true, false) => 0,
        };
        const SLOTS: [(u32, u32); 3] = [
            (7 * HOUR + 1800, 8 * HOUR + 1800),
            (12 * HOUR, 13 * HOUR + 1800),
            (17 * HOUR + 1800, 18 * HOUR + 1800),
        ];
        let slots: &[usize] = if checkins >= 3 {
            &[0, 1, 2]
        } else if checkins == 2 {
            &[0, 2]
        } else {
            &[0]
        };
        for &slot in slots.iter().take(checkins as usize) {
            let at = self.rng.range(SLOTS[slot].0, SLOTS[slot].1);
            let duration = if p.checkins_per_day > 1 {
                self.rng.tri(60, 420)
            } else {
                self.rng.tri(15, 90)
            };
            self.push(
                day,
                at,
                EventType::CheckIn,
                Trigger::Mandatory,
                duration,
                Vec::new(),
            );
            if self.rng.chance(p.proof_rate) {
                let proof = self.rng.tri(60, 600);
                self.push(
                    day,
                    at + duration + 30,
                    EventType::ProofUpload,
                    Trigger::Mandatory,
                    proof,
                    Vec::new(),
                );
            }
        }
        if !day.is_weekend() {
            let at = self.work_time();
            let (trigger, duration) = (self.use_trigger(), self.rng.tri(60, 600));
            self.push(day, at, EventType::Session, trigger, duration, Vec::new());
        }
    }

    fn household_survey(&mut self, day: &Day) {
        if day.is_weekend() {
            return;
        }
        let forms = self.rng.count(1.6);
        for _ in 0..forms {
            let at = self.work_time();
            let picked = self.pick_household(2, 6);
            self.household |= picked;
            let elements = self.household_codes(picked);
            let trigger = self.task_trigger();
            let duration = self.rng.tri(300, 1800);
            self.push(day, at, EventType::FormSubmit, trigger, duration, elements);
        }
        self.login_if(forms > 0, day);
    }

    fn poverty_registry(&mut self, day: &Day) {
        if day.is_weekend() {
            return;
        }
        let barrier = self.profile.data_barrier;
        let forms = self.rng.count(if barrier { 1.0 } else { 0.4 });
        for _ in 0..forms {
            let mut elements = if barrier {
                self.reentered()
            } else {
                Vec::new()
            };
            let extra = self.rng.range(1, if barrier { 2 } else { 3 });
            for _ in 0..extra {
                let code = self.rng.index(self.pop.registry.len());
                elements.push(self.pop.registry[code].clone());
            }
            let (at, trigger, duration) = (
                self.work_time(),
                self.task_trigger(),
                self.rng.tri(600, 2400),
            );
            self.push(day, at, EventType::FormSubmit, trigger, duration, elements);
        }
        self.login_if(forms > 0, day);
    }

    fn study(&mut self, day: &Day) {
        let p = self.profile;
        if p.rankings && day.weekday == 0 {
            let at = self.rng.range(9 * HOUR, 10 * HOUR);
            self.push(
                day,
                at,
                EventType::RankingPublished,
                Trigger::Unknown,
                0,
                Vec::new(),
            );
        }
        let mandatory = p.mandatory_study && (!day.is_weekend() || self.rng.chance(0.3));
        if mandatory {
            let at = self.work_time();
            let login = self.rng.tri(15, 120);
            self.push(
                day,
                at,
                EventType::Login,
                Trigger::Mandatory,
                login,
                Vec::new(),
            );
            let duration = self.rng.tri(900, 2700);
            self.push(
                day,
                at + 150,
                EventType::StudySession,
                Trigger::Mandatory,
                duration,
                Vec::new(),
            );
        } else if self.rng.chance(0.3) {
            let at = self.rng.range(8 * HOUR, 22 * HOUR);
            let trigger = if self.rng.chance(0.3) {
                Trigger::Reminder
            } else {
                Trigger::Voluntary
            };
            let login = self.rng.tri(10, 60);
            self.push(day, at, EventType::Login, trigger, login, Vec::new());
            let duration = self.rng.tri(300, 1200);
            self.push(
                day,
                at + 90,
                EventType::StudySession,
                trigger,
                duration,
                Vec::new(),
            );
        }
    }

    fn work_groups(&mut self, day: &Day) {
        let p = self.profile;
        let mean = if day.is_weekend() {
            p.demands_per_day * p.after_hours_share * 0.5
        } else {
            p.demands_per_day
        };
        for _ in 0..self.rng.count(mean) {
            let at = if !day.is_weekend() && self.rng.chance(p.after_hours_share) {
                self.after_hours_time()
            } else {
                self.work_time()
            };
            let trigger = if self.rng.chance(0.8) {
                Trigger::Mandatory
            } else {
                Trigger::Reminder
            };
            let duration = self.rng.tri(120, 1800);
            self.push(
                day,
                at,
                EventType::GroupDemand,
                trigger,
                duration,
                Vec::new(),
            );
        }
        if !day.is_weekend() {
            let (at, trigger, duration) = (
                self.work_time(),
                self.use_trigger(),
                self.rng.tri(120, 1200),
            );
            self.push(day, at, EventType::Session, trigger, duration, Vec::new());
        }
    }

    fn grid_patrol(&mut self, day: &Day) {
        let weekend = day.is_weekend();
        if weekend && !(self.profile.weekend_checkins && self.rng.chance(0.5)) {
            return;
        }
        let at = self.rng.range(9 * HOUR, 11 * HOUR);
        let checkin = self.rng.tri(30, 180);
        self.push(
            day,
            at,
            EventType::CheckIn,
            Trigger::Mandatory,
            checkin,
            Vec::new(),
        );
        let patrol = self.rng.tri(1_200, 7_200);
        let trigger = if self.rng.chance(0.8) {
            Trigger::Mandatory
        } else {
            self.use_trigger()
        };
        self.push(
            day,
            at + checkin,
            EventType::Session,
            trigger,
            patrol,
            Vec::new(),
        );
        if self.rng.chance(self.profile.proof_rate.max(0.3)) {
            let proof = self.rng.tri(60, 600);
            self.push(
                day,
                at + checkin + patrol,
                EventType::ProofUpload,
                Trigger::Mandatory,
                proof,
                Vec::new(),
            );
        }
    }

    fn login_if(&mut self, any: bool, day: &Day) {
        if any {
            let (at, trigger) = (self.rng.range(8 * HOUR, 9 * HOUR), self.use_trigger());
            let duration = self.rng.tri(10, 90);
            self.push(day, at, EventType::Login, trigger, duration, Vec::new());
        }
    }

    /// A random subset (as bits) of between `lo` and `hi` household elements.
    fn pick_household(&mut self, lo: u32, hi: u32) -> u16 {
        let n = self.pop.household.len();
        let mut bits = 0u16;
        for _ in 0..self.rng.range(lo, hi) {
            bits |= 1 << self.rng.index(n);
        }
        bits
    }

    fn household_codes(&self, bits: u16) -> Vec<Arc<str>> {
        let all = &self.pop.household;
        (0..all.len())
            .filter(|i| bits & (1 << i) != 0)
            .map(|i| all[i].clone())
            .collect()
    }

    /// Household data typed again: most of this week's survey elements (or some, if none).
    fn reentered(&mut self) -> Vec<Arc<str>> {
        let seen = if self.household != 0 {
            self.household
        } else {
            self.pick_household(2, 4)
        };
        let keep = seen & self.pick_household(6, 12);
        self.household_codes(if keep != 0 { keep } else { seen })
    }

    /// Why a session or login happened, by the unit's shares.
    fn use_trigger(&mut self) -> Trigger {
        let p = self.profile;
        match self.rng.next_f64() {
            x if x < p.mandatory_share => Trigger::Mandatory,
            x if x < p.mandatory_share + p.reminder_share => Trigger::Reminder,
            x if x < 0.98 => Trigger::Voluntary,
            _ => Trigger::Unknown,
        }
    }

    /// Why a form was filled in: mostly an assigned task.
    fn task_trigger(&mut self) -> Trigger {
        match self.rng.next_f64() {
            x if x < 0.7 => Trigger::Mandatory,
            x if x < 0.9 => Trigger::Reminder,
            _ => Trigger::Voluntary,
        }
    }

    /// A local time inside working hours (08:10–17:50).
    fn work_time(&mut self) -> u32 {
        self.rng.range(8 * HOUR + 600, 17 * HOUR + 3_000)
    }

    /// A local time in the evening (18:05–23:30) or early morning (06:30–07:55).
    fn after_hours_time(&mut self) -> u32 {
        if self.rng.chance(0.8) {
            self.rng.range(18 * HOUR + 300, 23 * HOUR + 1_800)
        } else {
            self.rng.range(6 * HOUR + 1_800, 7 * HOUR + 3_300)
        }
    }

    fn push(
        &mut self,
        day: &Day,
        at: u32,
        ty: EventType,
        trigger: Trigger,
        duration: u32,
        elements: Vec<Arc<str>>,
    ) {
        let started_at_ms = day.at(at);
        if started_at_ms > self.pop.options.end_ms {
            return;
        }
        let org_unit = match self.pop.options.distribution {
            Distribution::Realistic => self.home.clone(),
            Distribution::Adversarial => {
                let townships = &self.pop.org.townships;
                townships[self.rng.index(townships.len())].unit.code.clone()
            }
        };
        self.out.push(SimEvent {
            event_id: self.rng.uuid_v4(),
            person_ref: self.person.clone(),
            app_id: self.pop.app_id(self.app),
            org_unit,
            event_type: ty,
            trigger,
            started_at_ms,
            duration_s: f64::from(duration.min(ty.max_duration_s())),
            data_elements: elements,
        });
    }
}
