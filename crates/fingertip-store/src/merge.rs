//! Small-file merging: quiet days leave one small Parquet file per partition per WAL segment;
//! the compactor merges them into one file per partition, crash-safe and exactly once.
//!
//! A partition `events/date=D/app_id=A/` is merged when D is at least `merge_min_age_days`
//! old (late events have mostly arrived) and it holds at least `merge_min_files` files smaller
//! than `merge_small_bytes`. Steps, each durable before the next:
//!
//! 1. a journal `<data>/merge/<id>.json` names the inputs and the output
//!    (`part-m-<id>.parquet`, `id` a hash of the inputs, so a re-run writes the same name);
//! 2. the output is written (hidden tmp, fsync, rename, fsync dir);
//! 3. the inputs are deleted (fsync dir); 4. the journal is deleted.
//!
//! [`recover`] finishes or undoes an interrupted merge from its journal: output present →
//! delete whatever inputs remain; output absent → drop the tmp and keep the inputs. So every
//! row is in exactly one file once recovery has run. (A query planned between steps 2 and 3
//! may read a row twice; per-person bounding caps what that can change.)

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use fingertip_model::DataDir;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lake::{tmp_path, write_parquet_batches, writer_properties};
use crate::{StoreConfig, sync_dir};

/// An interrupted merge's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Journal {
    dir: PathBuf,
    inputs: Vec<String>,
    output: String,
}

/// Finishes or undoes every interrupted merge of `data_dir`. Returns how many there were.
pub fn recover(data_dir: &Path) -> io::Result<usize> {
    let dir = DataDir::new(data_dir).merge();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut n = 0;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Ok(j) = serde_json::from_slice::<Journal>(&fs::read(&path)?) else {
            tracing::error!(path = %path.display(), "An unreadable merge journal was left alone.");
            continue;
        };
        let output = j.dir.join(&j.output);
        if !j.dir.exists() {
            // The partition itself is gone (retention): nothing to finish or undo.
        } else if output.exists() {
            for input in &j.inputs {
                remove_if_present(&j.dir.join(input))?;
            }
        } else {
            remove_if_present(&tmp_path(&output))?;
        }
        if j.dir.exists() {
            sync_dir(&j.dir)?;
        }
        fs::remove_file(&path)?;
        sync_dir(&dir)?;
        n += 1;
    }
    Ok(n)
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Merges the small files of every partition old enough (as of `today`, `YYYY-MM-DD`).
/// Returns the number of files merged away.
pub fn merge_small_files(data_dir: &Path, config: &StoreConfig, today: &str) -> io::Result<usize> {
    if config.merge_min_files < 2 {
        return Ok(0);
    }
    recover(data_dir)?;
    let cutoff = chrono::NaiveDate::parse_from_str(today, "%Y-%m-%d")
        .map(|d| (d - chrono::Duration::days(i64::from(config.merge_min_age_days))).to_string())
        .map_err(io::Error::other)?;
    let mut merged = 0;
    for date_dir in subdirs(&DataDir::new(data_dir).events(), "date=")? {
        let date = date_dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if date.trim_start_matches("date=") >= cutoff.as_str() {
            continue;
        }
        for part in subdirs(&date_dir, "app_id=")? {
            let small = small_files(&part, config.merge_small_bytes)?;
            if small.len() >= config.merge_min_files {
                merge(data_dir, &part, &small, config)?;
                merged += small.len();
            }
        }
    }
    Ok(merged)
}

fn subdirs(dir: &Path, prefix: &str) -> io::Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() && entry.file_name().to_string_lossy().starts_with(prefix) {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// The partition's Parquet files below `small_bytes`, by name.
fn small_files(part: &Path, small_bytes: u64) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(part)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("part-")
            && name.ends_with(".parquet")
            && entry.metadata()?.len() < small_bytes
        {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// Merges `inputs` of partition `dir` into one file (steps 1–4 above).
fn merge(data_dir: &Path, dir: &Path, inputs: &[String], config: &StoreConfig) -> io::Result<()> {
    let mut h = Sha256::new();
    h.update(dir.to_string_lossy().as_bytes());
    for i in inputs {
        h.update([0]);
        h.update(i.as_bytes());
    }
    let id: String = h.finalize()[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let journal = Journal {
        dir: dir.to_path_buf(),
        inputs: inputs.to_vec(),
        output: format!("part-m-{id}.parquet"),
    };
    let journal_dir = DataDir::new(data_dir).merge();
    fs::create_dir_all(&journal_dir)?;
    let journal_path = journal_dir.join(format!("{id}.json"));
    let bytes = serde_json::to_vec(&journal).map_err(io::Error::other)?;
    write_durable(&journal_path, &bytes)?;
    sync_dir(&journal_dir)?;

    let first = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(dir.join(&inputs[0]))?)
        .map_err(io::Error::other)?;
    let schema = first.schema().clone();
    let batches = inputs.iter().flat_map(|name| read_all(&dir.join(name)));
    let props = writer_properties(config.parquet_zstd_level, config.parquet_row_group_rows);
    write_parquet_batches(&dir.join(&journal.output), schema, batches, props)?;
    for input in inputs {
        fs::remove_file(dir.join(input))?;
    }
    sync_dir(dir)?;
    fs::remove_file(&journal_path)?;
    sync_dir(&journal_dir)?;
    tracing::info!(partition = %dir.display(), files = inputs.len(), output = %journal.output, "Merged small Parquet files.");
    Ok(())
}

/// Every batch of one file, read lazily (an unreadable file is an error for the merge).
fn read_all(path: &Path) -> Box<dyn Iterator<Item = io::Result<arrow_array::RecordBatch>>> {
    let reader = fs::File::open(path).and_then(|f| {
        ParquetRecordBatchReaderBuilder::try_new(f)
            .and_then(|b| b.build())
            .map_err(io::Error::other)
    });
    match reader {
        Ok(r) => Box::new(r.map(|b| b.map_err(io::Error::other))),
        Err(e) => Box::new(std::iter::once(Err(e))),
    }
}

fn write_durable(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = fs::File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::{ParquetOptions, partition_dir, write_partition};
    use crate::record::StoredEvent;

    fn event(i: u128) -> StoredEvent {
        StoredEvent {
            event_id: i,
            person: [7; 16],
            key_epoch: "2026Q4".into(),
            org_unit: "u1".into(),
            event_type: "check_in".into(),
            trigger: fingertip_model::Trigger::Mandatory,
            started_at_ms: 1_790_000_000_000,
            duration_s: 60.0,
            data_elements: vec![],
        }
    }

    /// A partition with `files` one-row files; returns its directory.
    fn partition(data: &Path, files: u128) -> PathBuf {
        for i in 0..files {
            write_one(data, i);
        }
        partition_dir(&DataDir::new(data).events(), "2026-10-01", "a")
    }

    /// `part-<i>.parquet` with event `i` alone.
    fn write_one(data: &Path, i: u128) {
        let e = event(i);
        let partition = ("2026-10-01", "a");
        let (file, options) = (format!("{i:04}"), ParquetOptions::default());
        let events = DataDir::new(data).events();
        write_partition(&events, partition, &file, &mut [e.view()], options).unwrap();
    }

    fn ids(dir: &Path) -> Vec<u128> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".parquet") {
                continue;
            }
            for b in read_all(&path) {
                let b = b.unwrap();
                let col = b.column_by_name("event_id").unwrap();
                let col = col
                    .as_any()
                    .downcast_ref::<arrow_array::StringArray>()
                    .unwrap();
                for r in 0..b.num_rows() {
                    out.push(uuid::Uuid::parse_str(col.value(r)).unwrap().as_u128());
                }
            }
        }
        out.sort();
        out
    }

    fn config(min_files: usize) -> StoreConfig {
        StoreConfig {
            merge_min_files: min_files,
            ..Default::default()
        }
    }

    #[test]
    fn merges_small_files_of_old_partitions_into_one() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = partition(tmp.path(), 20);
        // Too recent: nothing happens.
        assert_eq!(
            merge_small_files(tmp.path(), &config(8), "2026-10-02").unwrap(),
            0
        );
        assert_eq!(
            merge_small_files(tmp.path(), &config(8), "2026-10-05").unwrap(),
            20
        );
        let files: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(files.len(), 1);
        assert_eq!(ids(&dir), (0..20).collect::<Vec<_>>());
        assert!(!tmp.path().join("merge").read_dir().unwrap().any(|_| true));
    }

    #[test]
    fn an_interrupted_merge_is_finished_or_undone_exactly_once() {
        for crash_after_output in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = partition(tmp.path(), 10);
            let inputs: Vec<String> = small_files(&dir, u64::MAX).unwrap();
            // Do the merge, then put the state back to what a crash would leave.
            merge(tmp.path(), &dir, &inputs, &config(2)).unwrap();
            let output = fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
            let journal = Journal {
                dir: dir.clone(),
                inputs: inputs.clone(),
                output: output.file_name().unwrap().to_string_lossy().into_owned(),
            };
            let jdir = tmp.path().join("merge");
            fs::write(jdir.join("x.json"), serde_json::to_vec(&journal).unwrap()).unwrap();
            // Inputs 0..5 are back (a crash while deleting them, or before the output).
            let again = partition(tmp.path(), 5);
            assert_eq!(again, dir);
            if !crash_after_output {
                fs::rename(&output, tmp_path(&output)).unwrap();
                for i in 5..10u128 {
                    write_one(tmp.path(), i);
                }
            }
            assert_eq!(recover(tmp.path()).unwrap(), 1);
            assert_eq!(
                ids(&dir),
                (0..10).collect::<Vec<_>>(),
                "{crash_after_output}"
            );
            assert!(!tmp_path(&output).exists());
        }
    }

    #[test]
    fn a_journal_of_a_partition_retention_deleted_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let jdir = tmp.path().join("merge");
        fs::create_dir_all(&jdir).unwrap();
        let journal = Journal {
            dir: tmp.path().join("events/date=2020-01-01/app_id=a"),
            inputs: vec!["part-1.parquet".into()],
            output: "part-m-x.parquet".into(),
        };
        fs::write(jdir.join("x.json"), serde_json::to_vec(&journal).unwrap()).unwrap();
        assert_eq!(recover(tmp.path()).unwrap(), 1);
        assert!(!jdir.join("x.json").exists());
    }
}
