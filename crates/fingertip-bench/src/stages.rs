//! The per-event stages of ingest and storage, each as one function over many events, so
//! that criterion (`benches/stages.rs`) can time them and callgrind (`src/bin/stages.rs`)
//! can count their instructions:
//!
//! | stage | what the server or compactor does | function |
//! |---|---|---|
//! | parse | JSON body → borrowed `IncomingEvent`s | [`parse`] |
//! | validate | catalog, org unit, clock, limits | [`validate`] |
//! | anonymize | HMAC-SHA256 pseudonym of `person_ref` | [`anonymize`] |
//! | wal_encode | the WAL record payload of a request | [`wal_encode`] |
//! | arrow_build | WAL payloads → sorted Arrow batch per app (compaction) | [`arrow_build`] |
//! | parquet_encode | Arrow batch → zstd Parquet bytes (compaction) | [`parquet_encode`] |
//!
//! The input is the simulator's realistic population in 100-event bodies, as the load
//! generator sends them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use arrow_array::RecordBatch;
use fingertip_anonymize::{KeyStore, KeysConfig, Pseudonym};
use fingertip_ingest::{BodyFormat, parse_events};
use fingertip_model::{
    Catalog, IncomingEvent, OrgUnitPolicy, ValidEvent, ValidationConfig, Validator,
};
use fingertip_sim::Distribution;
use fingertip_store::record::{self, StoredBatch};
use fingertip_store::{RecordBuilder, StoredEvent};
use parquet::arrow::ArrowWriter;

use crate::bodies::{BodyOptions, IdSource, Template, simulate_bodies};

/// Bodies, a validator and a key store in a private temporary directory.
#[derive(Debug)]
pub struct Fixture {
    pub bodies: Vec<Template>,
    pub rendered: Vec<Vec<u8>>,
    pub validator: Validator,
    pub keys: KeyStore,
    pub now_ms: i64,
    key_dir: PathBuf,
}

impl Fixture {
    /// About `events` events (whole 100-event bodies) of 4 000 simulated workers.
    pub fn new(events: usize) -> Result<Self> {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let options = BodyOptions {
            workers: 4_000,
            seed: 42,
            distribution: Distribution::Realistic,
            batch: 100,
            max_events: events + 800 * 100,
            recent: true,
            now_ms,
        };
        let mut bodies = simulate_bodies(&options);
        bodies.truncate(events.div_ceil(100).max(1));
        let mut ids = IdSource::new(1, 1);
        let rendered = bodies
            .iter()
            .map(|t| {
                let mut out = Vec::new();
                t.render(&mut ids, &mut out);
                out
            })
            .collect();
        let key_dir =
            std::env::temp_dir().join(format!("fingertip-bench-keys-{}", std::process::id()));
        let keys = KeyStore::open(&key_dir, KeysConfig::default())
            .context("opening the bench key store")?;
        let validator = Validator::new(
            Catalog::embedded(),
            OrgUnitPolicy::default(),
            ValidationConfig::default(),
        );
        Ok(Self {
            bodies,
            rendered,
            validator,
            keys,
            now_ms,
            key_dir,
        })
    }

    pub fn events(&self) -> usize {
        self.bodies.iter().map(Template::events).sum()
    }

    pub fn app_ids(&self) -> Vec<&str> {
        self.bodies.iter().map(|t| &*t.app_id).collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.key_dir);
    }
}

/// Parses every body.
pub fn parse(bodies: &[Vec<u8>]) -> Vec<Vec<IncomingEvent<'_>>> {
    bodies
        .iter()
        .map(|b| parse_events(b, BodyFormat::Json, usize::MAX).unwrap_or_default())
        .collect()
}

/// Validates every parsed event; rejected ones are left out.
pub fn validate<'a>(
    validator: &Validator,
    parsed: &'a [Vec<IncomingEvent<'_>>],
    now_ms: i64,
) -> Vec<Vec<ValidEvent<'a>>> {
    parsed
        .iter()
        .map(|events| {
            events
                .iter()
                .filter_map(|e| validator.validate(e, now_ms).ok())
                .collect()
        })
        .collect()
}

/// One event's pseudonym and epoch label.
pub type Anonymized = (Pseudonym, String);

/// Pseudonymizes every valid event with its epoch's key, as the ingestor does.
pub fn anonymize(keys: &KeyStore, valid: &[Vec<ValidEvent<'_>>]) -> Vec<Vec<Anonymized>> {
    let mut epoch = keys.epoch_of(0);
    valid
        .iter()
        .map(|events| {
            events
                .iter()
                .filter_map(|v| {
                    if !(epoch.start_ms..epoch.end_ms).contains(&v.started_at_ms) {
                        epoch = keys.epoch_of(v.started_at_ms);
                    }
                    keys.pseudonym(&epoch.label, v.person_ref)
                        .ok()
                        .map(|p| (p, epoch.label.clone()))
                })
                .collect()
        })
        .collect()
}

/// Encodes each request's events as its WAL record payload.
pub fn wal_encode(
    app_ids: &[&str],
    valid: &[Vec<ValidEvent<'_>>],
    anonymized: &[Vec<Anonymized>],
    received_at_ms: i64,
) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(valid.len());
    for ((app, events), persons) in app_ids.iter().zip(valid).zip(anonymized) {
        let mut builder = RecordBuilder::new(app, received_at_ms, events.len());
        for (v, (person, epoch)) in events.iter().zip(persons) {
            builder.push(&fingertip_ingest::event_ref(v, *person, epoch));
        }
        out.push(builder.finish());
    }
    out
}

/// Decodes WAL payloads, as compaction reads a segment back.
pub fn wal_decode(payloads: &[Vec<u8>]) -> Vec<StoredBatch> {
    payloads
        .iter()
        .filter_map(|p| record::decode(p).ok())
        .collect()
}

/// Groups events by app, sorts each group in the compactor's order and builds its batch.
pub fn arrow_build(batches: &[StoredBatch]) -> Vec<RecordBatch> {
    let mut by_app: BTreeMap<&str, Vec<&StoredEvent>> = BTreeMap::new();
    for b in batches {
        by_app.entry(&b.app_id).or_default().extend(b.events.iter());
    }
    by_app
        .into_iter()
        .filter_map(|(app, mut rows)| {
            rows.sort_by(|a, b| {
                (&a.org_unit, a.person, a.started_at_ms, a.event_id).cmp(&(
                    &b.org_unit,
                    b.person,
                    b.started_at_ms,
                    b.event_id,
                ))
            });
            let views: Vec<_> = rows.iter().map(|e| e.view()).collect();
            fingertip_store::lake::to_record_batch(app, &views).ok()
        })
        .collect()
}

/// Encodes each batch as one Parquet file in memory with the store's settings; returns the
/// total size in bytes.
pub fn parquet_encode(batches: &[RecordBatch], zstd_level: i32) -> usize {
    batches
        .iter()
        .filter_map(|batch| {
            let props = fingertip_store::lake::writer_properties(zstd_level, 1 << 20);
            let mut writer =
                ArrowWriter::try_new(Vec::with_capacity(1 << 20), batch.schema(), Some(props))
                    .ok()?;
            writer.write(batch).ok()?;
            writer.into_inner().ok().map(|v| v.len())
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_chain_without_losing_events() {
        let f = Fixture::new(1_000).unwrap();
        let n = f.events();
        assert_eq!(n, 1_000);
        let parsed = parse(&f.rendered);
        let valid = validate(&f.validator, &parsed, f.now_ms);
        assert_eq!(
            valid.iter().map(Vec::len).sum::<usize>(),
            n,
            "every simulated event is valid"
        );
        let anon = anonymize(&f.keys, &valid);
        let payloads = wal_encode(&f.app_ids(), &valid, &anon, f.now_ms);
        let decoded = wal_decode(&payloads);
        assert_eq!(decoded.iter().map(|b| b.events.len()).sum::<usize>(), n);
        let batches = arrow_build(&decoded);
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), n);
        assert!(parquet_encode(&batches, 3) > 1_000);
    }
}
