//! Arrow Flight SQL for researchers: a standard driver (ADBC's Flight SQL driver, tested)
//! asks SQL questions and gets differentially private answers as Arrow record batches.
//!
//! This crate owns the protocol only. Who may call is decided by `fingertip-server`'s
//! [`authorize`](fingertip_server::authorize) (researcher tokens, `authorization: Bearer …`);
//! every statement runs through [`Engine::run`](fingertip_query::Engine::run), which owns the
//! guard, the ledger charge and the noise. There is no other path to the data: the catalog
//! calls list table names and schemas, never rows.
//!
//! A statement is run, and charged, once, when the client asks for its `FlightInfo`; the
//! released batches wait under an unguessable ticket bound to the caller's token until they
//! are fetched with `DoGet` (once, within [`RESULT_TTL`]). See `docs/sql.md`, "Arrow Flight SQL".
//!
//! ```no_run
//! # async fn demo(engine: fingertip_query::Engine, tokens: fingertip_server::TokenStore) {
//! use std::sync::Arc;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let service = fingertip_flight::FlightSql::new(Arc::new(engine), 0.1, 64);
//! fingertip_flight::serve(listener, service, Arc::new(tokens), std::future::pending(), 30_000)
//!     .await
//!     .unwrap();
//! # }
//! ```

mod arrow_answer;
mod auth;
mod catalog;
mod held;
mod params;
mod service;
mod status;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use fingertip_server::TokenStore;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

pub use arrow_answer::{answer_batches, answer_schema};
pub use held::RESULT_TTL;
pub use params::{BOUNDS_HEADER, DELTA_HEADER, EPSILON_HEADER, MAX_GROUPS_HEADER, MAX_ROWS_HEADER};
pub use service::FlightSql;

/// Why the Flight SQL endpoint stopped.
#[derive(Debug, thiserror::Error)]
pub enum FlightError {
    #[error("the Flight SQL server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves Flight SQL on `listener` until `shutdown` resolves, then lets calls in progress
/// finish for up to `drain_timeout_ms`.
pub async fn serve(
    listener: TcpListener,
    service: FlightSql,
    tokens: Arc<TokenStore>,
    shutdown: impl Future<Output = ()> + Send,
    drain_timeout_ms: u64,
) -> Result<(), FlightError> {
    let grpc = FlightServiceServer::with_interceptor(service, auth::Researchers::new(tokens));
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .add_service(grpc)
        .serve_with_incoming_shutdown(incoming, async move {
            shutdown.await;
            let _ = stopped_tx.send(());
        });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result.map_err(FlightError::from),
        _ = stopped_rx => tracing::info!("Flight SQL stopped accepting; draining calls in progress."),
    }
    let drain = Duration::from_millis(drain_timeout_ms);
    match tokio::time::timeout(drain, server).await {
        Ok(result) => result.map_err(FlightError::from),
        Err(_) => {
            tracing::warn!(
                timeout_ms = drain_timeout_ms,
                "Flight SQL drain timed out; closing remaining calls."
            );
            Ok(())
        }
    }
}
