//! The Fingertip HTTP server: hyper 1 accept loop, token authentication by role, limits,
//! routing, metrics. It composes the ingest path; the analysis endpoints (`/v1/query`,
//! `/v1/indices`) are plugged in by the binary through [`AnalysisApi`], so this crate never
//! depends on DataFusion or OpenDP.
//!
//! | route | role |
//! |---|---|
//! | `POST /v1/events` | app (token bound to one `app_id`) |
//! | `POST /v1/logs` (OTLP/HTTP logs) | app |
//! | `POST /v1/query` | researcher |
//! | `GET /v1/indices` | oversight |
//! | `GET /healthz`, `GET /readyz`, `GET /metrics` | none |

mod api;
mod auth;
mod config;
mod error;
mod events;
#[cfg(test)]
mod fuzz_tests;
mod http;
mod metrics;
mod otlp;
mod ratelimit;

pub use api::{AnalysisApi, ApiFuture};
pub use auth::{AuthError, authorize};
pub use config::ServerConfig;
pub use error::{ApiError, json_response};
pub use fingertip_registry::{Principal, Role, TokenStore};
pub use http::Server;
pub use metrics::ServerMetrics;
pub use ratelimit::RateLimiter;
