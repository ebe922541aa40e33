//! The data model of Fingertip: event types, the event catalog, incoming-event parsing and
//! validation, and the Arrow schema of a stored event.
//!
//! This crate owns *what an event is* and *when it is valid*, and where things live in a data
//! directory ([`DataDir`]). It does no I/O and knows nothing
//! of HTTP, storage, keys or differential privacy; every other crate depends on it, and it
//! depends on none of them.
//!
//! ```
//! use fingertip_model::{Catalog, IncomingEvent};
//! let catalog = Catalog::embedded();
//! assert_eq!(catalog.get("check_in").unwrap().category.as_str(), "check_in");
//! let event: IncomingEvent = serde_json::from_str(r#"{"event_type": "login"}"#).unwrap();
//! assert_eq!(event.event_type.as_deref(), Some("login"));
//! ```

mod catalog;
mod data_dir;
mod incoming;
mod org_units;
mod reject;
mod schema;
mod time;
mod validate;

pub use catalog::{BurdenCategory, Catalog, CatalogError, EventTypeSpec};
pub use data_dir::DataDir;
pub use incoming::{IncomingEvent, MAX_LIST_ITEMS, Text};
pub use org_units::{OrgUnitPolicy, OrgUnitsError, is_code, org_unit_leaves, parse_code_list};
pub use reject::RejectReason;
pub use schema::{column, event_schema, person_type};
pub use time::{coarsen_ms, format_rfc3339_ms, parse_rfc3339_ms};
pub use validate::{Trigger, ValidEvent, ValidationConfig, Validator};
