//! The answers of `POST /v1/logs`, in the encoding of the request as the OTLP/HTTP
//! specification asks: an `ExportLogsServiceResponse` (with `partial_success` when records
//! were rejected) on success, a `google.rpc.Status` on failure.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use prost::Message;
use serde_json::json;

use crate::{BodyFormat, Rejected};

/// How many rejected records `error_message` describes.
pub const FIRST_REASONS: usize = 5;

/// The `Content-Type` of an answer to a request in `format`.
pub fn content_type(format: BodyFormat) -> &'static str {
    match format {
        BodyFormat::OtlpProtobuf => "application/x-protobuf",
        _ => "application/json",
    }
}

/// The success answer: `partial_success` is set only when some records were rejected, with
/// their count and the first reasons (stable codes, the attribute they concern, never a value).
pub fn export_response(format: BodyFormat, rejected: &[Rejected]) -> Vec<u8> {
    let partial_success = (!rejected.is_empty()).then(|| ExportLogsPartialSuccess {
        rejected_log_records: rejected.len() as i64,
        error_message: reasons(rejected),
    });
    match (format, partial_success) {
        (BodyFormat::OtlpProtobuf, partial_success) => {
            ExportLogsServiceResponse { partial_success }.encode_to_vec()
        }
        (_, None) => b"{}".to_vec(),
        (_, Some(p)) => json_bytes(&json!({"partialSuccess": {
            "rejectedLogRecords": p.rejected_log_records.to_string(),
            "errorMessage": p.error_message,
        }})),
    }
}

/// `"2 of the log records were rejected; the first: record 0: unknown_event_type
/// (fingertip.event_type): event_type is not in the event catalog; ..."`.
fn reasons(rejected: &[Rejected]) -> String {
    let first: Vec<String> = rejected
        .iter()
        .take(FIRST_REASONS)
        .map(|r| {
            let attribute = super::attribute_of(r.field);
            format!(
                "record {}: {} ({attribute}): {}",
                r.index, r.code, r.message
            )
        })
        .collect();
    format!(
        "{} of the log records were rejected; the first: {}",
        rejected.len(),
        first.join("; ")
    )
}

/// `google.rpc.Status`: only `code` and `message` are used (OTLP clients do not act on it).
#[derive(Clone, PartialEq, Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The failure answer for HTTP status `http_status`: a `google.rpc.Status` whose message
/// starts with Fingertip's stable error code.
pub fn status(format: BodyFormat, http_status: u16, code: &str, message: &str) -> Vec<u8> {
    let status = Status {
        code: grpc_code(http_status),
        message: format!("{code}: {message}"),
    };
    match format {
        BodyFormat::OtlpProtobuf => status.encode_to_vec(),
        _ => json_bytes(&json!({"code": status.code, "message": status.message})),
    }
}

/// The gRPC code closest to an HTTP status (for troubleshooting only).
fn grpc_code(http_status: u16) -> i32 {
    match http_status {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,            // UNAUTHENTICATED
        403 => 7,             // PERMISSION_DENIED
        408 => 4,             // DEADLINE_EXCEEDED
        429 => 8,             // RESOURCE_EXHAUSTED
        503 => 14,            // UNAVAILABLE
        _ => 13,              // INTERNAL
    }
}

fn json_bytes(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(index: usize) -> Rejected {
        Rejected {
            index,
            code: "unknown_event_type",
            field: "event_type",
            message: "event_type is not in the event catalog",
        }
    }

    #[test]
    fn partial_success_in_both_encodings() {
        let all: Vec<Rejected> = (0..7).map(rejected).collect();
        let bytes = export_response(BodyFormat::OtlpProtobuf, &all);
        let decoded = ExportLogsServiceResponse::decode(&bytes[..]).unwrap();
        let partial = decoded.partial_success.unwrap();
        assert_eq!(partial.rejected_log_records, 7);
        assert!(partial.error_message.starts_with(
            "7 of the log records were rejected; the first: record 0: unknown_event_type (fingertip.event_type)"
        ));
        assert_eq!(
            partial.error_message.matches("record ").count(),
            FIRST_REASONS
        );
        let json: serde_json::Value =
            serde_json::from_slice(&export_response(BodyFormat::OtlpJson, &all)).unwrap();
        assert_eq!(json["partialSuccess"]["rejectedLogRecords"], "7");
        assert!(export_response(BodyFormat::OtlpProtobuf, &[]).is_empty());
        assert_eq!(export_response(BodyFormat::OtlpJson, &[]), b"{}");
    }

    #[test]
    fn failures_are_rpc_statuses() {
        let bytes = status(BodyFormat::OtlpProtobuf, 429, "overloaded", "retry");
        let decoded = Status::decode(&bytes[..]).unwrap();
        assert_eq!(
            (decoded.code, decoded.message.as_str()),
            (8, "overloaded: retry")
        );
    }
}
