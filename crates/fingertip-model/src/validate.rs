//! Checking one incoming event against the catalog, the org-unit policy and the clock.

use serde::{Deserialize, Serialize};

use crate::{Catalog, IncomingEvent, OrgUnitPolicy, RejectReason, coarsen_ms, parse_rfc3339_ms};

/// Who or what made a person use the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Mandatory,
    Reminder,
    Voluntary,
    Unknown,
}

impl Trigger {
    pub const ALL: [Trigger; 4] = [
        Self::Mandatory,
        Self::Reminder,
        Self::Voluntary,
        Self::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mandatory => "mandatory",
            Self::Reminder => "reminder",
            Self::Voluntary => "voluntary",
            Self::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// A one-byte code for compact encodings.
    pub fn to_u8(self) -> u8 {
        self as u8
    }

    pub fn from_u8(b: u8) -> Option<Self> {
        Self::ALL.get(b as usize).copied()
    }
}

/// Limits that apply to every event, whatever its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidationConfig {
    /// How far `started_at` may lie in the future (clock skew), in seconds.
    pub max_future_skew_s: i64,
    /// How far `started_at` may lie in the past, in seconds.
    pub max_past_age_s: i64,
    /// `started_at` is rounded down to a multiple of this many seconds before storage.
    pub timestamp_granularity_s: i64,
    /// The most `data_elements` one event may list (at most
    /// [`crate::MAX_LIST_ITEMS`]: longer lists are cut while the body is read).
    pub max_data_elements: usize,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            max_future_skew_s: 300,
            max_past_age_s: 30 * 86_400,
            timestamp_granularity_s: 60,
            max_data_elements: 64,
        }
    }
}

/// An event that passed validation. `person_ref` is still the raw reference: it must go
/// straight to the anonymizer and nowhere else.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidEvent<'a> {
    pub event_id: u128,
    pub person_ref: &'a str,
    pub org_unit: &'a str,
    pub event_type: &'a str,
    pub trigger: Trigger,
    /// Coarsened, milliseconds since the Unix epoch (UTC).
    pub started_at_ms: i64,
    pub duration_s: f64,
    pub data_elements: Vec<&'a str>,
}

/// Validates incoming events.
#[derive(Debug, Clone, Default)]
pub struct Validator {
    pub catalog: Catalog,
    pub org_units: OrgUnitPolicy,
    pub config: ValidationConfig,
}

type Rejection = (RejectReason, &'static str);

const MAX_PERSON_REF_BYTES: usize = 256;

impl Validator {
    pub fn new(catalog: Catalog, org_units: OrgUnitPolicy, config: ValidationConfig) -> Self {
        Self {
            catalog,
            org_units,
            config,
        }
    }

    /// Checks `event` as received at `now_ms`.
    pub fn validate<'e>(
        &self,
        event: &'e IncomingEvent<'_>,
        now_ms: i64,
    ) -> Result<ValidEvent<'e>, Rejection> {
        if let Some(problem) = event.problem {
            return Err(problem);
        }
        let event_type = required(&event.event_type, "event_type")?;
        let spec = self
            .catalog
            .get(event_type)
            .ok_or((RejectReason::UnknownEventType, "event_type"))?;
        let event_id = parse_uuid(required(&event.event_id, "event_id")?)?;
        let person_ref = required(&event.person_ref, "person_ref")?;
        if person_ref.is_empty() || person_ref.len() > MAX_PERSON_REF_BYTES {
            return Err((RejectReason::InvalidPersonRef, "person_ref"));
        }
        let org_unit = required(&event.org_unit, "org_unit")?;
        self.org_units
            .check(org_unit)
            .map_err(|r| (r, "org_unit"))?;
        let trigger = match event.trigger.as_deref() {
            None => Trigger::Unknown,
            Some(t) => Trigger::parse(t).ok_or((RejectReason::InvalidTrigger, "trigger"))?,
        };
        let started_at_ms = self.check_time(required(&event.started_at, "started_at")?, now_ms)?;
        let duration_s = event.duration_s.unwrap_or(0.0);
        if !duration_s.is_finite() || duration_s < 0.0 {
            return Err((RejectReason::InvalidDuration, "duration_s"));
        }
        if duration_s > spec.max_duration_s {
            return Err((RejectReason::DurationOverMax, "duration_s"));
        }
        let data_elements = self.check_elements(event.data_elements.as_deref())?;
        Ok(ValidEvent {
            event_id,
            person_ref,
            org_unit,
            event_type,
            trigger,
            started_at_ms,
            duration_s,
            data_elements,
        })
    }

    fn check_time(&self, text: &str, now_ms: i64) -> Result<i64, Rejection> {
        let ms = parse_rfc3339_ms(text).ok_or((RejectReason::InvalidTimestamp, "started_at"))?;
        if ms > now_ms.saturating_add(self.config.max_future_skew_s.saturating_mul(1000)) {
            return Err((RejectReason::TimestampInFuture, "started_at"));
        }
        if ms < now_ms.saturating_sub(self.config.max_past_age_s.saturating_mul(1000)) {
            return Err((RejectReason::TimestampTooOld, "started_at"));
        }
        Ok(coarsen_ms(ms, self.config.timestamp_granularity_s))
    }

    fn check_elements<'e>(
        &self,
        elements: Option<&'e [Option<crate::Text<'_>>]>,
    ) -> Result<Vec<&'e str>, Rejection> {
        let elements = elements.unwrap_or_default();
        if elements.len() > self.config.max_data_elements.min(crate::MAX_LIST_ITEMS) {
            return Err((RejectReason::TooManyDataElements, "data_elements"));
        }
        elements
            .iter()
            .map(|e| match e.as_deref() {
                Some(code) if is_element_code(code) => Ok(code),
                _ => Err((RejectReason::InvalidDataElement, "data_elements")),
            })
            .collect()
    }
}

fn required<'e>(
    value: &'e Option<crate::Text<'_>>,
    field: &'static str,
) -> Result<&'e str, Rejection> {
    value.as_deref().ok_or((RejectReason::MissingField, field))
}

fn parse_uuid(text: &str) -> Result<u128, Rejection> {
    uuid::Uuid::try_parse(text)
        .map(|u| u.as_u128())
        .map_err(|_| (RejectReason::InvalidEventId, "event_id"))
}

fn is_element_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000; // 2026-11-18

    fn event(extra: &str) -> String {
        let base = r#""event_id":"6f1c2d7e-3a45-4b8e-9c0d-1e2f3a4b5c6d","person_ref":"P-1","org_unit":"u1","event_type":"check_in","trigger":"mandatory","started_at":"2026-11-18T05:00:30Z","duration_s":60,"data_elements":["hh.size"]"#;
        format!("{{{base}{extra}}}")
    }

    fn check(json: &str) -> Result<(i64, Trigger), RejectReason> {
        let e: IncomingEvent = serde_json::from_str(json).unwrap();
        Validator::default()
            .validate(&e, NOW)
            .map(|v| (v.started_at_ms, v.trigger))
            .map_err(|r| r.0)
    }

    fn with(field: &str, value: &str) -> String {
        let mut v: serde_json::Value = serde_json::from_str(&event("")).unwrap();
        v[field] = serde_json::from_str(value).unwrap();
        v.to_string()
    }

    #[test]
    fn accepts_and_coarsens() {
        let (ms, trigger) = check(&event("")).unwrap();
        assert_eq!(ms % 60_000, 0);
        assert_eq!(trigger, Trigger::Mandatory);
    }

    #[test]
    fn each_rule_rejects() {
        use RejectReason::*;
        let cases = [
            ("event_type", r#""teleport""#, UnknownEventType),
            ("event_id", r#""not-a-uuid""#, InvalidEventId),
            ("person_ref", r#""""#, InvalidPersonRef),
            ("org_unit", r#""a/b""#, InvalidOrgUnit),
            ("trigger", r#""forced""#, InvalidTrigger),
            ("started_at", r#""yesterday""#, InvalidTimestamp),
            ("started_at", r#""2027-01-01T00:00:00Z""#, TimestampInFuture),
            ("started_at", r#""2020-01-01T00:00:00Z""#, TimestampTooOld),
            ("duration_s", "-1", InvalidDuration),
            ("duration_s", "3601", DurationOverMax),
            ("duration_s", r#""60""#, WrongType),
            ("data_elements", r#"["ok", "not ok"]"#, InvalidDataElement),
            ("data_elements", r#""hh.size""#, WrongType),
        ];
        for (field, value, reason) in cases {
            assert_eq!(check(&with(field, value)), Err(reason), "{field} = {value}");
        }
        let many: Vec<String> = (0..65).map(|i| format!("\"e{i}\"")).collect();
        let many = format!("[{}]", many.join(","));
        assert_eq!(
            check(&with("data_elements", &many)),
            Err(TooManyDataElements)
        );
        assert_eq!(check(&event(r#","extra":1"#)), Err(UnknownField));
        assert_eq!(check(r#"{"event_type":"login"}"#), Err(MissingField));
    }
}
