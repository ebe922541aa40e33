//! `fingertip.toml`: one section per crate, layered defaults → file → `FINGERTIP__…` env.
//!
//! The file is `<data>/fingertip.toml` when present, or `--config FILE`. An environment
//! variable `FINGERTIP__SECTION__KEY=value` overrides `[section] key`; the value is read as a
//! TOML literal when it parses as one (`1000`, `true`, `["a","b"]`), else as a string.
//! Command-line flags override all of these.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use fingertip_anonymize::KeysConfig;
use fingertip_dp::BudgetConfig;
use fingertip_model::{Catalog, EventTypeSpec, OrgUnitPolicy, ValidationConfig, Validator};
use fingertip_pipelines::PipelinesConfig;
use fingertip_query::QueryConfig;
use fingertip_server::ServerConfig;
use fingertip_store::StoreConfig;
use fingertip_store::retention::RetentionConfig;
use serde::{Deserialize, Serialize};

/// Everything configurable, by section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub ingest: ValidationConfig,
    pub org_units: OrgUnitsConfig,
    pub keys: KeysConfig,
    pub store: StoreConfig,
    /// Event types added to (or replacing entries of) the embedded catalog.
    pub catalog: CatalogConfig,
    pub query: QueryConfig,
    pub budget: BudgetConfig,
    pub pipelines: PipelinesConfig,
    /// How long events are kept in the lake.
    pub retention: RetentionConfig,
}

/// `[org_units]`: the accepted org-unit codes. Empty (the default): any well-formed code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OrgUnitsConfig {
    pub codes: Vec<String>,
    /// A file with one code per line (`#` starts a comment), relative to the data directory.
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    pub event_types: BTreeMap<String, EventTypeSpec>,
}

const ENV_PREFIX: &str = "FINGERTIP__";

impl Config {
    /// Loads the configuration for `data_dir`.
    pub fn load(data_dir: &Path, explicit: Option<&Path>) -> Result<Self> {
        let default_path = fingertip_model::DataDir::new(data_dir).config();
        let path = explicit
            .map(Path::to_path_buf)
            .or_else(|| default_path.exists().then_some(default_path));
        let mut table = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                text.parse::<toml::Table>()
                    .with_context(|| format!("parsing {}", p.display()))?
            }
            None => toml::Table::new(),
        };
        apply_env(&mut table, std::env::vars())?;
        let config: Config = toml::Value::Table(table).try_into().with_context(|| {
            format!(
                "invalid configuration{}",
                path.map(|p| format!(" in {}", p.display()))
                    .unwrap_or_default()
            )
        })?;
        Ok(config)
    }

    /// The catalog: the embedded one with `[catalog]` entries added or replaced.
    pub fn catalog(&self) -> Result<Catalog> {
        let mut catalog = Catalog::embedded();
        catalog.event_types.extend(self.catalog.event_types.clone());
        catalog.check().context("invalid [catalog]")?;
        Ok(catalog)
    }

    pub fn org_units(&self, data_dir: &Path) -> Result<OrgUnitPolicy> {
        let mut codes = fingertip_model::parse_code_list(&self.org_units.codes.join("\n"))
            .context("invalid [org_units] codes")?;
        if let Some(file) = &self.org_units.file {
            let path = data_dir.join(file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading org-unit list {}", path.display()))?;
            let listed = fingertip_model::parse_code_list(&text)
                .with_context(|| format!("org-unit list {}", path.display()))?;
            codes.extend(listed);
        }
        Ok(OrgUnitPolicy::from_list(codes))
    }

    pub fn validator(&self, data_dir: &Path) -> Result<Validator> {
        Ok(Validator::new(
            self.catalog()?,
            self.org_units(data_dir)?,
            self.ingest.clone(),
        ))
    }
}

fn apply_env(table: &mut toml::Table, vars: impl Iterator<Item = (String, String)>) -> Result<()> {
    for (name, value) in vars {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let keys: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
        let (last, parents) = keys.split_last().context("empty FINGERTIP__ variable")?;
        let mut at = &mut *table;
        for key in parents {
            at = at
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .with_context(|| format!("{name}: `{key}` is not a section"))?;
        }
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"));
        at.insert(last.clone(), parsed.unwrap_or(toml::Value::String(value)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_to_the_documented_values() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/fingertip.example.toml"
        ))
        .unwrap();
        let config: Config = toml::from_str(&text).unwrap();
        assert_eq!(config.server.max_events_per_batch, 10_000);
        assert_eq!(config.store.dedup_window_days, 7);
        assert_eq!(config.org_units.codes, vec!["county-01", "county-02"]);
        assert!(config.catalog.event_types.contains_key("roll_call"));
        assert_eq!(config.budget.epsilon_total, 30.0);
        assert_eq!(config.pipelines.time_zone, "Asia/Shanghai");
        assert_eq!(config.query.min_persons, 10);
        let defaults = Config::default();
        assert_eq!(
            (
                config.query.clone(),
                config.pipelines.clone(),
                config.budget.clone()
            ),
            (defaults.query, defaults.pipelines, defaults.budget)
        );
        assert_eq!(
            (
                config.store.clone(),
                config.keys.clone(),
                config.ingest.clone()
            ),
            (defaults.store, defaults.keys, defaults.ingest)
        );
        let unknown = "[server]\nmax_body = 1\n";
        assert!(
            toml::from_str::<Config>(unknown).is_err(),
            "unknown keys are refused"
        );
    }

    #[test]
    fn env_overrides_file() {
        let mut table: toml::Table = "[server]\nmax_events_per_batch = 5\n".parse().unwrap();
        let vars = [
            (
                "FINGERTIP__SERVER__MAX_EVENTS_PER_BATCH".to_string(),
                "7".to_string(),
            ),
            (
                "FINGERTIP__SERVER__LISTEN".to_string(),
                "0.0.0.0:1".to_string(),
            ),
            (
                "FINGERTIP__ORG_UNITS__CODES".to_string(),
                "[\"a\"]".to_string(),
            ),
            ("OTHER".to_string(), "x".to_string()),
        ];
        apply_env(&mut table, vars.into_iter()).unwrap();
        let config: Config = toml::Value::Table(table).try_into().unwrap();
        assert_eq!(config.server.max_events_per_batch, 7);
        assert_eq!(config.server.listen, "0.0.0.0:1");
        assert_eq!(config.org_units.codes, vec!["a"]);
    }
}
