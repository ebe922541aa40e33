//! `POST /v1/events`: authenticate the app, enforce limits, decode, validate, anonymize,
//! and answer 202 only once the accepted events are fsynced. `POST /v1/logs` (`otlp.rs`)
//! goes through the same [`Server::ingest`].

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};
use serde_json::json;
use std::sync::atomic::Ordering::Relaxed;

use bytes::Bytes;
use fingertip_ingest::{
    BodyError, BodyFormat, Charge, Encoding, IngestError, IngestOutcome, Prepared, decode_body,
    parse_events, parse_memory,
};
use http_body_util::Full;
use std::sync::Arc;

use crate::error::json_response;
use crate::http::overloaded;
use crate::{ApiError, Server};
use fingertip_registry::Role;

impl Server {
    pub(crate) async fn post_events(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, ApiError> {
        let outcome = self.ingest(req, body_format).await?.map_err(ingest_error)?;
        Ok(json_response(StatusCode::ACCEPTED, &json!(outcome)))
    }

    /// The one ingest path of `/v1/events` and `/v1/logs`: authenticate the app, check the
    /// limits, read and decode the body (`format_of` names its format, or refuses it with
    /// 415), validate, pseudonymize, and make the accepted events durable. The outer error is
    /// an answer already; the inner one is the batch's, for the route to answer in its way.
    pub(crate) async fn ingest(
        self: Arc<Self>,
        req: Request<Incoming>,
        format_of: fn(&Request<Incoming>) -> Result<BodyFormat, ApiError>,
    ) -> Result<Result<IngestOutcome, IngestError>, ApiError> {
        let principal = self.authenticate(&req, Role::App)?;
        let app_id = principal.app_id.unwrap_or_default();
        self.check_open()?;
        self.check_rate(&app_id)?;
        let format = format_of(&req)?;
        let encoding = content_encoding(&req)?;
        let _slot = self.acquire_slot().await?;
        let mut charge = self.budget.charge(0).map_err(overloaded)?;
        let raw = self
            .read_body(req, self.config.max_body_bytes, Some(&mut charge))
            .await?;
        // Decompression, parsing, validation and HMACs are CPU work: off the async workers, so
        // that a large body never stalls other connections (or `/healthz`).
        let server = self.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            server
                .decode_and_prepare(&app_id, raw, encoding, format, &mut charge)
                .map(|p| (p, charge))
        })
        .await
        .map_err(|_| {
            ApiError::unavailable("internal_error", "the request could not be processed")
        })?;
        let (prepared, _charge) = prepared?;
        Ok(match prepared {
            Ok(prepared) => self.ingestor.commit(prepared).await,
            Err(e) => Err(e),
        })
    }

    /// Decodes the body under the limits and the memory budget, then validates and
    /// pseudonymizes its events. Blocking.
    fn decode_and_prepare(
        &self,
        app_id: &str,
        raw: Bytes,
        encoding: Encoding,
        format: BodyFormat,
        charge: &mut Charge,
    ) -> Result<Result<Prepared, IngestError>, ApiError> {
        let body = decode_body(raw, encoding, self.config.max_decoded_body_bytes, charge)
            .map_err(body_error)?;
        self.metrics
            .bytes_decoded
            .fetch_add(body.len() as u64, Relaxed);
        charge
            .grow(parse_memory(&body, format))
            .map_err(|e| body_error(e.into()))?;
        let events =
            parse_events(&body, format, self.config.max_events_per_batch).map_err(body_error)?;
        self.take_rate(app_id, events.len());
        Ok(self
            .ingestor
            .prepare(app_id, &events, fingertip_store::now_ms()))
    }
}

/// The media type of `Content-Type`, lowercase, without parameters.
pub(crate) fn media_type(req: &Request<Incoming>) -> String {
    let value = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = value.split(';').next().unwrap_or("");
    media.trim().to_ascii_lowercase()
}

fn body_format(req: &Request<Incoming>) -> Result<BodyFormat, ApiError> {
    match media_type(req).as_str() {
        "application/json" => Ok(BodyFormat::Json),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
            Ok(BodyFormat::Ndjson)
        }
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/json or application/x-ndjson",
        )),
    }
}

/// The one `Content-Encoding` of the body. Stacked codings (`gzip, zstd`, or the header
/// twice) and unknown ones are refused with 415.
fn content_encoding(req: &Request<Incoming>) -> Result<Encoding, ApiError> {
    let mut values = req.headers().get_all(header::CONTENT_ENCODING).iter();
    let value = values.next().map(|v| v.to_str().unwrap_or("?"));
    let stacked = values.next().is_some();
    let encoding = Encoding::parse(value).filter(|_| !stacked);
    encoding.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            "Content-Encoding must be identity, gzip or zstd",
        )
    })
}

fn body_error(e: BodyError) -> ApiError {
    let message = e.to_string();
    match e {
        BodyError::TooLarge { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", message)
        }
        BodyError::BadEncoding(_) => ApiError::bad_request("bad_encoding", message),
        BodyError::MalformedJson => ApiError::bad_request("malformed_json", message),
        BodyError::NotUtf8 => ApiError::bad_request("invalid_utf8", message),
        BodyError::MalformedOtlp(_) => ApiError::bad_request("malformed_otlp", message),
        BodyError::TooManyEvents { .. } => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_many_events", message)
        }
        BodyError::Overloaded(e) => overloaded(e),
    }
}

pub(crate) fn ingest_error(e: IngestError) -> ApiError {
    match e {
        IngestError::NoValidEvents(rejected) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_valid_events",
            "no event in the batch is valid; see `rejected` for each event's reason",
        )
        .with_detail("rejected", json!(rejected)),
        IngestError::Store(fingertip_store::StoreError::Encoding) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the events could not be encoded for storage; nothing was stored",
        ),
        IngestError::Store(_) => ApiError::unavailable(
            "wal_unavailable",
            "the events could not be made durable; nothing was stored, retry later",
        ),
        IngestError::Keys => ApiError::unavailable(
            "key_store_unavailable",
            "the key store is unavailable; nothing was stored, retry later",
        ),
    }
}
