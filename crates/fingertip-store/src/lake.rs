//! The Parquet lake: partition paths, the row order, and writing one file durably.
//!
//! `<data>/events/date=YYYY-MM-DD/app_id=<app>/part-<id>.parquet`, hive-style. Every writer of
//! the lake (the compactor, the simulator's lake writer, test fixtures) writes a partition's
//! file through [`write_partition`], so the order of rows, the Arrow chunking and the Parquet
//! settings have one owner. A file is written as a hidden `.tmp` sibling, fsynced, renamed into
//! place, and its directory (and any directory created for it) fsynced, so a reader sees either
//! the whole file or nothing.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{
    FixedSizeBinaryBuilder, Float64Builder, ListBuilder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use fingertip_model::event_schema;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::record::EventView;

/// Where the Parquet file of one partition of one WAL segment goes.
pub fn partition_dir(events_dir: &Path, date: &str, app_id: &str) -> PathBuf {
    events_dir
        .join(format!("date={date}"))
        .join(format!("app_id={app_id}"))
}

/// How a partition's Parquet file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParquetOptions {
    pub zstd_level: i32,
    pub row_group_rows: usize,
}

impl Default for ParquetOptions {
    fn default() -> Self {
        Self {
            zstd_level: 3,
            row_group_rows: 1 << 20,
        }
    }
}

/// Rows per Arrow batch handed to the Parquet writer: bounds the Arrow copy of a partition.
const CHUNK_ROWS: usize = 65_536;

/// Writes the events of one partition (all of `app_id`, all on `date`) as
/// `part-<file_id>.parquet` under `events_dir`, sorted in the lake's order ([`sort_rows`]).
/// Returns the file's path and size. Memory: one Arrow chunk of rows at a time.
pub fn write_partition(
    events_dir: &Path,
    (date, app_id): (&str, &str),
    file_id: &str,
    rows: &mut [EventView<'_>],
    options: ParquetOptions,
) -> io::Result<(PathBuf, u64)> {
    sort_rows(rows);
    let path = partition_dir(events_dir, date, app_id).join(format!("part-{file_id}.parquet"));
    let batches = rows
        .chunks(CHUNK_ROWS)
        .map(|chunk| to_record_batch(app_id, chunk).map_err(io::Error::other));
    let props = writer_properties(options.zstd_level, options.row_group_rows);
    let bytes = write_parquet_batches(&path, event_schema(), batches, props)?;
    Ok((path, bytes))
}

/// (org unit rank, person, started_at, event id): the order rows are written in.
type SortKey = (u32, [u8; 16], i64, u128);

/// Sorts one partition's rows by (org_unit, person, started_at, event_id): a person's events
/// are adjacent, which is what makes the lake small and the person stage cheap. The org units
/// are ranked once, so the sort compares integers instead of strings.
pub fn sort_rows(rows: &mut [EventView<'_>]) {
    let mut units: Vec<&str> = rows.iter().map(|e| e.org_unit).collect();
    units.sort_unstable();
    units.dedup();
    let rank = |unit: &str| units.binary_search(&unit).unwrap_or(0) as u32;
    // Each key is computed once; they are distinct (an event id is stored once per app).
    rows.sort_by_cached_key(|e| -> SortKey {
        (rank(e.org_unit), e.person, e.started_at_ms, e.event_id)
    });
}

/// The UTC calendar date of an instant, `YYYY-MM-DD`.
pub fn date_of(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".to_string())
}

/// Parquet settings: zstd, dictionary pages for the low-cardinality columns, large row groups.
pub fn writer_properties(zstd_level: i32, row_group_rows: usize) -> WriterProperties {
    let level = ZstdLevel::try_new(zstd_level).unwrap_or_default();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_dictionary_enabled(true)
        .set_column_dictionary_enabled(ColumnPath::from("event_id"), false)
        .set_max_row_group_row_count(Some(row_group_rows))
        .set_created_by(format!("fingertip {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Builds the Arrow batch of events that all belong to `app_id`.
pub fn to_record_batch(
    app_id: &str,
    events: &[EventView<'_>],
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let n = events.len();
    let mut event_id = StringBuilder::with_capacity(n, n * 36);
    let mut app = StringBuilder::with_capacity(n, n * app_id.len());
    let mut org_unit = StringBuilder::with_capacity(n, n * 8);
    let mut person = FixedSizeBinaryBuilder::with_capacity(n, 16);
    let mut epoch = StringBuilder::with_capacity(n, n * 6);
    let mut event_type = StringBuilder::with_capacity(n, n * 10);
    let mut trigger = StringBuilder::with_capacity(n, n * 9);
    let mut started = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut duration = Float64Builder::with_capacity(n);
    let schema = event_schema();
    let item = match schema.field(9).data_type() {
        arrow_schema::DataType::List(f) => f.clone(),
        _ => unreachable!("data_elements is a list"),
    };
    let mut elements = ListBuilder::new(StringBuilder::new()).with_field(item);
    let mut uuid_buf = uuid::Uuid::encode_buffer();
    for e in events {
        event_id.append_value(
            uuid::Uuid::from_u128(e.event_id)
                .hyphenated()
                .encode_lower(&mut uuid_buf),
        );
        app.append_value(app_id);
        org_unit.append_value(e.org_unit);
        person.append_value(e.person)?;
        epoch.append_value(e.key_epoch);
        event_type.append_value(e.event_type);
        trigger.append_value(e.trigger.as_str());
        started.append_value(e.started_at_ms);
        duration.append_value(e.duration_s);
        e.data_elements
            .iter()
            .for_each(|d| elements.values().append_value(d));
        elements.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(event_id.finish()),
        Arc::new(app.finish()),
        Arc::new(org_unit.finish()),
        Arc::new(person.finish()),
        Arc::new(epoch.finish()),
        Arc::new(event_type.finish()),
        Arc::new(trigger.finish()),
        Arc::new(started.finish()),
        Arc::new(duration.finish()),
        Arc::new(elements.finish()),
    ];
    RecordBatch::try_new(schema, columns)
}

/// Writes `batches` (one schema) to `path` durably, one batch in memory at a time: a hidden
/// `.tmp` sibling, fsynced, renamed into place, directory fsynced. Returns bytes written.
pub fn write_parquet_batches(
    path: &Path,
    schema: arrow_schema::SchemaRef,
    batches: impl Iterator<Item = io::Result<RecordBatch>>,
    props: WriterProperties,
) -> io::Result<u64> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("file has no directory"))?;
    create_dir_durable(dir)?;
    let tmp = tmp_path(path);
    let file = File::create(&tmp)?;
    let mut writer =
        ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, file), schema, Some(props))
            .map_err(io::Error::other)?;
    for batch in batches {
        writer.write(&batch?).map_err(io::Error::other)?;
    }
    let file = writer
        .into_inner()
        .map_err(io::Error::other)?
        .into_inner()
        .map_err(|e| e.into_error())?;
    file.sync_all()?;
    let bytes = file.metadata()?.len();
    drop(file);
    fs::rename(&tmp, path)?;
    crate::sync_dir(dir)?;
    Ok(bytes)
}

/// The hidden sibling a file is written to before it is renamed into place.
pub fn tmp_path(path: &Path) -> PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("part");
    path.with_file_name(format!(".{name}.tmp"))
}

/// `create_dir_all`, then fsync each directory created and its parent.
fn create_dir_durable(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_durable(parent)?;
    }
    match fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    match dir.parent() {
        Some(parent) => crate::sync_dir(parent),
        None => Ok(()),
    }
}
