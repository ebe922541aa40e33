//! One simulated event, the event types it may have, and the simulated apps.
//!
//! Event type names and bounds are those of the model crate's embedded catalog
//! (`crates/fingertip-model/catalog.toml`); a test checks they agree.

use std::sync::Arc;

use fingertip_model::Trigger;

/// The event types of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    CheckIn,
    FormSubmit,
    ProofUpload,
    Login,
    StudySession,
    GroupDemand,
    RankingPublished,
    Session,
}

impl EventType {
    pub const ALL: [EventType; 8] = [
        Self::CheckIn,
        Self::FormSubmit,
        Self::ProofUpload,
        Self::Login,
        Self::StudySession,
        Self::GroupDemand,
        Self::RankingPublished,
        Self::Session,
    ];

    /// The catalog name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CheckIn => "check_in",
            Self::FormSubmit => "form_submit",
            Self::ProofUpload => "proof_upload",
            Self::Login => "login",
            Self::StudySession => "study_session",
            Self::GroupDemand => "group_demand",
            Self::RankingPublished => "ranking_published",
            Self::Session => "session",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The catalog's `max_duration_s`: generated durations never exceed it.
    pub fn max_duration_s(self) -> u32 {
        match self {
            Self::CheckIn | Self::ProofUpload => 3_600,
            Self::FormSubmit | Self::StudySession => 14_400,
            Self::Login => 600,
            Self::GroupDemand => 7_200,
            Self::RankingPublished => 0,
            Self::Session => 28_800,
        }
    }
}

/// The simulated government apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum App {
    /// Mandatory daily check-ins, with proof screenshots in heavy units.
    Attendance,
    /// Household survey forms (`hh.*` data elements).
    HouseholdSurvey,
    /// The poverty registry: re-enters household data in "data barrier" units.
    PovertyRegistry,
    /// Study sessions and logins, often mandatory; publishes weekly rankings.
    Study,
    /// Work-group demands, some outside working hours.
    WorkGroups,
    /// Grid patrols: check-ins, proof photos and sessions.
    GridPatrol,
}

impl App {
    pub const ALL: [App; 6] = [
        Self::Attendance,
        Self::HouseholdSurvey,
        Self::PovertyRegistry,
        Self::Study,
        Self::WorkGroups,
        Self::GridPatrol,
    ];

    /// The `app_id` the app's token is bound to.
    pub fn id(self) -> &'static str {
        match self {
            Self::Attendance => "attendance",
            Self::HouseholdSurvey => "household-survey",
            Self::PovertyRegistry => "poverty-registry",
            Self::Study => "study",
            Self::WorkGroups => "work-groups",
            Self::GridPatrol => "grid-patrol",
        }
    }

    pub fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// One simulated event, as an app would send it (raw test data: it holds `person_ref`).
///
/// Strings are `Arc<str>` so that the many events of one worker share them without copying.
#[derive(Debug, Clone, PartialEq)]
pub struct SimEvent {
    pub event_id: u128,
    pub person_ref: Arc<str>,
    pub app_id: Arc<str>,
    pub org_unit: Arc<str>,
    pub event_type: EventType,
    pub trigger: Trigger,
    /// Milliseconds since the Unix epoch (UTC), whole seconds.
    pub started_at_ms: i64,
    pub duration_s: f64,
    pub data_elements: Vec<Arc<str>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_match_the_catalog() {
        let catalog = fingertip_model::Catalog::embedded();
        assert_eq!(catalog.event_types.len(), EventType::ALL.len());
        for t in EventType::ALL {
            let spec = catalog.get(t.as_str()).expect("in catalog");
            assert_eq!(
                spec.max_duration_s,
                f64::from(t.max_duration_s()),
                "{}",
                t.as_str()
            );
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn app_ids_are_codes() {
        for app in App::ALL {
            assert!(fingertip_model::is_code(app.id(), 64));
        }
    }
}
