//! The people release: noisy counts of active workers per cell and level. It is the
//! denominator of the per-worker indices and decides which cells are published: a cell whose
//! noisy count is below `min_persons` is suppressed for every index.
//!
//! When the apps and org units are declared (public), every cell of the grid weeks × apps ×
//! units is released with noise (discrete Gaussian under ρ, Laplace under ε). Otherwise each
//! level first selects its (app, unit) keys once for the whole run, by DP partition selection
//! (OpenDP's noisy threshold) on the number of people in each key, a person counting in at
//! most the level's cap of keys over the run — not per week, so the threshold does not grow
//! with the number of weeks; half of the level's budget pays for it. The grid weeks × selected
//! keys is then released like a declared one with the other half.

use std::collections::BTreeMap;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;
use fingertip_dp::{Budget, Cost, Groups, Noise, release_counts, suppressed};

use crate::PipelineError;
use crate::levels::{ALL, Cell, Level};
use crate::spec::PeopleCaps;
use crate::stage::on_disk;

/// The apps and org units, when they are public knowledge.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Domain {
    pub apps: Option<Vec<String>>,
    pub units: Option<Vec<String>>,
}

impl Domain {
    /// A domain from declared lists; an empty list means "not declared".
    pub fn new(apps: Vec<String>, units: Vec<String>) -> Self {
        Self {
            apps: (!apps.is_empty()).then_some(apps),
            units: (!units.is_empty()).then_some(units),
        }
    }

    pub fn is_public(&self) -> bool {
        self.apps.is_some() && self.units.is_some()
    }

    fn cells(&self, level: Level, weeks: &[String]) -> Vec<Cell> {
        let star = vec![ALL.to_string()];
        let apps = if level.keeps_app() {
            self.apps.clone().unwrap_or_default()
        } else {
            star.clone()
        };
        let units = if level.keeps_unit() {
            self.units.clone().unwrap_or_default()
        } else {
            star
        };
        let mut out = Vec::new();
        for w in weeks {
            for a in &apps {
                for u in &units {
                    out.push(Cell {
                        week: w.clone(),
                        app_id: a.clone(),
                        org_unit: u.clone(),
                    });
                }
            }
        }
        out
    }
}

/// A released count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Count {
    pub value: f64,
    pub half95: f64,
    pub half975: f64,
    pub suppressed: bool,
}

/// The people release of one run.
#[derive(Debug, Clone, Default)]
pub struct People {
    pub cells: BTreeMap<Cell, Count>,
    /// What its releases cost, as their privacy maps charged.
    pub cost: Cost,
}

/// Parameters of the people release.
#[derive(Debug, Clone)]
pub struct PeopleParams<'a> {
    pub caps: &'a PeopleCaps,
    pub weeks: &'a [String],
    pub domain: &'a Domain,
    pub noise: Noise,
    pub budget: Budget,
    pub delta: f64,
    pub min_persons: u32,
}

fn cap(level: Level, caps: &PeopleCaps) -> u32 {
    match level {
        Level::AppUnit => caps.max_apps_per_week * caps.max_units_per_week,
        Level::Unit => caps.max_units_per_week,
        Level::App => caps.max_apps_per_week,
        Level::All => 1,
    }
    .max(1)
}

/// Releases active-worker counts at every level.
pub async fn release(ctx: &SessionContext, p: &PeopleParams<'_>) -> Result<People, PipelineError> {
    let levels = Level::all();

    let public = p.domain.is_public();
    let delta = p.delta / levels.len() as f64;
    let mut out = People::default();
    for counts in exact_counts_by_level(ctx, p.caps, !public).await? {
        let level = counts.level;
        let l0 = cap(level, p.caps) * p.weeks.len() as u32;
        let mut part = p.budget.share(level.share(&levels));
        let cells: Vec<Cell> = if public {
            p.domain.cells(level, p.weeks)
        } else {
            part = part.share(0.5);
            let keys: Vec<&Cell> = counts.keys.keys().collect();
            let values: Vec<i64> = counts.keys.values().copied().collect();
            let selected = release_counts(
                p.noise,
                &values,
                cap(level, p.caps),
                part,
                Groups::FromData { delta },
            )?;
            out.cost = out.cost.plus(selected.cost);
            let mut cells = Vec::new();
            for week in p.weeks {
                for (i, _) in &selected.kept {
                    cells.push(Cell {
                        week: week.clone(),
                        ..keys[*i].clone()
                    });
                }
            }
            cells
        };
        let values: Vec<i64> = cells
            .iter()
            .map(|c| counts.weekly.get(c).copied().unwrap_or(0))
            .collect();
        let released = release_counts(p.noise, &values, l0, part, Groups::Public)?;
        out.cost = out.cost.plus(released.cost);
        let (half95, half975) = (released.half_width(0.05), released.half_width(0.025));
        for (i, value) in released.kept {
            let count = Count {
                value: value as f64,
                half95,
                half975,
                suppressed: suppressed(value, p.min_persons),
            };
            out.cells.insert(cells[i].clone(), count);
        }
    }
    Ok(out)
}

/// The table of distinct (person, week, app, unit) memberships, while the counts are taken.
const MEMBERSHIPS: &str = "ft_person_memberships";

/// One level's exact capped counts of active workers (before noise).
#[derive(Debug, Clone)]
pub struct LevelCounts {
    pub level: Level,
    /// Per cell (week, app, unit): a person counts in at most the level's cap per week.
    pub weekly: BTreeMap<Cell, i64>,
    /// Per (app, unit) key over the whole run (`week` empty): a person counts in at most the
    /// level's cap of keys. Only when asked for (undeclared domains).
    pub keys: BTreeMap<Cell, i64>,
}

/// The exact capped counts of active workers at every level (before noise). The lake is
/// scanned once: the distinct memberships are written to disk ([`on_disk`]) and each level is
/// counted from them. That is a few rows per person and week when people work in one unit, but
/// up to one per event when they scatter over many (the adversarial benchmark:
/// docs/benchmarks.md).
pub async fn exact_counts_by_level(
    ctx: &SessionContext,
    caps: &PeopleCaps,
    with_keys: bool,
) -> Result<Vec<LevelCounts>, PipelineError> {
    let df = ctx
        .sql("SELECT DISTINCT person, week, app_id, org_unit FROM weekly_events")
        .await?;
    let memberships = on_disk(ctx, MEMBERSHIPS, df).await?;
    let mut out = Vec::new();
    let mut failure = None;
    for level in Level::all() {
        let counted = async {
            let weekly = capped_counts(ctx, level, cap(level, caps), Per::Week).await?;
            let keys = if with_keys {
                capped_counts(ctx, level, cap(level, caps), Per::Run).await?
            } else {
                BTreeMap::new()
            };
            Ok::<_, PipelineError>(LevelCounts {
                level,
                weekly,
                keys,
            })
        };
        match counted.await {
            Ok(c) => out.push(c),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    drop(memberships);
    failure.map_or(Ok(out), Err)
}

/// Whether a person's cap of cells holds per week, or over the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Per {
    Week,
    Run,
}

/// One level's people per cell; a person counts in at most `cap` cells per week (cells keyed
/// by week) or over the run (cells keyed by (app, unit), `week` empty), chosen at random.
async fn capped_counts(
    ctx: &SessionContext,
    level: Level,
    cap: u32,
    per: Per,
) -> Result<BTreeMap<Cell, i64>, PipelineError> {
    let (app, unit) = level.key_sql("app_id", "org_unit");
    let week = match per {
        Per::Week => "week",
        Per::Run => "''",
    };
    let sql = format!(
        "WITH pc AS (SELECT DISTINCT person, {week} AS week, {app} AS app_id, {unit} AS org_unit FROM {MEMBERSHIPS}), \
         r AS (SELECT week, app_id, org_unit, row_number() OVER (PARTITION BY person, week ORDER BY random()) AS rk FROM pc) \
         SELECT week, app_id, org_unit, COUNT(*) AS persons FROM r WHERE rk <= {cap} GROUP BY week, app_id, org_unit"
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    Ok(cells_with(&batches, |b, i| {
        b.column(3).as_primitive::<Int64Type>().value(i)
    }))
}

/// Reads `(week, app_id, org_unit, value…)` batches into a map keyed by cell.
pub fn cells_with<T>(
    batches: &[RecordBatch],
    value: impl Fn(&RecordBatch, usize) -> T,
) -> BTreeMap<Cell, T> {
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::DataType;
    let mut out = BTreeMap::new();
    for b in batches {
        let Ok(keys) = (0..3)
            .map(|c| cast(b.column(c), &DataType::Utf8))
            .collect::<Result<Vec<_>, _>>()
        else {
            continue;
        };
        let text = |c: usize, i: usize| keys[c].as_string::<i32>().value(i).to_string();
        for i in 0..b.num_rows() {
            out.insert(
                Cell {
                    week: text(0, i),
                    app_id: text(1, i),
                    org_unit: text(2, i),
                },
                value(b, i),
            );
        }
    }
    out
}
