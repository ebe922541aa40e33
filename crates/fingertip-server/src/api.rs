//! The researcher and oversight endpoints are served by other crates (DataFusion, OpenDP),
//! which the server must not depend on: the binary plugs them in through this trait.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::ApiError;

pub type ApiFuture = Pin<Box<dyn Future<Output = Result<Value, ApiError>> + Send>>;

/// `POST /v1/query` and `GET /v1/indices`.
pub trait AnalysisApi: Send + Sync + 'static {
    /// Runs a DP query for `principal` (a token id). `request` is the parsed JSON body.
    fn query(&self, principal: String, request: Value) -> ApiFuture;
    /// The latest published indices, filtered by the query parameters.
    fn indices(&self, filters: BTreeMap<String, String>) -> ApiFuture;
}
