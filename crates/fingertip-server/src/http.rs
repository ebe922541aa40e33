//! The HTTP server: accept loop, connection and request limits, routing, graceful shutdown.
//!
//! Shutdown order: stop accepting → let in-flight requests finish (bounded by
//! `shutdown_drain_timeout_ms`) → return; the caller then seals and compacts the WAL.
//! The peer address of a connection is never read, logged or stored.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::error::json_response;
use crate::{AnalysisApi, ApiError, RateLimiter, ServerConfig, ServerMetrics};
use fingertip_ingest::{Charge, Ingestor, MemoryBudget};
use fingertip_registry::{Principal, Role, TokenStore};

type Reply = Response<Full<Bytes>>;

/// Everything a request handler needs.
pub struct Server {
    pub(crate) config: ServerConfig,
    pub(crate) tokens: TokenStore,
    pub(crate) ingestor: Ingestor,
    pub(crate) metrics: ServerMetrics,
    limiter: RateLimiter,
    pub(crate) budget: Arc<MemoryBudget>,
    analysis: Option<Arc<dyn AnalysisApi>>,
    in_flight: Semaphore,
    draining: AtomicBool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Server {
    pub fn new(
        config: ServerConfig,
        tokens: TokenStore,
        ingestor: Ingestor,
        analysis: Option<Arc<dyn AnalysisApi>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            limiter: RateLimiter::new(
                config.rate_limit_events_per_s,
                config.rate_limit_burst_events,
            ),
            in_flight: Semaphore::new(config.max_in_flight_requests.max(1)),
            budget: MemoryBudget::new(config.max_in_flight_body_bytes),
            config,
            tokens,
            ingestor,
            metrics: ServerMetrics::default(),
            analysis,
            draining: AtomicBool::new(false),
        })
    }

    /// Serves `listener` until `shutdown` resolves, then drains in-flight requests.
    pub async fn run(self: Arc<Self>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
        let graceful = GracefulShutdown::new();
        let connections = Arc::new(Semaphore::new(self.config.max_connections.max(1)));
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(Duration::from_millis(self.config.header_read_timeout_ms));
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                p = connections.clone().acquire_owned() => p,
                _ = &mut shutdown => break,
            };
            let Ok(permit) = permit else { break };
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer_address_never_used)) => stream,
                    Err(error) => {
                        tracing::warn!(%error, "Accept failed.");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let server = self.clone();
            let service = service_fn(move |req| server.clone().handle(req));
            let connection =
                graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
            let server = self.clone();
            tokio::spawn(async move {
                server.metrics.connections_open.fetch_add(1, Relaxed);
                let _ = connection.await;
                server.metrics.connections_open.fetch_sub(1, Relaxed);
                drop(permit);
            });
        }
        self.draining.store(true, Relaxed);
        drop(listener);
        tracing::info!("Stopped accepting; draining in-flight requests.");
        let drain = Duration::from_millis(self.config.shutdown_drain_timeout_ms);
        if tokio::time::timeout(drain, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                timeout_ms = self.config.shutdown_drain_timeout_ms,
                "Drain timed out; closing remaining connections."
            );
        }
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Reply, Infallible> {
        let started = Instant::now();
        let mut response = self
            .clone()
            .route(req)
            .await
            .unwrap_or_else(ApiError::into_response);
        let status = response.status();
        if matches!(
            status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT | StatusCode::BAD_REQUEST
        ) {
            response.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        self.metrics.count_status(status.as_u16());
        self.metrics.request_seconds.observe(started.elapsed());
        Ok(response)
    }

    async fn route(self: Arc<Self>, req: Request<Incoming>) -> Result<Reply, ApiError> {
        let path = req.uri().path().to_string();
        match (req.method(), path.as_str()) {
            (&Method::GET, "/healthz") => {
                Ok(json_response(StatusCode::OK, &json!({"status": "ok"})))
            }
            (&Method::GET, "/readyz") => Ok(self.readyz().await),
            (&Method::GET, "/metrics") => Ok(self.metrics_text()),
            (&Method::POST, "/v1/events") => self.clone().post_events(req).await,
            (&Method::POST, "/v1/logs") => Ok(self.clone().post_logs(req).await),
            (&Method::POST, "/v1/query") => self.post_query(req).await,
            (&Method::GET, "/v1/indices") => self.get_indices(req).await,
            (
                _,
                "/healthz" | "/readyz" | "/metrics" | "/v1/events" | "/v1/logs" | "/v1/query"
                | "/v1/indices",
            ) => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )),
            _ => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such route",
            )),
        }
    }

    async fn readyz(&self) -> Reply {
        let store = self.ingestor.store().clone();
        let (writable, quarantined) = tokio::task::spawn_blocking(move || {
            (store.probe_writable(), store.quarantined_files())
        })
        .await
        .unwrap_or((false, 0));
        let (status, reason) = match (self.draining.load(Relaxed), writable) {
            (true, _) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
            (false, false) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the write-ahead log is not writable",
            ),
            (false, true) => (StatusCode::OK, "ready"),
        };
        let state = if status == StatusCode::OK {
            "ready"
        } else {
            "not_ready"
        };
        let mut body = json!({"status": state, "reason": reason, "quarantined_files": quarantined});
        if quarantined > 0 {
            body["warning"] = json!(
                "wal/quarantine holds damaged WAL segments or stray files: acknowledged data may need an operator; see the error log"
            );
        }
        json_response(status, &body)
    }

    fn metrics_text(&self) -> Reply {
        let mut text = self
            .metrics
            .render(self.ingestor.metrics(), self.ingestor.store().stats());
        text.push_str(&format!(
            "# HELP fingertip_in_flight_body_bytes Request body memory charged to the budget now.\n\
             # TYPE fingertip_in_flight_body_bytes gauge\nfingertip_in_flight_body_bytes {}\n\
             # HELP fingertip_in_flight_body_bytes_limit max_in_flight_body_bytes.\n\
             # TYPE fingertip_in_flight_body_bytes_limit gauge\nfingertip_in_flight_body_bytes_limit {}\n",
            self.budget.used(),
            self.budget.limit()
        ));
        let mut response = Response::new(Full::new(Bytes::from(text)));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        response
    }

    pub(crate) fn authenticate(
        &self,
        req: &Request<Incoming>,
        role: Role,
    ) -> Result<Principal, ApiError> {
        let header = req.headers().get(header::AUTHORIZATION);
        crate::auth::authorize(&self.tokens, header.map(|v| v.as_bytes()), role).map_err(|e| {
            let status = if e.is_forbidden() {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::UNAUTHORIZED
            };
            ApiError::new(status, e.code(), e.to_string())
        })
    }

    pub(crate) fn check_open(&self) -> Result<(), ApiError> {
        if self.draining.load(Relaxed) {
            return Err(ApiError::unavailable(
                "shutting_down",
                "the server is shutting down; retry on another instance or later",
            ));
        }
        Ok(())
    }

    pub(crate) fn check_rate(&self, app_id: &str) -> Result<(), ApiError> {
        self.limiter.check(app_id).map_err(|wait| {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "this app sends more than {} events/s; retry after {wait} s",
                    self.config.rate_limit_events_per_s
                ),
            );
            e.retry_after_s = Some(wait);
            e
        })
    }

    pub(crate) fn take_rate(&self, app_id: &str, events: usize) {
        self.limiter.take(app_id, events);
    }

    pub(crate) async fn acquire_slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
        self.in_flight
            .acquire()
            .await
            .map_err(|_| ApiError::unavailable("shutting_down", "the server is shutting down"))
    }

    /// Reads the whole body, refusing more than `limit` bytes (checked from `Content-Length`
    /// first, then frame by frame) and bodies slower than the body timeout. With a `charge`,
    /// the memory the body takes is charged to the server's budget as it arrives.
    pub(crate) async fn read_body(
        &self,
        req: Request<Incoming>,
        limit: usize,
        mut charge: Option<&mut Charge>,
    ) -> Result<Bytes, ApiError> {
        let too_large = || {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body is larger than {limit} bytes"),
            )
        };
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let capacity = declared.unwrap_or(0).min(limit as u64) as usize;
        if let Some(c) = charge.as_deref_mut() {
            c.grow_to(capacity).map_err(overloaded)?;
        }
        let mut body = req.into_body();
        let read = async {
            let mut buf = BytesMut::with_capacity(capacity);
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|_| {
                    ApiError::bad_request("body_read_failed", "the request body could not be read")
                })?;
                if let Ok(data) = frame.into_data() {
                    if buf.len() + data.len() > limit {
                        return Err(too_large());
                    }
                    if let Some(c) = charge.as_deref_mut() {
                        c.grow_to(buf.len() + data.len()).map_err(overloaded)?;
                    }
                    buf.extend_from_slice(&data);
                }
            }
            Ok(buf.freeze())
        };
        let timeout = Duration::from_millis(self.config.body_read_timeout_ms);
        let body = tokio::time::timeout(timeout, read).await.map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the body did not arrive within {} ms",
                    self.config.body_read_timeout_ms
                ),
            )
        })??;
        self.metrics
            .bytes_received
            .fetch_add(body.len() as u64, Relaxed);
        Ok(body)
    }

    async fn post_query(&self, req: Request<Incoming>) -> Result<Reply, ApiError> {
        let principal = self.authenticate(&req, Role::Researcher)?;
        let analysis = self.analysis()?;
        let _slot = self.acquire_slot().await?;
        let body = self.read_body(req, 1 << 20, None).await?;
        let request = serde_json::from_slice(&body).map_err(|_| {
            ApiError::bad_request(
                "malformed_json",
                "the body must be a JSON object like {\"sql\": \"...\", \"epsilon\": 0.5}",
            )
        })?;
        let answer = analysis.query(principal.token_id, request).await?;
        Ok(json_response(StatusCode::OK, &answer))
    }

    async fn get_indices(&self, req: Request<Incoming>) -> Result<Reply, ApiError> {
        self.authenticate(&req, Role::Oversight)?;
        let analysis = self.analysis()?;
        let filters: BTreeMap<String, String> = req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (percent_decode(k), percent_decode(v)))
            .collect();
        let answer = analysis.indices(filters).await?;
        Ok(json_response(StatusCode::OK, &answer))
    }

    fn analysis(&self) -> Result<Arc<dyn AnalysisApi>, ApiError> {
        self.analysis.clone().ok_or_else(|| {
            ApiError::unavailable("not_configured", "this server does not serve analyses")
        })
    }
}

/// `429 overloaded`: the in-flight memory budget is spent.
pub(crate) fn overloaded(e: fingertip_ingest::Overloaded) -> ApiError {
    let mut error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "overloaded", e.to_string());
    error.retry_after_s = Some(1);
    error
}

/// Decodes `%XX` escapes and `+` in a query-string component.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_decoding() {
        assert_eq!(super::percent_decode("2026-W45"), "2026-W45");
        assert_eq!(super::percent_decode("a%2Ab+c"), "a*b c");
        assert_eq!(super::percent_decode("%"), "%");
        assert_eq!(super::percent_decode("%4"), "%4");
    }
}
