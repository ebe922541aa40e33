//! Ingest end to end: the real `fingertip serve` binary over real sockets and files.
//!
//! One test binary with a module per concern (each links the workspace once): the HTTP API,
//! anonymization at the door, durability across kills, limits, the Parquet the compactor
//! writes, the fault suite of issue 9, and OTLP/HTTP logs.

mod anonymity;
mod api;
mod durability;
mod faults;
mod limits;
mod otlp;
mod parquet;
