//! `GET /v1/indices`: the latest published pipeline run, filtered.
//!
//! `fingertip pipeline run` publishes its indices to `<data>/published/indices.json`
//! (atomically); the server reads that file on each request.

use std::collections::BTreeMap;
use std::path::Path;

use fingertip_server::ApiError;
use hyper::StatusCode;
use serde_json::{Value, json};

const FILTERS: [&str; 4] = ["week", "index", "app_id", "org_unit"];

pub fn published_path(data_dir: &Path) -> std::path::PathBuf {
    fingertip_model::DataDir::new(data_dir).published_indices()
}

pub fn published(data_dir: &Path, filters: &BTreeMap<String, String>) -> Result<Value, ApiError> {
    if let Some(bad) = filters.keys().find(|k| !FILTERS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(
            "invalid_filter",
            format!("unknown filter `{bad}`; filters are week, index, app_id, org_unit"),
        ));
    }
    let text = std::fs::read_to_string(published_path(data_dir)).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_indices",
            "no pipeline run has been published yet",
        )
    })?;
    let mut doc: Value = serde_json::from_str(&text).map_err(|_| {
        ApiError::unavailable(
            "indices_unreadable",
            "the published indices could not be read",
        )
    })?;
    let rows = doc
        .get_mut("rows")
        .and_then(Value::as_array_mut)
        .map(std::mem::take)
        .unwrap_or_default();
    let kept: Vec<Value> = rows
        .into_iter()
        .filter(|row| {
            filters
                .iter()
                .all(|(k, v)| row.get(k).and_then(Value::as_str) == Some(v.as_str()))
        })
        .collect();
    doc["rows"] = json!(kept);
    Ok(doc)
}
