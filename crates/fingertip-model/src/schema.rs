//! The Arrow schema of a stored (anonymized) event, as written to Parquet.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Column names of the stored event, in schema order.
pub mod column {
    pub const EVENT_ID: &str = "event_id";
    pub const APP_ID: &str = "app_id";
    pub const ORG_UNIT: &str = "org_unit";
    pub const PERSON: &str = "person";
    pub const KEY_EPOCH: &str = "key_epoch";
    pub const EVENT_TYPE: &str = "event_type";
    pub const TRIGGER: &str = "trigger";
    pub const STARTED_AT: &str = "started_at";
    pub const DURATION_S: &str = "duration_s";
    pub const DATA_ELEMENTS: &str = "data_elements";
}

/// The pseudonym type: 16 bytes of HMAC-SHA256.
pub fn person_type() -> DataType {
    DataType::FixedSizeBinary(16)
}

/// The schema of one stored event (DESIGN.md, "Stored event"). Low-cardinality text columns
/// are plain `Utf8` in Arrow and dictionary-encoded in Parquet.
pub fn event_schema() -> SchemaRef {
    use column::*;
    let utf8 = |name| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        utf8(EVENT_ID),
        utf8(APP_ID),
        utf8(ORG_UNIT),
        Field::new(PERSON, person_type(), false),
        utf8(KEY_EPOCH),
        utf8(EVENT_TYPE),
        utf8(TRIGGER),
        Field::new(
            STARTED_AT,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new(DURATION_S, DataType::Float64, false),
        Field::new(
            DATA_ELEMENTS,
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))),
            false,
        ),
    ]))
}
