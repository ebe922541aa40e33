//! Reading back what the compactor wrote: every Parquet file under `<data>/events`, decoded
//! with the `parquet` crate (not with Fingertip's own code), and the files of a directory tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::TimestampMillisecondType;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// One stored event, as far as the tests look at it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub event_id: String,
    pub app_id: String,
    pub org_unit: String,
    pub person: Vec<u8>,
    pub event_type: String,
    pub trigger: String,
    pub started_at_ms: i64,
    pub duration_s: f64,
    pub data_elements: Vec<String>,
    /// The file the row came from.
    pub file: PathBuf,
}

/// Every regular file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// The Parquet files of the lake (not the hidden temporary files of a write in progress).
pub fn parquet_files(data: &Path) -> Vec<PathBuf> {
    files_under(&data.join("events"))
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "parquet")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect()
}

/// The record batches of one Parquet file.
pub fn read_batches(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .build()
        .expect("reader");
    reader.map(|b| b.expect("batch")).collect()
}

/// Every row of the lake.
pub fn read_rows(data: &Path) -> Vec<Row> {
    let mut rows = Vec::new();
    for path in parquet_files(data) {
        for batch in read_batches(&path) {
            rows.extend(batch_rows(&batch, &path));
        }
    }
    rows
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<String> {
    let col = batch
        .column_by_name(name)
        .unwrap_or_else(|| panic!("no column {name}"));
    let col = datafusion::arrow::compute::cast(col, &datafusion::arrow::datatypes::DataType::Utf8)
        .expect("text column");
    col.as_string::<i32>()
        .iter()
        .map(|v| v.expect("not null").to_string())
        .collect()
}

fn batch_rows(batch: &RecordBatch, file: &Path) -> Vec<Row> {
    let ids = strings(batch, "event_id");
    let apps = strings(batch, "app_id");
    let units = strings(batch, "org_unit");
    let types = strings(batch, "event_type");
    let triggers = strings(batch, "trigger");
    let person = batch
        .column_by_name("person")
        .expect("person")
        .as_fixed_size_binary();
    let started = batch
        .column_by_name("started_at")
        .expect("started_at")
        .as_primitive::<TimestampMillisecondType>();
    let duration = batch
        .column_by_name("duration_s")
        .expect("duration_s")
        .as_primitive::<datafusion::arrow::datatypes::Float64Type>();
    let elements = batch
        .column_by_name("data_elements")
        .expect("data_elements")
        .as_list::<i32>();
    (0..batch.num_rows())
        .map(|i| Row {
            event_id: ids[i].clone(),
            app_id: apps[i].clone(),
            org_unit: units[i].clone(),
            person: person.value(i).to_vec(),
            event_type: types[i].clone(),
            trigger: triggers[i].clone(),
            started_at_ms: started.value(i),
            duration_s: duration.value(i),
            data_elements: {
                let list = elements.value(i);
                list.as_string::<i32>()
                    .iter()
                    .map(|v| v.unwrap_or_default().to_string())
                    .collect()
            },
            file: file.to_path_buf(),
        })
        .collect()
}

/// How many times each `event_id` is in the lake.
pub fn id_counts(data: &Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for row in read_rows(data) {
        *counts.entry(row.event_id).or_insert(0) += 1;
    }
    counts
}

/// Every `.wal` segment under `<data>/wal` (not the quarantine), by name.
pub fn wal_segments(data: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(data.join("wal"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "wal"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The records of a WAL segment: `(offset of the frame, frame length)` for each record, parsed
/// from the documented layout (32-byte header; `[len u32][crc u32][seq u64][payload]`).
pub fn wal_records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 32;
    while let Some(head) = bytes.get(pos..pos + 8) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len < 8 || pos + 8 + len > bytes.len() {
            break;
        }
        out.push((pos, 8 + len));
        pos += 8 + len;
    }
    out
}

/// Whether `data` holds `needle` anywhere.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
