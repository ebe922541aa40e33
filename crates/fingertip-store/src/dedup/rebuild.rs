//! Re-remembering keys from the lake when a day file was damaged after it was written (bit rot,
//! a bad sector): the keys of the damaged records are lost from the file, but their events are
//! in Parquet, which is the evidence the dedup window is meant to cover.
//!
//! Every Parquet file written within the window (by its modification time, plus a day of
//! margin) gives its `(app_id, event_id)` pairs back to the index, filed under today, so each is
//! kept for at least a full window from now. Only the two key columns are read.

use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime};

use arrow_array::{Array, StringArray};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{DedupIndex, dedup_key};

/// Inserts the keys of every recent Parquet file under `events_dir`; returns how many.
pub fn from_lake(index: &DedupIndex, events_dir: &Path, window_days: u32) -> io::Result<u64> {
    let since = SystemTime::now() - Duration::from_secs(86_400 * (u64::from(window_days) + 1));
    let today = index.today();
    let mut total = 0;
    for file in parquet_files(events_dir)? {
        if fs::metadata(&file)?.modified()? < since {
            continue;
        }
        let keys =
            file_keys(&file).map_err(|e| io::Error::other(format!("{}: {e}", file.display())))?;
        total += keys.len() as u64;
        index.insert_all(today, &keys);
    }
    Ok(total)
}

/// `events/date=*/app_id=*/*.parquet`.
fn parquet_files(events_dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    let mut dirs = vec![events_dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match fs::read_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            other => other?,
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                out.push(path);
            }
        }
    }
    Ok(out)
}

fn file_keys(path: &Path) -> Result<Vec<u64>, Box<dyn std::error::Error>> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(path)?)?;
    let schema = builder.parquet_schema();
    let mask = ProjectionMask::columns(schema, ["app_id", "event_id"]);
    let mut keys = Vec::new();
    for batch in builder.with_projection(mask).build()? {
        let batch = batch?;
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .ok_or_else(|| format!("no string column {name}"))
        };
        let (apps, ids) = (column("app_id")?, column("event_id")?);
        for i in 0..batch.num_rows() {
            if apps.is_valid(i) && ids.is_valid(i) {
                let id = uuid::Uuid::parse_str(ids.value(i))?.as_u128();
                keys.push(dedup_key(apps.value(i), id));
            }
        }
    }
    Ok(keys)
}
