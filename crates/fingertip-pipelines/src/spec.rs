//! Pipeline files: one TOML file per index (see `pipelines/`), loaded and checked here.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::PipelineError;
use crate::levels::Level;

/// The smallest ε of an index or people pipeline.
pub const MIN_PIPELINE_EPSILON: f64 = 0.001;
/// The largest ε of one pipeline.
pub const MAX_PIPELINE_EPSILON: f64 = 100.0;

/// What a pipeline releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Active workers per cell: the base release every other index is published over.
    People,
    /// numerator ÷ denominator per cell.
    Ratio,
    /// numerator per cell.
    Count,
    /// A weighted combination of other indices (no privacy cost of its own).
    Composite,
}

/// Where a ratio's denominator comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Denominator {
    /// The active workers of the cell's org unit (any app), from the people release.
    #[default]
    ActiveWorkers,
    /// The person stage's own `denominator` column.
    #[serde(rename = "self")]
    Own,
}

/// How one person's values combine when cells are rolled up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    #[default]
    Sum,
    Max,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// L1 bound of one person's numerator contributions across the cells of one level, per week.
    pub numerator_per_week: f64,
    #[serde(default)]
    pub denominator_per_week: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeopleCaps {
    /// Apps one person counts in per week (app levels).
    pub max_apps_per_week: u32,
    /// Org units one person counts in per week (unit levels).
    pub max_units_per_week: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub index: String,
    pub weight: f64,
    pub reference: f64,
}

/// One pipeline file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    pub name: String,
    pub kind: Kind,
    pub title: String,
    pub unit: String,
    pub description: String,
    pub clause: String,
    pub not_measured: String,
    pub higher_is_worse: bool,
    /// ε this pipeline spends per run.
    pub epsilon: f64,
    #[serde(default)]
    pub denominator: Denominator,
    #[serde(default)]
    pub combine: Combine,
    /// Levels released (default: all four).
    #[serde(default = "Level::all")]
    pub levels: Vec<Level>,
    /// Values are capped at this (e.g. 1 for shares).
    #[serde(default)]
    pub max_value: Option<f64>,
    /// The person stage: one row per (person, week, app_id, org_unit) with `numerator`
    /// (and `denominator`). May group by `person`; never released.
    #[serde(default)]
    pub person_sql: Option<String>,
    #[serde(default)]
    pub bounds: Option<Bounds>,
    #[serde(default)]
    pub people: Option<PeopleCaps>,
    #[serde(default)]
    pub components: Vec<Component>,
    /// Where the spec was loaded from (for messages).
    #[serde(skip)]
    pub path: PathBuf,
}

impl PipelineSpec {
    pub fn parse(text: &str, path: &Path) -> Result<Self, PipelineError> {
        let mut spec: PipelineSpec =
            toml::from_str(text).map_err(|e| invalid(path, e.to_string()))?;
        spec.path = path.to_path_buf();
        spec.check()?;
        Ok(spec)
    }

    fn check(&self) -> Result<(), PipelineError> {
        let bad = |m: &str| Err(invalid(&self.path, m.to_string()));
        if !fingertip_model::is_code(&self.name, 64) {
            return bad("`name` must be 1-64 characters of [A-Za-z0-9._-]");
        }
        // Split over at most four levels and two quantities, every part stays well above
        // the smallest ε a mechanism runs at (so a run never fails after it was charged).
        let positive = self.kind != Kind::Composite;
        if !(self.epsilon.is_finite() && self.epsilon >= 0.0)
            || (positive && !(MIN_PIPELINE_EPSILON..=MAX_PIPELINE_EPSILON).contains(&self.epsilon))
        {
            return bad(&format!(
                "`epsilon` must be a number in [{MIN_PIPELINE_EPSILON}, {MAX_PIPELINE_EPSILON}]"
            ));
        }
        match self.kind {
            Kind::People if self.people.is_none() => {
                bad("a people pipeline needs a [people] table")
            }
            Kind::Ratio | Kind::Count if self.person_sql.is_none() => {
                bad("`person_sql` is missing")
            }
            Kind::Ratio | Kind::Count => self.check_bounds(),
            Kind::Composite if self.components.is_empty() => {
                bad("a composite pipeline needs [[components]]")
            }
            _ => Ok(()),
        }
    }

    fn check_bounds(&self) -> Result<(), PipelineError> {
        let bad = |m: &str| Err(invalid(&self.path, m.to_string()));
        let Some(b) = &self.bounds else {
            return bad("[bounds] is missing: numerator_per_week is required");
        };
        let positive = |x: f64| x.is_finite() && x > 0.0;
        if !positive(b.numerator_per_week) {
            return bad("bounds.numerator_per_week must be a positive number");
        }
        let needs_den = self.kind == Kind::Ratio && self.denominator == Denominator::Own;
        match (needs_den, b.denominator_per_week) {
            (true, Some(d)) if positive(d) => Ok(()),
            (true, _) => bad(
                "bounds.denominator_per_week (positive) is required when denominator = \"self\"",
            ),
            _ => Ok(()),
        }
    }

    /// Whether the person stage must have a `denominator` column.
    pub fn own_denominator(&self) -> bool {
        self.kind == Kind::Ratio && self.denominator == Denominator::Own
    }
}

fn invalid(path: &Path, message: String) -> PipelineError {
    PipelineError::InvalidSpec {
        path: path.to_path_buf(),
        message,
    }
}

/// The pipelines and views shipped in the repository, embedded in the binary.
pub const EMBEDDED: &[(&str, &str)] = &[
    (
        "active_workers.toml",
        include_str!("../../../pipelines/active_workers.toml"),
    ),
    (
        "checkin_minutes_per_worker.toml",
        include_str!("../../../pipelines/checkin_minutes_per_worker.toml"),
    ),
    (
        "compliance_minutes_per_worker.toml",
        include_str!("../../../pipelines/compliance_minutes_per_worker.toml"),
    ),
    (
        "forced_use_share.toml",
        include_str!("../../../pipelines/forced_use_share.toml"),
    ),
    (
        "proof_uploads_per_worker.toml",
        include_str!("../../../pipelines/proof_uploads_per_worker.toml"),
    ),
    (
        "duplicate_entry_rate.toml",
        include_str!("../../../pipelines/duplicate_entry_rate.toml"),
    ),
    (
        "apps_per_worker.toml",
        include_str!("../../../pipelines/apps_per_worker.toml"),
    ),
    (
        "after_hours_demand_share.toml",
        include_str!("../../../pipelines/after_hours_demand_share.toml"),
    ),
    (
        "rankings_published.toml",
        include_str!("../../../pipelines/rankings_published.toml"),
    ),
    (
        "burden_index.toml",
        include_str!("../../../pipelines/burden_index.toml"),
    ),
];

pub const EMBEDDED_VIEWS: &[(&str, &str)] = &[(
    "weekly_events",
    include_str!("../../../sql/views/weekly_events.sql"),
)];

/// Loads every `*.toml` of `dir` (sorted), or the embedded set when `dir` is `None`.
pub fn load(dir: Option<&Path>) -> Result<Vec<PipelineSpec>, PipelineError> {
    let files: Vec<(PathBuf, String)> = match dir {
        None => EMBEDDED
            .iter()
            .map(|(n, t)| (PathBuf::from("pipelines").join(n), t.to_string()))
            .collect(),
        Some(dir) => {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(|e| PipelineError::Io {
                    path: dir.to_path_buf(),
                    message: e.to_string(),
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            paths
                .into_iter()
                .map(|p| {
                    std::fs::read_to_string(&p)
                        .map(|t| (p.clone(), t))
                        .map_err(|e| PipelineError::Io {
                            path: p,
                            message: e.to_string(),
                        })
                })
                .collect::<Result<_, _>>()?
        }
    };
    let specs: Vec<PipelineSpec> = files
        .iter()
        .map(|(p, t)| PipelineSpec::parse(t, p))
        .collect::<Result<_, _>>()?;
    check_set(&specs)?;
    Ok(specs)
}

/// One people pipeline; unique names; composites refer to known indices.
fn check_set(specs: &[PipelineSpec]) -> Result<(), PipelineError> {
    let people = specs.iter().filter(|s| s.kind == Kind::People).count();
    if people != 1 {
        return Err(PipelineError::InvalidSet(format!(
            "exactly one pipeline must have kind = \"people\" (found {people})"
        )));
    }
    for (i, s) in specs.iter().enumerate() {
        if specs[..i].iter().any(|o| o.name == s.name) {
            return Err(invalid(
                &s.path,
                format!("the name `{}` is used twice", s.name),
            ));
        }
        for c in &s.components {
            if !specs
                .iter()
                .any(|o| o.name == c.index && o.kind != Kind::Composite)
            {
                return Err(invalid(
                    &s.path,
                    format!("component `{}` is not an index pipeline", c.index),
                ));
            }
        }
    }
    Ok(())
}

/// SQL views: the embedded ones, overridden by `<dir>/views/*.sql`.
pub fn views(dir: Option<&Path>) -> Vec<(String, String)> {
    let mut views: Vec<(String, String)> = EMBEDDED_VIEWS
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    if let Some(Ok(entries)) = dir.map(|d| std::fs::read_dir(d.join("views"))) {
        for p in entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        {
            let (Some(name), Ok(text)) = (
                p.file_stem().and_then(|s| s.to_str()),
                std::fs::read_to_string(&p),
            ) else {
                continue;
            };
            views.retain(|(n, _)| n != name);
            views.push((name.to_string(), text));
        }
    }
    views
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_pipelines_load() {
        let specs = load(None).unwrap();
        assert_eq!(specs.len(), 10);
        assert!(
            specs
                .iter()
                .any(|s| s.name == "duplicate_entry_rate" && s.own_denominator())
        );
    }

    #[test]
    fn bad_specs_name_the_file() {
        let text: String = EMBEDDED[1]
            .1
            .lines()
            .filter(|l| !l.starts_with("numerator_per_week"))
            .map(|l| format!("{l}\n"))
            .collect();
        let err = PipelineSpec::parse(&text, Path::new("pipelines/x.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("pipelines/x.toml") && err.contains("numerator_per_week"),
            "{err}"
        );
        let err = PipelineSpec::parse("name = 1", Path::new("p/y.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("p/y.toml"), "{err}");
    }
}
