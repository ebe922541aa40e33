//! Grouping events by app into request bodies (`{"events": [...]}` or NDJSON), optionally
//! gzip-compressed. Runs on a blocking thread, one event at a time.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;

use fingertip_sim::{SimEvent, encode_event};

use super::{BodyFormat, PostError};

/// One request ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub token: Arc<str>,
    pub body: Bytes,
    pub events: u64,
}

/// The body being filled for one app.
#[derive(Debug)]
struct Pending {
    token: Arc<str>,
    body: String,
    events: u64,
}

/// Appends events to per-app bodies and hands out full batches.
#[derive(Debug)]
pub(crate) struct Batcher {
    tokens: HashMap<String, Arc<str>>,
    pending: HashMap<Arc<str>, Pending>,
    batch_size: u64,
    format: BodyFormat,
    gzip: bool,
}

impl Batcher {
    pub(crate) fn new(
        tokens: &HashMap<String, String>,
        batch_size: usize,
        format: BodyFormat,
        gzip: bool,
    ) -> Self {
        let tokens = tokens
            .iter()
            .map(|(app, token)| (app.clone(), Arc::from(token.as_str())))
            .collect();
        let batch_size = batch_size.max(1) as u64;
        Self {
            tokens,
            pending: HashMap::new(),
            batch_size,
            format,
            gzip,
        }
    }

    /// Adds `e` to its app's body; returns the batch if that body is now full.
    pub(crate) fn push(&mut self, e: &SimEvent) -> Result<Option<Batch>, PostError> {
        if !self.pending.contains_key(&e.app_id) {
            let token = self.tokens.get(&*e.app_id).cloned();
            let token = token.ok_or_else(|| PostError::MissingToken {
                app_id: e.app_id.to_string(),
            })?;
            self.pending.insert(
                e.app_id.clone(),
                Pending {
                    token,
                    body: String::new(),
                    events: 0,
                },
            );
        }
        let (format, full_at) = (self.format, self.batch_size);
        // Unwrap safety: inserted just above when missing.
        let pending = self
            .pending
            .get_mut(&e.app_id)
            .expect("pending body exists");
        match (format, pending.events) {
            (BodyFormat::Json, 0) => pending.body.push_str("{\"events\":[\n"),
            (BodyFormat::Json, _) => pending.body.push_str(",\n"),
            (BodyFormat::Ndjson, _) => {}
        }
        encode_event(e, &mut pending.body);
        if format == BodyFormat::Ndjson {
            pending.body.push('\n');
        }
        pending.events += 1;
        if pending.events < full_at {
            return Ok(None);
        }
        let app = e.app_id.clone();
        self.take(&app).map(Some)
    }

    /// Every partly filled batch.
    pub(crate) fn drain(&mut self) -> Result<Vec<Batch>, PostError> {
        let mut apps: Vec<Arc<str>> = self
            .pending
            .iter()
            .filter(|p| p.1.events > 0)
            .map(|p| p.0.clone())
            .collect();
        apps.sort();
        apps.iter().map(|app| self.take(app)).collect()
    }

    fn take(&mut self, app: &Arc<str>) -> Result<Batch, PostError> {
        // Unwrap safety: callers only take apps that have a pending body.
        let pending = self.pending.get_mut(app).expect("pending body exists");
        let mut body = std::mem::take(&mut pending.body);
        if self.format == BodyFormat::Json {
            body.push_str("\n]}");
        }
        let events = std::mem::take(&mut pending.events);
        let body = if self.gzip {
            gzip(body.as_bytes())?
        } else {
            Bytes::from(body)
        };
        Ok(Batch {
            token: pending.token.clone(),
            body,
            events,
        })
    }
}

fn gzip(data: &[u8]) -> Result<Bytes, PostError> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::fast(),
    );
    encoder
        .write_all(data)
        .map_err(PostError::io("gzip body"))?;
    Ok(Bytes::from(
        encoder.finish().map_err(PostError::io("gzip body"))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fingertip_sim::SimOptions;

    #[test]
    fn groups_by_app_into_valid_bodies() {
        let mut options = SimOptions::new(5, 1, 1);
        options.end_ms = 1_795_000_000_000;
        let tokens = fingertip_sim::App::ALL
            .iter()
            .map(|a| (a.id().to_string(), format!("ft_{}", a.id())))
            .collect();
        let mut batcher = Batcher::new(&tokens, 7, BodyFormat::Json, false);
        let mut batches = Vec::new();
        let total = fingertip_sim::events(options)
            .map(|e| batcher.push(&e).unwrap().map(|b| batches.push(b)))
            .count() as u64;
        batches.extend(batcher.drain().unwrap());
        assert_eq!(batches.iter().map(|b| b.events).sum::<u64>(), total);
        for b in &batches {
            let v: serde_json::Value = serde_json::from_slice(&b.body).unwrap();
            let events = v["events"].as_array().unwrap();
            assert_eq!(events.len() as u64, b.events);
            assert!(b.events <= 7);
            assert_eq!(
                *b.token,
                format!("ft_{}", events[0]["app_id"].as_str().unwrap())
            );
        }
    }

    #[test]
    fn missing_token_is_an_error() {
        let options = SimOptions::new(2, 1, 1);
        let mut batcher = Batcher::new(&HashMap::new(), 7, BodyFormat::Ndjson, false);
        let e = fingertip_sim::events(options).next().unwrap();
        assert!(matches!(
            batcher.push(&e),
            Err(PostError::MissingToken { .. })
        ));
    }
}
