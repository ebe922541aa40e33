//! Posting one batch: keep-alive HTTP/1.1 through hyper's pooled client, bounded retries of
//! 429/503 (honouring `Retry-After`) and of connection failures, and reading the outcome.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, Uri, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use super::BodyFormat;
use super::batcher::Batch;

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The longest wait between two tries, whatever `Retry-After` says.
const MAX_WAIT: Duration = Duration::from_secs(30);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// What became of one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub retries: u64,
    pub failed: bool,
}

/// Everything a request needs besides its batch.
#[derive(Debug, Clone)]
pub(crate) struct Poster {
    pub client: HttpClient,
    pub uri: Uri,
    pub format: BodyFormat,
    pub gzip: bool,
    pub max_retries: u32,
}

/// One try's result: a status with its `Retry-After` and body, or a transport error.
type Answer = Result<(StatusCode, Option<u64>, Bytes), String>;

impl Poster {
    pub(crate) async fn post(&self, batch: &Batch) -> Outcome {
        let mut retries = 0;
        loop {
            let answer = self.send(batch).await;
            let wait = match &answer {
                Ok((status, after, _)) if retryable(*status) => {
                    Some(after.map_or_else(|| backoff(retries), Duration::from_secs))
                }
                Err(_) => Some(backoff(retries)),
                Ok(_) => None,
            };
            match wait {
                Some(wait) if retries < self.max_retries => {
                    retries += 1;
                    tokio::time::sleep(wait.min(MAX_WAIT)).await;
                }
                _ => {
                    return Outcome {
                        retries: u64::from(retries),
                        ..outcome(answer, batch.events)
                    };
                }
            }
        }
    }

    async fn send(&self, batch: &Batch) -> Answer {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(header::AUTHORIZATION, format!("Bearer {}", batch.token))
            .header(header::CONTENT_TYPE, self.format.content_type());
        if self.gzip {
            req = req.header(header::CONTENT_ENCODING, "gzip");
        }
        let req = req
            .body(Full::new(batch.body.clone()))
            .map_err(|e| e.to_string())?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.trim().parse().ok());
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok((status, after, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| Err("request timed out".into()))
    }
}

fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE
}

/// 250 ms, doubling with each retry.
fn backoff(retries: u32) -> Duration {
    Duration::from_millis(250u64 << retries.min(7))
}

/// Reads the final answer: counts from a 202, all rejected from a 422, failed otherwise.
fn outcome(answer: Answer, events: u64) -> Outcome {
    let failed = Outcome {
        failed: true,
        ..Outcome::default()
    };
    let (status, _, body) = match answer {
        Ok(a) => a,
        Err(error) => {
            tracing::warn!(%error, events, "A batch could not be delivered.");
            return failed;
        }
    };
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let count = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    match status {
        StatusCode::ACCEPTED => Outcome {
            accepted: count(&json["accepted"]),
            duplicates: count(&json["duplicates"]),
            rejected: json["rejected"].as_array().map_or(0, |r| r.len() as u64),
            ..Outcome::default()
        },
        StatusCode::UNPROCESSABLE_ENTITY if json["error"]["rejected"].is_array() => Outcome {
            rejected: events,
            ..Outcome::default()
        },
        _ => {
            let code = json["error"]["code"].as_str().unwrap_or("").to_string();
            tracing::warn!(
                status = status.as_u16(),
                code,
                events,
                "The server refused a batch."
            );
            failed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_outcomes() {
        let ok = Ok((
            StatusCode::ACCEPTED,
            None,
            Bytes::from(r#"{"accepted":5,"duplicates":2,"rejected":[{"index":1}]}"#),
        ));
        assert_eq!(
            outcome(ok, 8),
            Outcome {
                accepted: 5,
                duplicates: 2,
                rejected: 1,
                ..Default::default()
            }
        );
        let none = Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Bytes::from(r#"{"error":{"code":"no_valid_events","rejected":[]}}"#),
        ));
        assert_eq!(outcome(none, 8).rejected, 8);
        let busy = Ok((StatusCode::TOO_MANY_REQUESTS, Some(1), Bytes::new()));
        assert!(outcome(busy, 8).failed);
        assert!(outcome(Err("refused".into()), 8).failed);
        assert_eq!(backoff(0), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_millis(1000));
    }
}
