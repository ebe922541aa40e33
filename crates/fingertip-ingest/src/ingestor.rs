//! From parsed events to a durable WAL record: validate, pseudonymize, encode, append.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use fingertip_anonymize::{KeyError, KeyStore};
use fingertip_model::{IncomingEvent, RejectReason, ValidEvent, Validator};
use fingertip_store::{EventRef, RecordBuilder, Store, StoreError, dedup_key};
use serde::Serialize;

use crate::IngestMetrics;

/// One rejected event of a batch: where it was and why. Never carries a value from the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub index: usize,
    pub code: &'static str,
    pub field: &'static str,
    pub message: &'static str,
}

impl Rejected {
    fn new(index: usize, (reason, field): (RejectReason, &'static str)) -> Self {
        Self {
            index,
            code: reason.code(),
            field,
            message: reason.message(),
        }
    }
}

/// The answer to a batch whose accepted events are durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestOutcome {
    /// Events stored by this request.
    pub accepted: u32,
    /// Valid events already stored before (same `event_id` and app within the dedup window).
    pub duplicates: u32,
    pub rejected: Vec<Rejected>,
}

/// Why a batch as a whole was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no event in the batch is valid")]
    NoValidEvents(Vec<Rejected>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the key store is unavailable")]
    Keys,
}

/// Validated, pseudonymized and encoded events of one request, not yet durable.
#[derive(Debug)]
pub struct Prepared {
    payload: Vec<u8>,
    keys: Vec<u64>,
    rejected: Vec<Rejected>,
}

/// The ingest pipeline of one server.
#[derive(Debug)]
pub struct Ingestor {
    validator: Validator,
    keys: Arc<KeyStore>,
    store: Arc<Store>,
    metrics: Arc<IngestMetrics>,
}

impl Ingestor {
    pub fn new(validator: Validator, keys: Arc<KeyStore>, store: Arc<Store>) -> Self {
        Self {
            validator,
            keys,
            store,
            metrics: Arc::default(),
        }
    }

    pub fn metrics(&self) -> &Arc<IngestMetrics> {
        &self.metrics
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Validates and pseudonymizes `events` from `app_id`, received at `now_ms`. CPU only.
    pub fn prepare(
        &self,
        app_id: &str,
        events: &[IncomingEvent<'_>],
        now_ms: i64,
    ) -> Result<Prepared, IngestError> {
        let mut builder = RecordBuilder::new(app_id, now_ms, events.len());
        let mut keys = Vec::with_capacity(events.len());
        let mut rejected = Vec::new();
        let mut epoch = self.keys.epoch_of(now_ms);
        for (index, incoming) in events.iter().enumerate() {
            let valid = match self.validator.validate(incoming, now_ms) {
                Ok(v) => v,
                Err(problem) => {
                    self.metrics.rejected(problem.0);
                    rejected.push(Rejected::new(index, problem));
                    continue;
                }
            };
            if !(epoch.start_ms..epoch.end_ms).contains(&valid.started_at_ms) {
                epoch = self.keys.epoch_of(valid.started_at_ms);
            }
            match self.keys.pseudonym(&epoch.label, valid.person_ref) {
                Ok(person) => {
                    builder.push(&event_ref(&valid, person, &epoch.label));
                    keys.push(dedup_key(app_id, valid.event_id));
                }
                Err(KeyError::Destroyed(_)) => {
                    self.metrics.rejected(RejectReason::EpochKeyDestroyed);
                    rejected.push(Rejected::new(
                        index,
                        (RejectReason::EpochKeyDestroyed, "started_at"),
                    ));
                }
                Err(error) => {
                    tracing::error!(%error, "Pseudonymization failed; the batch is refused.");
                    return Err(IngestError::Keys);
                }
            }
        }
        if builder.is_empty() {
            return Err(IngestError::NoValidEvents(rejected));
        }
        Ok(Prepared {
            payload: builder.finish(),
            keys,
            rejected,
        })
    }

    /// Makes the prepared events durable; returns once they are fsynced.
    pub async fn commit(&self, prepared: Prepared) -> Result<IngestOutcome, IngestError> {
        let valid = prepared.keys.len() as u32;
        let duplicates = self
            .store
            .append(prepared.payload, prepared.keys)
            .await?
            .len() as u32;
        self.metrics
            .events_accepted
            .fetch_add(u64::from(valid - duplicates), Relaxed);
        self.metrics
            .events_duplicate
            .fetch_add(u64::from(duplicates), Relaxed);
        Ok(IngestOutcome {
            accepted: valid - duplicates,
            duplicates,
            rejected: prepared.rejected,
        })
    }
}

/// The stored form of a valid event: its pseudonym and key epoch instead of `person_ref`.
pub fn event_ref<'a>(v: &'a ValidEvent<'a>, person: [u8; 16], epoch: &'a str) -> EventRef<'a> {
    EventRef {
        event_id: v.event_id,
        person,
        key_epoch: epoch,
        org_unit: v.org_unit,
        event_type: v.event_type,
        trigger: v.trigger,
        started_at_ms: v.started_at_ms,
        duration_s: v.duration_s,
        data_elements: &v.data_elements,
    }
}
