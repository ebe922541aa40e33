//! Query errors as gRPC statuses. The class comes from the engine's own mapping to HTTP
//! ([`QueryError::status`]), so `POST /v1/query` and Flight SQL never disagree; the message
//! starts with the stable code (`budget_exhausted: …`, `person_column: …`).
//!
//! | HTTP | gRPC |
//! |---|---|
//! | 400, 422 (refusals, invalid parameters) | `InvalidArgument` |
//! | 409 (`budget_exhausted`) | `FailedPrecondition` |
//! | 503 (`ledger_unavailable`) | `Unavailable` |
//! | 500 and anything else | `Internal` |

use fingertip_query::QueryError;
use tonic::Status;

pub fn query_status(e: &QueryError) -> Status {
    let message = format!("{}: {e}", e.code());
    match e.status() {
        400 | 422 => Status::invalid_argument(message),
        409 => Status::failed_precondition(message),
        503 => Status::unavailable(message),
        _ => Status::internal(message),
    }
}

/// An internal fault (Arrow encoding, a poisoned lock) that names no data.
pub fn internal(what: impl std::fmt::Display) -> Status {
    tracing::error!(error = %what, "Flight SQL internal error.");
    Status::internal(format!("internal_error: {what}"))
}
