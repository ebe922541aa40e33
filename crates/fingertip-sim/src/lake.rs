//! The direct lake writer: simulated events anonymized and written straight to Parquet, for
//! benchmarks and tests that need big lakes without going through HTTP and the WAL.
//!
//! Each event is treated as ingest would treat it: `started_at` coarsened, the pseudonym made
//! with the data directory's epoch keys (`KeyStore`, created on first use), and the row
//! written to `<data>/events/date=YYYY-MM-DD/app_id=APP/part-<uuid>.parquet`. Rows are
//! buffered per partition and written in files of at most `rows_per_file` rows, each sorted
//! by (org_unit, person, started_at) as the compactor sorts, so any number of events streams
//! through bounded memory. No dedup keys are written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fingertip_anonymize::{KeyEpoch, KeyStore, KeysConfig, Pseudonym};
use fingertip_model::coarsen_ms;
use fingertip_store::StoredEvent;
use fingertip_store::lake::{ParquetOptions, date_of, write_partition};

use crate::SimError;
use crate::event::SimEvent;

const MS_PER_DAY: i64 = 86_400_000;

/// How to write the lake.
#[derive(Debug, Clone, PartialEq)]
pub struct LakeOptions {
    /// Most rows in one file (one file per partition per flush).
    pub rows_per_file: usize,
    /// When this many rows are buffered over all partitions, every partition is written.
    pub max_buffered_rows: usize,
    pub zstd_level: i32,
    pub row_group_rows: usize,
    /// `started_at` is rounded down to a multiple of this many seconds (ingest's default: 60).
    pub timestamp_granularity_s: i64,
    pub keys: KeysConfig,
}

impl Default for LakeOptions {
    fn default() -> Self {
        Self {
            rows_per_file: 1 << 20,
            max_buffered_rows: 4 << 20,
            zstd_level: 3,
            row_group_rows: 1 << 20,
            timestamp_granularity_s: 60,
            keys: KeysConfig::default(),
        }
    }
}

/// What the lake writer wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LakeReport {
    pub events: u64,
    pub files: u64,
    pub bytes: u64,
}

/// Anonymizes `events` and writes them into the lake under `data_dir`.
pub fn write_lake(
    events: impl IntoIterator<Item = SimEvent>,
    data_dir: &Path,
    options: &LakeOptions,
) -> Result<LakeReport, SimError> {
    let mut writer = LakeWriter::open(data_dir, options.clone())?;
    for e in events {
        writer.push(&e)?;
    }
    writer.finish()
}

/// The last pseudonym made (events of one worker come together, so this saves most HMACs).
#[derive(Debug)]
struct LastPerson {
    epoch: Arc<str>,
    person_ref: Arc<str>,
    pseudonym: Pseudonym,
}

/// A buffered row: the event (time coarsened) with its pseudonym. Strings stay shared
/// `Arc`s until the partition is written, which keeps buffers about half the size of
/// [`StoredEvent`]s.
#[derive(Debug)]
struct Row {
    person: Pseudonym,
    epoch: Arc<str>,
    event: SimEvent,
}

impl Row {
    /// The compactor's order: (org_unit, person, started_at, event_id).
    fn stored(&self) -> StoredEvent {
        let e = &self.event;
        StoredEvent {
            event_id: e.event_id,
            person: self.person,
            key_epoch: self.epoch.to_string(),
            org_unit: e.org_unit.to_string(),
            event_type: e.event_type.as_str().to_string(),
            trigger: e.trigger,
            started_at_ms: e.started_at_ms,
            duration_s: e.duration_s,
            data_elements: e.data_elements.iter().map(|d| d.to_string()).collect(),
        }
    }
}

/// A lake writer in progress.
#[derive(Debug)]
pub struct LakeWriter {
    keys: KeyStore,
    events_dir: PathBuf,
    options: LakeOptions,
    partitions: HashMap<(i64, Arc<str>), Vec<Row>>,
    buffered: usize,
    epoch: Option<(KeyEpoch, Arc<str>)>,
    last: Option<LastPerson>,
    report: LakeReport,
}

impl LakeWriter {
    /// Opens the key store of `data_dir` (creating `<data>/keys` if needed).
    pub fn open(data_dir: &Path, options: LakeOptions) -> Result<Self, SimError> {
        let keys = KeyStore::open(data_dir, options.keys.clone())?;
        let events_dir = fingertip_model::DataDir::new(data_dir).events();
        let (partitions, report) = (HashMap::new(), LakeReport::default());
        Ok(Self {
            keys,
            events_dir,
            options,
            partitions,
            buffered: 0,
            epoch: None,
            last: None,
            report,
        })
    }

    /// Adds one event, writing files as buffers fill.
    pub fn push(&mut self, e: &SimEvent) -> Result<(), SimError> {
        let started_at_ms = coarsen_ms(e.started_at_ms, self.options.timestamp_granularity_s);
        let epoch = self.epoch_label(started_at_ms);
        let person = self.pseudonym(&epoch, &e.person_ref)?;
        let mut event = e.clone();
        event.started_at_ms = started_at_ms;
        let key = (started_at_ms.div_euclid(MS_PER_DAY), e.app_id.clone());
        let rows = self.partitions.entry(key.clone()).or_default();
        rows.push(Row {
            person,
            epoch,
            event,
        });
        self.buffered += 1;
        if rows.len() >= self.options.rows_per_file {
            self.flush_partition(&key)?;
        } else if self.buffered >= self.options.max_buffered_rows {
            self.flush_all()?;
        }
        Ok(())
    }

    /// Writes what is left and reports.
    pub fn finish(mut self) -> Result<LakeReport, SimError> {
        self.flush_all()?;
        tracing::info!(
            events = self.report.events,
            files = self.report.files,
            bytes = self.report.bytes,
            "Wrote the simulated lake."
        );
        Ok(self.report)
    }

    fn epoch_label(&mut self, ms: i64) -> Arc<str> {
        match &self.epoch {
            Some((epoch, label)) if (epoch.start_ms..epoch.end_ms).contains(&ms) => label.clone(),
            _ => {
                let epoch = self.keys.epoch_of(ms);
                let label: Arc<str> = epoch.label.as_str().into();
                self.epoch = Some((epoch, label.clone()));
                label
            }
        }
    }

    fn pseudonym(
        &mut self,
        epoch: &Arc<str>,
        person_ref: &Arc<str>,
    ) -> Result<Pseudonym, SimError> {
        if let Some(last) = &self.last
            && last.epoch == *epoch
            && last.person_ref == *person_ref
        {
            return Ok(last.pseudonym);
        }
        let pseudonym = self.keys.pseudonym(epoch, person_ref)?;
        self.last = Some(LastPerson {
            epoch: epoch.clone(),
            person_ref: person_ref.clone(),
            pseudonym,
        });
        Ok(pseudonym)
    }

    fn flush_all(&mut self) -> Result<(), SimError> {
        let mut keys: Vec<_> = self.partitions.keys().cloned().collect();
        keys.sort();
        keys.iter().try_for_each(|k| self.flush_partition(k))
    }

    fn flush_partition(&mut self, key: &(i64, Arc<str>)) -> Result<(), SimError> {
        let Some(rows) = self.partitions.remove(key) else {
            return Ok(());
        };
        self.buffered -= rows.len();
        if rows.is_empty() {
            return Ok(());
        }
        let stored: Vec<StoredEvent> = rows.iter().map(Row::stored).collect();
        drop(rows);
        let date = date_of(key.0 * MS_PER_DAY);
        let mut refs: Vec<_> = stored.iter().map(StoredEvent::view).collect();
        let file = uuid::Uuid::new_v4().to_string();
        let options = ParquetOptions {
            zstd_level: self.options.zstd_level,
            row_group_rows: self.options.row_group_rows,
        };
        let (_, bytes) =
            write_partition(&self.events_dir, (&date, &key.1), &file, &mut refs, options)
                .map_err(SimError::io(self.events_dir.display().to_string()))?;
        self.report.events += stored.len() as u64;
        self.report.files += 1;
        self.report.bytes += bytes;
        Ok(())
    }
}
