//! `[server]` in `fingertip.toml`: the listeners (HTTP, and Flight SQL when set), request
//! limits and timeouts.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (overridden by `--listen`).
    pub listen: String,
    /// Largest request body as sent (compressed), checked from `Content-Length` and while
    /// streaming.
    pub max_body_bytes: usize,
    /// Largest request body after decompression.
    pub max_decoded_body_bytes: usize,
    /// Most events in one request.
    pub max_events_per_batch: usize,
    /// A client must send its request headers within this time (slowloris guard); also the
    /// idle timeout of keep-alive connections.
    pub header_read_timeout_ms: u64,
    /// A client must send its whole body within this time.
    pub body_read_timeout_ms: u64,
    /// Open connections; further clients wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Requests being processed at once; further requests wait (backpressure).
    pub max_in_flight_requests: usize,
    /// Bytes that request bodies may hold at once, across all requests: each `POST
    /// /v1/events` charges its body as sent, its decompressed body and as much again for its
    /// parsed events. A request that would pass it is refused with `429 overloaded`.
    pub max_in_flight_body_bytes: usize,
    /// Sustained events per second per app (0 = unlimited), with bursts up to
    /// `rate_limit_burst_events`. Over the limit: 429 with `Retry-After`.
    pub rate_limit_events_per_s: u64,
    pub rate_limit_burst_events: u64,
    /// On SIGTERM/SIGINT, in-flight requests get this long to finish.
    pub shutdown_drain_timeout_ms: u64,
    /// Address of the Arrow Flight SQL endpoint for researchers (`--flight-listen`); none: off.
    pub flight_listen: Option<String>,
    /// ε of a Flight SQL statement whose call has no `x-fingertip-epsilon` header.
    pub flight_default_epsilon: f64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:4180".into(),
            max_body_bytes: 8 << 20,
            max_decoded_body_bytes: 32 << 20,
            max_events_per_batch: 10_000,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 30_000,
            max_connections: 4096,
            max_in_flight_requests: 512,
            max_in_flight_body_bytes: 192 << 20,
            rate_limit_events_per_s: 2_000_000,
            rate_limit_burst_events: 4_000_000,
            shutdown_drain_timeout_ms: 30_000,
            flight_listen: None,
            flight_default_epsilon: 0.1,
        }
    }
}
