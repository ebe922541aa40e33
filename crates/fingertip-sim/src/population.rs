//! The simulated population: options, the org tree, each worker's township and apps, the
//! simulated days, and the shared strings (app ids, data-element codes) events point to.

use std::str::FromStr;
use std::sync::Arc;

use chrono_tz::Tz;

use crate::calendar::{self, Day};
use crate::event::App;
use crate::org::{OrgTree, UnitProfile};
use crate::rng::Rng;

/// Tag of the per-worker random stream.
const STREAM_WORKER: u64 = 2;

/// Household data elements (typed into the household survey, and again into the poverty
/// registry where there is a data barrier).
pub const HOUSEHOLD_ELEMENTS: [&str; 12] = [
    "hh.size",
    "hh.income",
    "hh.members",
    "hh.address",
    "hh.head_name",
    "hh.phone",
    "hh.housing",
    "hh.land_area",
    "hh.health",
    "hh.insurance",
    "hh.labour",
    "hh.subsidy",
];

/// Data elements only the poverty registry asks for.
pub const REGISTRY_ELEMENTS: [&str; 4] = [
    "pr.assistance_type",
    "pr.verification",
    "pr.cause",
    "pr.plan",
];

/// How workers are spread over apps and org units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Distribution {
    /// Each worker belongs to one township and uses about five apps.
    #[default]
    Realistic,
    /// Each event's org unit is drawn from all townships and every worker uses every app with
    /// every burden practice at full strength ([`UnitProfile::WORST_CASE`]), so there are very
    /// many (person, group) pairs and large contributions: a worst case for bounding.
    Adversarial,
}

impl Distribution {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Realistic => "realistic",
            Self::Adversarial => "adversarial",
        }
    }
}

impl FromStr for Distribution {
    type Err = crate::SimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "realistic" => Ok(Self::Realistic),
            "adversarial" => Ok(Self::Adversarial),
            _ => Err(crate::SimError::InvalidOption {
                option: "distribution",
                problem: "must be `realistic` or `adversarial`",
            }),
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    pub workers: u32,
    pub weeks: u32,
    pub seed: u64,
    pub distribution: Distribution,
    /// No event starts after this instant (ms since the Unix epoch). Events lie on the
    /// `weeks × 7` local dates ending with the date of `end_ms`.
    pub end_ms: i64,
    /// The time zone whose working days and hours the simulated staff keep.
    pub tz: Tz,
}

impl SimOptions {
    /// Realistic, ending now, in `Asia/Shanghai`.
    pub fn new(workers: u32, weeks: u32, seed: u64) -> Self {
        Self {
            workers,
            weeks,
            seed,
            distribution: Distribution::Realistic,
            end_ms: chrono::Utc::now().timestamp_millis(),
            tz: chrono_tz::Asia::Shanghai,
        }
    }
}

/// One worker: a township (index into [`OrgTree::townships`]) and the apps used (bitmask of
/// [`App::bit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Worker {
    pub township: u32,
    pub apps: u8,
}

impl Worker {
    pub fn uses(&self, app: App) -> bool {
        self.apps & app.bit() != 0
    }
}

/// Everything needed to generate any worker-week on its own.
#[derive(Debug, Clone)]
pub struct Population {
    pub options: SimOptions,
    pub org: OrgTree,
    pub workers: Vec<Worker>,
    pub days: Vec<Day>,
    pub(crate) app_ids: Vec<Arc<str>>,
    pub(crate) household: Vec<Arc<str>>,
    pub(crate) registry: Vec<Arc<str>>,
}

impl Population {
    pub fn new(options: SimOptions) -> Self {
        let org = OrgTree::generate(options.seed, options.workers);
        let workers = assign_workers(&options, &org);
        let days = calendar::days_ending_at(options.tz, options.end_ms, options.weeks * 7);
        let shared = |codes: &[&str]| codes.iter().map(|c| Arc::from(*c)).collect();
        Self {
            app_ids: App::ALL.iter().map(|a| Arc::from(a.id())).collect(),
            household: shared(&HOUSEHOLD_ELEMENTS),
            registry: shared(&REGISTRY_ELEMENTS),
            options,
            org,
            workers,
            days,
        }
    }

    /// The test `person_ref` of worker `index`, e.g. `EMP-000123`.
    pub fn person_ref(index: u32) -> String {
        format!("EMP-{index:06}")
    }

    /// The profile of the township worker `index` belongs to.
    pub fn profile(&self, index: u32) -> &UnitProfile {
        &self.org.townships[self.workers[index as usize].township as usize].profile
    }

    pub(crate) fn app_id(&self, app: App) -> Arc<str> {
        self.app_ids[app as usize].clone()
    }
}

fn assign_workers(options: &SimOptions, org: &OrgTree) -> Vec<Worker> {
    let cumulative: Vec<f64> = org
        .townships
        .iter()
        .scan(0.0, |sum, t| {
            *sum += t.weight;
            Some(*sum)
        })
        .collect();
    let total = cumulative.last().copied().unwrap_or(0.0);
    (0..options.workers)
        .map(|i| {
            let mut rng = Rng::derive(options.seed, &[STREAM_WORKER, u64::from(i)]);
            let x = rng.next_f64() * total;
            let township = cumulative
                .partition_point(|&c| c <= x)
                .min(cumulative.len() - 1);
            let profile = &org.townships[township].profile;
            let apps = match options.distribution {
                Distribution::Realistic => realistic_apps(profile, &mut rng),
                Distribution::Adversarial => App::ALL.iter().fold(0, |m, a| m | a.bit()),
            };
            Worker {
                township: township as u32,
                apps,
            }
        })
        .collect()
}

/// About five apps per worker: attendance always, the rest by the unit's practices.
fn realistic_apps(profile: &UnitProfile, rng: &mut Rng) -> u8 {
    let mut apps = App::Attendance.bit();
    let mut maybe = |app: App, p: f64| {
        if rng.chance(p) {
            apps |= app.bit();
        }
    };
    maybe(App::WorkGroups, 0.95);
    maybe(App::Study, if profile.mandatory_study { 1.0 } else { 0.85 });
    maybe(
        App::HouseholdSurvey,
        if profile.data_barrier { 1.0 } else { 0.7 },
    );
    maybe(
        App::PovertyRegistry,
        if profile.data_barrier { 1.0 } else { 0.3 },
    );
    maybe(App::GridPatrol, profile.grid_patrol_share);
    apps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_spread_unevenly_over_townships() {
        let pop = Population::new(SimOptions::new(3_000, 1, 9));
        let mut counts = vec![0u32; pop.org.townships.len()];
        pop.workers
            .iter()
            .for_each(|w| counts[w.township as usize] += 1);
        let max = counts.iter().max().copied().unwrap_or(0);
        let min = counts.iter().min().copied().unwrap_or(0);
        assert!(max > 3 * min.max(1), "min {min} max {max}");
        let apps: u32 = pop.workers.iter().map(|w| w.apps.count_ones()).sum();
        let mean = f64::from(apps) / 3_000.0;
        assert!((4.0..=5.5).contains(&mean), "mean apps {mean}");
    }
}
