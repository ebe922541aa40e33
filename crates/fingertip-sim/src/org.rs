//! The simulated org-unit hierarchy (counties → townships), each township's burden profile,
//! and the org-unit dimension table (`code,parent,level,name`).
//!
//! Codes look like `c02` (county) and `c02-t07` (township) and always match
//! `[A-Za-z0-9._-]{1,64}`. Workers belong to townships; counties exist for roll-ups in SQL.

use std::io::Write;
use std::sync::Arc;

use crate::rng::Rng;

/// Tag of the org-tree random stream.
const STREAM_ORG: u64 = 1;
/// About this many workers share a township.
const WORKERS_PER_TOWNSHIP: u32 = 30;

/// The level of an org unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    County,
    Township,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::County => "county",
            Self::Township => "township",
        }
    }
}

/// How much the apps weigh on a township's staff overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    Heavy,
    Medium,
    Light,
}

impl Tier {
    /// The probability that a burden practice is imposed on a unit of this tier.
    fn imposes(self) -> f64 {
        match self {
            Self::Heavy => 0.85,
            Self::Medium => 0.4,
            Self::Light => 0.05,
        }
    }
}

/// The practices imposed on one township's staff. Each is drawn on its own (with the
/// tier's probability), so units are heavy in different ways.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitProfile {
    pub tier: Tier,
    /// Check-ins per working day in the attendance app (several in heavy units).
    pub checkins_per_day: u32,
    /// Check-ins are also demanded on weekends.
    pub weekend_checkins: bool,
    /// Probability that a check-in must be followed by a proof screenshot.
    pub proof_rate: f64,
    /// Household data must be typed again into the poverty registry.
    pub data_barrier: bool,
    /// Work-group demands per working day.
    pub demands_per_day: f64,
    /// Share of work-group demands sent outside working hours.
    pub after_hours_share: f64,
    /// Share of sessions and logins that are mandatory, and that follow a reminder.
    pub mandatory_share: f64,
    pub reminder_share: f64,
    /// Study is mandatory (daily sessions and logins).
    pub mandatory_study: bool,
    /// The study app publishes a weekly ranking naming staff.
    pub rankings: bool,
    /// Share of staff who also patrol a grid with the grid-patrol app.
    pub grid_patrol_share: f64,
}

impl UnitProfile {
    /// Every practice at full strength: the behaviour of the adversarial distribution, where
    /// workers use every app every week and contribute as much as the model allows.
    pub const WORST_CASE: UnitProfile = UnitProfile {
        tier: Tier::Heavy,
        checkins_per_day: 3,
        weekend_checkins: true,
        proof_rate: 1.0,
        data_barrier: true,
        demands_per_day: 4.5,
        after_hours_share: 0.6,
        mandatory_share: 0.9,
        reminder_share: 0.08,
        mandatory_study: true,
        rankings: true,
        grid_patrol_share: 1.0,
    };

    fn draw(rng: &mut Rng) -> Self {
        let tier = match rng.next_f64() {
            x if x < 0.3 => Tier::Heavy,
            x if x < 0.7 => Tier::Medium,
            _ => Tier::Light,
        };
        let p = tier.imposes();
        let forced_checkins = rng.chance(p);
        let mandatory_study = rng.chance(p);
        let after_hours = rng.chance(p);
        let mandatory_use = rng.chance(p);
        Self {
            tier,
            checkins_per_day: if forced_checkins { rng.range(2, 3) } else { 1 },
            weekend_checkins: forced_checkins && rng.chance(0.6),
            proof_rate: if rng.chance(p) {
                0.7 + 0.3 * rng.next_f64()
            } else {
                0.05
            },
            data_barrier: rng.chance(p),
            demands_per_day: if after_hours { 3.5 } else { 1.5 } + rng.next_f64(),
            after_hours_share: if after_hours {
                0.3 + 0.3 * rng.next_f64()
            } else {
                0.04
            },
            mandatory_share: if mandatory_use {
                0.6 + 0.3 * rng.next_f64()
            } else {
                0.1
            },
            reminder_share: 0.1 + 0.2 * rng.next_f64(),
            mandatory_study,
            rankings: mandatory_study && rng.chance(0.8),
            grid_patrol_share: if rng.chance(p) { 0.85 } else { 0.15 },
        }
    }
}

/// One org unit, as in the dimension table.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgUnit {
    pub code: Arc<str>,
    pub parent: Option<Arc<str>>,
    pub level: Level,
    pub name: String,
}

/// A township: its unit, its profile and its relative size.
#[derive(Debug, Clone, PartialEq)]
pub struct Township {
    pub unit: OrgUnit,
    pub profile: UnitProfile,
    /// Relative number of staff (uneven: a few big townships, many small ones).
    pub weight: f64,
}

/// Counties and their townships.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgTree {
    pub counties: Vec<OrgUnit>,
    pub townships: Vec<Township>,
}

impl OrgTree {
    /// A hierarchy sized for `workers` staff (about 30 per township, 6–14 townships per county).
    pub fn generate(seed: u64, workers: u32) -> Self {
        let mut rng = Rng::derive(seed, &[STREAM_ORG]);
        let wanted = workers.div_ceil(WORKERS_PER_TOWNSHIP).max(3) as usize;
        let mut sizes = Vec::new();
        let mut total = 0;
        while total < wanted {
            let n = (rng.range(6, 14) as usize).min(wanted - total);
            sizes.push(n);
            total += n;
        }
        build(&sizes, &mut rng)
    }

    /// Every unit, counties first, then townships.
    pub fn units(&self) -> impl Iterator<Item = &OrgUnit> {
        self.counties
            .iter()
            .chain(self.townships.iter().map(|t| &t.unit))
    }

    /// Writes the dimension table as CSV: `code,parent,level,name` (empty parent for counties).
    pub fn write_csv<W: Write>(&self, mut out: W) -> std::io::Result<()> {
        writeln!(out, "code,parent,level,name")?;
        for unit in self.units() {
            let parent = unit.parent.as_deref().unwrap_or("");
            writeln!(
                out,
                "{},{},{},{}",
                unit.code,
                parent,
                unit.level.as_str(),
                unit.name
            )?;
        }
        out.flush()
    }
}

fn build(sizes: &[usize], rng: &mut Rng) -> OrgTree {
    let county_width = digits(sizes.len()).max(2);
    let township_width = digits(sizes.iter().copied().max().unwrap_or(1)).max(2);
    let mut tree = OrgTree {
        counties: Vec::new(),
        townships: Vec::new(),
    };
    for (c, &n) in sizes.iter().enumerate() {
        let c_label = format!("{:0w$}", c + 1, w = county_width);
        let county: Arc<str> = format!("c{c_label}").into();
        for t in 1..=n {
            let t_label = format!("{t:0w$}", w = township_width);
            let unit = OrgUnit {
                code: format!("c{c_label}-t{t_label}").into(),
                parent: Some(county.clone()),
                level: Level::Township,
                name: format!("Township {c_label}-{t_label}"),
            };
            // Product of uniforms: skewed sizes, between 0.2 and 3.2 times the median.
            let weight = 0.2 + 3.0 * rng.next_f64() * rng.next_f64();
            tree.townships.push(Township {
                unit,
                profile: UnitProfile::draw(rng),
                weight,
            });
        }
        let name = format!("County {c_label}");
        tree.counties.push(OrgUnit {
            code: county,
            parent: None,
            level: Level::County,
            name,
        });
    }
    tree
}

fn digits(n: usize) -> usize {
    n.to_string().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_valid_and_unique() {
        let tree = OrgTree::generate(3, 5_000);
        assert!(tree.townships.len() >= 5_000 / 30);
        let mut codes: Vec<&str> = tree.units().map(|u| &*u.code).collect();
        assert!(codes.iter().all(|c| fingertip_model::is_code(c, 64)));
        let n = codes.len();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), n);
        assert_eq!(&*tree.townships[0].unit.code, "c01-t01");
    }

    #[test]
    fn csv_has_every_unit() {
        let tree = OrgTree::generate(3, 100);
        let mut out = Vec::new();
        tree.write_csv(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().count(),
            1 + tree.counties.len() + tree.townships.len()
        );
        assert!(text.contains("\nc01,,county,County 01\n"));
        assert!(text.contains("\nc01-t01,c01,township,Township 01-01\n"));
    }
}
