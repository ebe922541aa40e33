//! `POST /v1/logs`: OTLP/HTTP logs, protobuf or JSON. The request goes through the same
//! [`Server::ingest`] as `/v1/events`; only the answers differ, as the OTLP/HTTP
//! specification asks: `200` with an `ExportLogsServiceResponse` (its `partial_success`
//! counting the rejected records), or a `google.rpc.Status` with the same HTTP status and
//! `Retry-After` as `/v1/events` would answer, both in the encoding of the request.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode, header};

use fingertip_ingest::otlp::reply;
use fingertip_ingest::{BodyFormat, IngestError, IngestOutcome};

use crate::events::{ingest_error, media_type};
use crate::{ApiError, Server};

type Reply = Response<Full<Bytes>>;

impl Server {
    pub(crate) async fn post_logs(self: Arc<Self>, req: Request<Incoming>) -> Reply {
        let format = otlp_format(&req).unwrap_or(BodyFormat::OtlpJson);
        let outcome = match self.ingest(req, otlp_format).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(IngestError::NoValidEvents(rejected))) => Ok(IngestOutcome {
                accepted: 0,
                duplicates: 0,
                rejected,
            }),
            Ok(Err(e)) => Err(ingest_error(e)),
            Err(e) => Err(e),
        };
        match outcome {
            Ok(outcome) => answer(
                StatusCode::OK,
                format,
                reply::export_response(format, &outcome.rejected),
            ),
            Err(e) => failure(format, e),
        }
    }
}

/// The OTLP encoding of the body, from `Content-Type`.
fn otlp_format(req: &Request<Incoming>) -> Result<BodyFormat, ApiError> {
    match media_type(req).as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(BodyFormat::OtlpProtobuf),
        "application/json" => Ok(BodyFormat::OtlpJson),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Content-Type must be application/x-protobuf or application/json",
        )),
    }
}

fn failure(format: BodyFormat, e: ApiError) -> Reply {
    let body = reply::status(format, e.status.as_u16(), e.code, &e.message);
    let mut response = answer(e.status, format, body);
    if let Some(s) = e.retry_after_s {
        response.headers_mut().insert(header::RETRY_AFTER, s.into());
    }
    response
}

fn answer(status: StatusCode, format: BodyFormat, body: Vec<u8>) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(reply::content_type(format)),
    );
    response
}
