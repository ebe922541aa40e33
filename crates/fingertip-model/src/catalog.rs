//! The event catalog: which event types exist, the burden category each evidences, and the
//! bounds of their values.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The burden a kind of event puts on front-line staff (see DESIGN.md, "Event catalog").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BurdenCategory {
    CheckIn,
    Reporting,
    Traces,
    ForcedUse,
    MandatoryStudy,
    WorkGroups,
    Rankings,
    TimeInApp,
}

impl BurdenCategory {
    /// The stable snake_case name used in the catalog and in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckIn => "check_in",
            Self::Reporting => "reporting",
            Self::Traces => "traces",
            Self::ForcedUse => "forced_use",
            Self::MandatoryStudy => "mandatory_study",
            Self::WorkGroups => "work_groups",
            Self::Rankings => "rankings",
            Self::TimeInApp => "time_in_app",
        }
    }
}

/// One event type in the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTypeSpec {
    pub category: BurdenCategory,
    /// Longest plausible duration of one event, in seconds; longer events are rejected.
    pub max_duration_s: f64,
    #[serde(default)]
    pub description: String,
}

/// The set of accepted event types.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    pub event_types: BTreeMap<String, EventTypeSpec>,
}

/// A catalog that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog is not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("event type `{name}`: {problem}")]
    Invalid { name: String, problem: &'static str },
    #[error("the catalog defines no event types")]
    Empty,
}

const EMBEDDED: &str = include_str!("../catalog.toml");

impl Default for Catalog {
    fn default() -> Self {
        Self::embedded()
    }
}

impl Catalog {
    /// The catalog built into the binary (`crates/fingertip-model/catalog.toml`).
    pub fn embedded() -> Self {
        // Unwrap safety: the embedded file is checked by the `embedded_catalog_is_valid` test.
        Self::from_toml(EMBEDDED).expect("embedded catalog is valid")
    }

    /// Parses and checks a catalog.
    pub fn from_toml(text: &str) -> Result<Self, CatalogError> {
        let catalog: Catalog = toml::from_str(text)?;
        catalog.check()?;
        Ok(catalog)
    }

    /// Checks names and bounds.
    pub fn check(&self) -> Result<(), CatalogError> {
        if self.event_types.is_empty() {
            return Err(CatalogError::Empty);
        }
        for (name, spec) in &self.event_types {
            let invalid = |problem| CatalogError::Invalid {
                name: name.clone(),
                problem,
            };
            if !crate::is_code(name, 64) {
                return Err(invalid("names must be 1-64 characters of [A-Za-z0-9._-]"));
            }
            if !spec.max_duration_s.is_finite() || spec.max_duration_s < 0.0 {
                return Err(invalid(
                    "max_duration_s must be a finite, non-negative number",
                ));
            }
        }
        Ok(())
    }

    pub fn get(&self, event_type: &str) -> Option<&EventTypeSpec> {
        self.event_types.get(event_type)
    }

    /// The largest `max_duration_s` of any event type: a safe default bound for durations.
    pub fn max_duration_s(&self) -> f64 {
        self.event_types
            .values()
            .map(|s| s.max_duration_s)
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_is_valid() {
        let catalog = Catalog::embedded();
        assert_eq!(catalog.event_types.len(), 8);
        assert_eq!(
            catalog.get("proof_upload").unwrap().category,
            BurdenCategory::Traces
        );
        assert_eq!(catalog.max_duration_s(), 28800.0);
    }

    #[test]
    fn rejects_bad_bounds_and_names() {
        let bad = "[event_types.x]\ncategory = \"traces\"\nmax_duration_s = -1\n";
        assert!(matches!(
            Catalog::from_toml(bad),
            Err(CatalogError::Invalid { .. })
        ));
        let bad = "[event_types.\"a b\"]\ncategory = \"traces\"\nmax_duration_s = 1\n";
        assert!(matches!(
            Catalog::from_toml(bad),
            Err(CatalogError::Invalid { .. })
        ));
        assert!(matches!(
            Catalog::from_toml("event_types = {}"),
            Err(CatalogError::Empty)
        ));
        let unknown = "[event_types.x]\ncategory = \"nope\"\nmax_duration_s = 1\n";
        assert!(matches!(
            Catalog::from_toml(unknown),
            Err(CatalogError::Parse(_))
        ));
    }
}
