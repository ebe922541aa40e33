//! The analysis endpoints of the server (`POST /v1/query`, `GET /v1/indices`), backed by the
//! query engine and the published indices; plugged into `fingertip-server` through its
//! `AnalysisApi` trait so that the server crate stays free of DataFusion and OpenDP.

use std::collections::BTreeMap;
use std::sync::Arc;

use fingertip_query::{Engine, QueryError, QueryRequest};
use fingertip_server::{AnalysisApi, ApiError, ApiFuture};
use hyper::StatusCode;
use serde_json::Value;

/// Serves DP queries (and, once pipelines have run, indices).
pub struct Analysis {
    engine: Arc<Engine>,
}

impl Analysis {
    /// Shares `engine` (its ledger handle) with the Flight SQL endpoint.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

/// A query error as an HTTP error with its stable code.
pub fn query_api_error(e: &QueryError) -> ApiError {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ApiError::new(status, e.code(), e.to_string())
}

impl AnalysisApi for Analysis {
    fn query(&self, principal: String, request: Value) -> ApiFuture {
        let engine = self.engine.clone();
        Box::pin(async move {
            let request: QueryRequest = serde_json::from_value(request).map_err(|e| {
                ApiError::bad_request("invalid_request", format!("the body must be {{\"sql\": \"...\", \"epsilon\": 0.5, \"delta\"?: 1e-6, \"bounds\"?: {{...}}}}: {e}"))
            })?;
            match engine.run(&principal, &request).await {
                Ok(answer) => Ok(answer.to_json()),
                Err(e) => Err(query_api_error(&e)),
            }
        })
    }

    fn indices(&self, filters: BTreeMap<String, String>) -> ApiFuture {
        let data_dir = self.engine.data_dir().to_path_buf();
        Box::pin(async move { crate::indices::published(&data_dir, &filters) })
    }
}
