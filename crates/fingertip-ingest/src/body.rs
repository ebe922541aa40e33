//! Request bodies: decompression under a size cap, and JSON / NDJSON batch parsing.

use std::io::Read;

use fingertip_model::IncomingEvent;
use serde::Deserialize;

/// How the events are laid out in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `application/json`: `{"events": [ ... ]}`.
    Json,
    /// `application/x-ndjson`: one event object per line.
    Ndjson,
}

/// `Content-Encoding` of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

impl Encoding {
    /// Parses a `Content-Encoding` header value.
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("identity") => Some(Self::Identity),
            Some("gzip") | Some("x-gzip") => Some(Self::Gzip),
            Some("zstd") => Some(Self::Zstd),
            _ => None,
        }
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    #[error("the decompressed body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the body is not valid {0} data")]
    BadEncoding(&'static str),
    #[error("the body is not valid JSON of the form {{\"events\": [...]}}")]
    MalformedJson,
    #[error("the body is not valid UTF-8")]
    NotUtf8,
}

/// zstd frames may not ask for a window larger than 2^23 bytes (8 MiB): a tiny frame that
/// declares a huge window cannot make us allocate it.
const ZSTD_WINDOW_LOG_MAX: u32 = 23;

/// Decompresses `raw`, refusing to produce more than `limit` bytes.
pub fn decode_body(
    raw: bytes::Bytes,
    encoding: Encoding,
    limit: usize,
) -> Result<bytes::Bytes, BodyError> {
    let mut out = Vec::new();
    let cap = limit as u64 + 1;
    let read = match encoding {
        Encoding::Identity => {
            return if raw.len() > limit {
                Err(BodyError::TooLarge { limit })
            } else {
                Ok(raw)
            };
        }
        Encoding::Gzip => flate2::read::MultiGzDecoder::new(&raw[..])
            .take(cap)
            .read_to_end(&mut out)
            .map_err(|_| BodyError::BadEncoding("gzip")),
        Encoding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::new(&raw[..])
                .map_err(|_| BodyError::BadEncoding("zstd"))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|_| BodyError::BadEncoding("zstd"))?;
            decoder
                .take(cap)
                .read_to_end(&mut out)
                .map_err(|_| BodyError::BadEncoding("zstd"))
        }
    };
    read?;
    if out.len() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(out.into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(borrow)]
    events: Vec<IncomingEvent<'a>>,
}

/// Parses the events of a body. A JSON body that is not valid JSON fails as a whole; an NDJSON
/// line that is not valid JSON becomes one event rejected with `malformed_json`. Blank NDJSON
/// lines are skipped and do not count as events.
pub fn parse_events(body: &[u8], format: BodyFormat) -> Result<Vec<IncomingEvent<'_>>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|_| BodyError::NotUtf8)?;
    match format {
        BodyFormat::Json => serde_json::from_str::<Envelope>(text)
            .map(|e| e.events)
            .map_err(|_| BodyError::MalformedJson),
        BodyFormat::Ndjson => Ok(text
            .split('\n')
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|_| IncomingEvent {
                    problem: Some((fingertip_model::RejectReason::MalformedJson, "event")),
                    ..Default::default()
                })
            })
            .collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn zstd_bomb_is_capped() {
        let zeros = vec![0u8; 64 << 20];
        let bomb = zstd::encode_all(&zeros[..], 19).unwrap();
        assert!(bomb.len() < 8 << 10, "bomb is {} bytes", bomb.len());
        let err = decode_body(bomb.into(), Encoding::Zstd, 1 << 20).unwrap_err();
        assert_eq!(err, BodyError::TooLarge { limit: 1 << 20 });
    }

    #[test]
    fn gzip_round_trip_and_cap() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"{\"events\":[]}").unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(
            &decode_body(gz.clone().into(), Encoding::Gzip, 100).unwrap()[..],
            b"{\"events\":[]}"
        );
        assert!(matches!(
            decode_body(gz.into(), Encoding::Gzip, 5),
            Err(BodyError::TooLarge { .. })
        ));
        assert_eq!(
            decode_body(b"nope".to_vec().into(), Encoding::Gzip, 100),
            Err(BodyError::BadEncoding("gzip"))
        );
    }

    #[test]
    fn ndjson_lines_fail_alone() {
        let events = parse_events(
            b"{\"event_type\":\"login\"}\n\nnot json\n",
            BodyFormat::Ndjson,
        )
        .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1].problem.unwrap().0,
            fingertip_model::RejectReason::MalformedJson
        );
        assert_eq!(
            parse_events(b"{\"events\":[", BodyFormat::Json).unwrap_err(),
            BodyError::MalformedJson
        );
        assert_eq!(
            parse_events(b"{\"events\":[],\"x\":1}", BodyFormat::Json).unwrap_err(),
            BodyError::MalformedJson
        );
    }
}
