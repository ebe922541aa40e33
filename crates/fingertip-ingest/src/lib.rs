//! The ingest path: decode a request body, validate each event, anonymize it, and hand the
//! accepted events to the store, which answers once they are durable.
//!
//! Batch policy (documented in `docs/ingest.md`): events are judged one by one. Valid events
//! are stored even when others in the same batch are rejected; each rejected event is listed
//! by its index with a reason code. A batch with no valid event (and no re-sent one) is
//! refused as a whole with `no_valid_events`.
//!
//! `POST /v1/logs` (OTLP/HTTP) takes the same path: [`otlp`] maps each log record to the same
//! incoming event, and [`otlp::reply`] encodes the OTLP answers.
//!
//! This crate must never write a `person_ref` anywhere: it goes from the parsed body straight
//! into the HMAC. It depends on the model, the anonymizer and the store; never on DataFusion
//! or OpenDP.

mod body;
mod budget;
#[cfg(test)]
mod fuzz_tests;
mod ingestor;
mod metrics;
pub mod otlp;

pub use body::{BodyError, BodyFormat, Encoding, decode_body, parse_events, parse_memory};
pub use budget::{Charge, MemoryBudget, Overloaded};
pub use ingestor::{IngestError, IngestOutcome, Ingestor, Prepared, Rejected, event_ref};
pub use metrics::IngestMetrics;
