//! Query errors and how each maps to an HTTP status and stable code.

use fingertip_dp::{DpError, LedgerError};

use crate::refusal::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The guard (or a parameter check) refused the query; nothing was spent.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Budget(#[from] LedgerError),
    #[error("a privacy mechanism failed: {0}")]
    Privacy(#[from] DpError),
    /// The query failed while running. The message names the kind of failure, not data.
    #[error("the query failed while running: {0}")]
    Engine(String),
}

impl QueryError {
    pub(crate) fn engine(e: impl std::fmt::Display) -> Self {
        let text = e.to_string();
        tracing::debug!(error = %text, "Query execution failed.");
        // Row expressions are total (guard::total), so what is left is resources or I/O.
        let kind = if text.contains("Resources exhausted") {
            "not enough memory"
        } else {
            "internal error"
        };
        Self::Engine(kind.to_string())
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Refused(r) => r.code,
            Self::Budget(LedgerError::Insufficient { .. }) => "budget_exhausted",
            Self::Budget(LedgerError::Invalid(_)) => "invalid_privacy_parameters",
            Self::Budget(_) => "ledger_unavailable",
            Self::Privacy(DpError::InvalidParameters(_)) => "invalid_privacy_parameters",
            Self::Privacy(_) => "privacy_mechanism_failed",
            Self::Engine(_) => "query_failed",
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Refused(r)
                if matches!(
                    r.code,
                    "syntax_error" | "plan_error" | "multiple_statements"
                ) =>
            {
                400
            }
            Self::Refused(_) => 422,
            Self::Budget(LedgerError::Insufficient { .. }) => 409,
            Self::Budget(LedgerError::Invalid(_))
            | Self::Privacy(DpError::InvalidParameters(_)) => 422,
            Self::Budget(_) => 503,
            Self::Privacy(_) | Self::Engine(_) => 500,
        }
    }
}
