//! Why an incoming event was refused: stable, machine-readable reason codes.

use serde::Serialize;

/// The reason one event of a batch was rejected. The `code` strings are part of the public API
/// (`docs/ingest.md`) and never change meaning. Messages name fields, never values: a rejected
/// event may hold a `person_ref`, and nothing from the payload is ever echoed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    MalformedJson,
    NotAnObject,
    UnknownField,
    DuplicateField,
    MissingField,
    WrongType,
    InvalidEventId,
    InvalidPersonRef,
    InvalidOrgUnit,
    UnknownOrgUnit,
    UnknownEventType,
    InvalidTrigger,
    InvalidTimestamp,
    TimestampInFuture,
    TimestampTooOld,
    InvalidDuration,
    DurationOverMax,
    TooManyDataElements,
    InvalidDataElement,
    EpochKeyDestroyed,
}

impl RejectReason {
    /// Every reason, for metrics with a bounded label set.
    pub const ALL: [RejectReason; 20] = [
        Self::MalformedJson,
        Self::NotAnObject,
        Self::UnknownField,
        Self::DuplicateField,
        Self::MissingField,
        Self::WrongType,
        Self::InvalidEventId,
        Self::InvalidPersonRef,
        Self::InvalidOrgUnit,
        Self::UnknownOrgUnit,
        Self::UnknownEventType,
        Self::InvalidTrigger,
        Self::InvalidTimestamp,
        Self::TimestampInFuture,
        Self::TimestampTooOld,
        Self::InvalidDuration,
        Self::DurationOverMax,
        Self::TooManyDataElements,
        Self::InvalidDataElement,
        Self::EpochKeyDestroyed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::NotAnObject => "not_an_object",
            Self::UnknownField => "unknown_field",
            Self::DuplicateField => "duplicate_field",
            Self::MissingField => "missing_field",
            Self::WrongType => "wrong_type",
            Self::InvalidEventId => "invalid_event_id",
            Self::InvalidPersonRef => "invalid_person_ref",
            Self::InvalidOrgUnit => "invalid_org_unit",
            Self::UnknownOrgUnit => "unknown_org_unit",
            Self::UnknownEventType => "unknown_event_type",
            Self::InvalidTrigger => "invalid_trigger",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::TimestampInFuture => "timestamp_in_future",
            Self::TimestampTooOld => "timestamp_too_old",
            Self::InvalidDuration => "invalid_duration",
            Self::DurationOverMax => "duration_over_max",
            Self::TooManyDataElements => "too_many_data_elements",
            Self::InvalidDataElement => "invalid_data_element",
            Self::EpochKeyDestroyed => "epoch_key_destroyed",
        }
    }

    /// A sentence for people; it names the field but never its value.
    pub fn message(self) -> &'static str {
        match self {
            Self::MalformedJson => "the line is not valid JSON",
            Self::NotAnObject => "the event is not a JSON object",
            Self::UnknownField => "the event has a field that is not part of the event schema",
            Self::DuplicateField => "the event names the same field twice",
            Self::MissingField => "a required field is missing",
            Self::WrongType => "a field has the wrong JSON type",
            Self::InvalidEventId => "event_id must be a UUID",
            Self::InvalidPersonRef => "person_ref must be a non-empty string of at most 256 bytes",
            Self::InvalidOrgUnit => "org_unit must be 1-64 characters of [A-Za-z0-9._-]",
            Self::UnknownOrgUnit => "org_unit is not in the configured org-unit list",
            Self::UnknownEventType => "event_type is not in the event catalog",
            Self::InvalidTrigger => {
                "trigger must be one of mandatory, reminder, voluntary, unknown"
            }
            Self::InvalidTimestamp => "started_at must be an RFC 3339 timestamp with offset",
            Self::TimestampInFuture => "started_at is further in the future than the allowed skew",
            Self::TimestampTooOld => "started_at is older than the accepted age",
            Self::InvalidDuration => "duration_s must be a finite, non-negative number",
            Self::DurationOverMax => "duration_s exceeds the catalog maximum for this event type",
            Self::TooManyDataElements => "data_elements has more entries than allowed",
            Self::InvalidDataElement => "each data element must be a code of 1-64 [A-Za-z0-9._:-]",
            Self::EpochKeyDestroyed => {
                "the key epoch of started_at has ended and its key was destroyed"
            }
        }
    }
}
