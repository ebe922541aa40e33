//! Helpers shared by the end-to-end tests: fixture lakes written straight to Parquet, the
//! real `fingertip` binary as a child process, and a small HTTP client over real sockets.

pub mod acks;
pub mod browser;
pub mod events;
pub mod fixtures;
pub mod http;
pub mod lake;
pub mod otlp;
pub mod pipelines;
pub mod server;
pub mod stats;
