//! Data minimization: how long events are kept in the lake, and the audited deletion of
//! what is older.
//!
//! The lake is partitioned by UTC date (`<data>/events/date=YYYY-MM-DD/…`). A date partition
//! is kept while `date ≥ today − keep_days` and deleted, whole, after that. Every deletion is
//! first appended (and fsynced) to `<data>/retention/audit.jsonl` as `deleting`, then the
//! partition is removed, then `deleted` is appended: a crash in between leaves an intent
//! line and a partition that the next sweep deletes (and logs) again. Only the lake is
//! touched: released indices, the ledger and the WAL are not (the WAL holds only events
//! younger than the ingest window, and they reach the lake first).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use fingertip_model::DataDir;
use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 86_400_000;

/// `[retention]` in `fingertip.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days of events kept in the lake (by event date, UTC); 0 keeps everything.
    ///
    /// 400 by default: a year-on-year comparison of the same quarter (work in townships is
    /// seasonal) plus five weeks for late pipeline re-runs is the longest look-back the
    /// burden indices need. Older raw events would serve no stated purpose; their released,
    /// differentially private indices are kept by the pipeline outputs instead.
    pub keep_days: u32,
    /// How often the server sweeps, in seconds.
    pub sweep_interval_s: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            keep_days: 400,
            sweep_interval_s: 3600,
        }
    }
}

/// One date partition of the lake.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Partition {
    pub date: String,
    pub files: usize,
    pub bytes: u64,
    /// The first UTC date on which the partition is no longer kept (`None`: kept forever).
    pub delete_on: Option<String>,
    pub expired: bool,
}

/// What the lake holds and until when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionStatus {
    pub keep_days: u32,
    /// Partitions older than this date are deleted (`None`: retention is off).
    pub oldest_kept: Option<String>,
    pub partitions: Vec<Partition>,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub time: String,
    /// `deleting` (before) or `deleted` (after).
    pub action: String,
    pub partition: String,
    pub files: usize,
    pub bytes: u64,
    pub keep_days: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("retention I/O on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> RetentionError + '_ {
    move |source| RetentionError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn date_plus(date: &str, days: i64) -> Option<String> {
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    Some((d + chrono::Duration::days(days)).to_string())
}

/// The lake's date partitions and when each is deleted, as of `now_ms`.
pub fn status(
    data_dir: &Path,
    config: &RetentionConfig,
    now_ms: i64,
) -> Result<RetentionStatus, RetentionError> {
    let events = DataDir::new(data_dir).events();
    let oldest_kept = (config.keep_days > 0)
        .then(|| crate::lake::date_of(now_ms - i64::from(config.keep_days) * DAY_MS));
    let mut partitions = Vec::new();
    let entries = match fs::read_dir(&events) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(RetentionStatus {
                keep_days: config.keep_days,
                oldest_kept,
                partitions,
            });
        }
        Err(e) => return Err(io_err(&events)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(&events))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(date) = name.strip_prefix("date=") else {
            continue;
        };
        if chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_err() {
            continue;
        }
        let (files, bytes) = usage(&entry.path())?;
        let delete_on = (config.keep_days > 0)
            .then(|| date_plus(date, i64::from(config.keep_days) + 1))
            .flatten();
        let expired = oldest_kept.as_deref().is_some_and(|o| date < o);
        partitions.push(Partition {
            date: date.to_string(),
            files,
            bytes,
            delete_on,
            expired,
        });
    }
    partitions.sort_by(|a, b| a.date.cmp(&b.date));
    Ok(RetentionStatus {
        keep_days: config.keep_days,
        oldest_kept,
        partitions,
    })
}

/// Files and bytes under `dir` (Parquet files and anything else).
fn usage(dir: &Path) -> Result<(usize, u64), RetentionError> {
    let mut out = (0, 0);
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let meta = entry.metadata().map_err(io_err(&entry.path()))?;
        if meta.is_dir() {
            let (f, b) = usage(&entry.path())?;
            out = (out.0 + f, out.1 + b);
        } else {
            out = (out.0 + 1, out.1 + meta.len());
        }
    }
    Ok(out)
}

/// Deletes every expired date partition, each logged before and after; returns them.
pub fn enforce(
    data_dir: &Path,
    config: &RetentionConfig,
    now_ms: i64,
) -> Result<Vec<Partition>, RetentionError> {
    let expired: Vec<Partition> = status(data_dir, config, now_ms)?
        .partitions
        .into_iter()
        .filter(|p| p.expired)
        .collect();
    let events = DataDir::new(data_dir).events();
    for p in &expired {
        audit(data_dir, config, "deleting", p)?;
        let dir = events.join(format!("date={}", p.date));
        fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        File::open(&events)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&events))?;
        audit(data_dir, config, "deleted", p)?;
        tracing::warn!(
            partition = %p.date,
            files = p.files,
            bytes = p.bytes,
            keep_days = config.keep_days,
            "Deleted events past the retention period."
        );
    }
    Ok(expired)
}

/// The audit log, oldest first (unreadable lines are skipped).
pub fn audit_log(data_dir: &Path) -> Result<Vec<AuditEntry>, RetentionError> {
    let path = DataDir::new(data_dir).retention().join("audit.jsonl");
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err(&path)(e)),
    }
}

fn audit(
    data_dir: &Path,
    config: &RetentionConfig,
    action: &str,
    p: &Partition,
) -> Result<(), RetentionError> {
    let dir = DataDir::new(data_dir).retention();
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let path = dir.join("audit.jsonl");
    let entry = AuditEntry {
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        action: action.into(),
        partition: format!("date={}", p.date),
        files: p.files,
        bytes: p.bytes,
        keep_days: config.keep_days,
    };
    let mut line = serde_json::to_string(&entry).unwrap_or_default();
    line.push('\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io_err(&path))?;
    file.write_all(line.as_bytes())
        .and_then(|_| file.sync_data())
        .map_err(io_err(&path))?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(&dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(data: &Path, date: &str, bytes: usize) {
        let dir = data.join(format!("events/date={date}/app_id=a"));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("part-1.parquet"), vec![0u8; bytes]).unwrap();
    }

    #[test]
    fn deletes_only_what_is_past_the_period_and_logs_each_deletion() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        for date in ["2025-01-01", "2025-10-28", "2025-10-29", "2026-12-01"] {
            partition(data, date, 10);
        }
        fs::create_dir_all(data.join("events/not-a-partition")).unwrap();
        let config = RetentionConfig {
            keep_days: 400,
            ..Default::default()
        };
        let now = fingertip_model::parse_rfc3339_ms("2026-12-02T01:00:00Z").unwrap();
        let s = status(data, &config, now).unwrap();
        assert_eq!(s.oldest_kept.as_deref(), Some("2025-10-28"));
        let expired: Vec<&str> = s
            .partitions
            .iter()
            .filter(|p| p.expired)
            .map(|p| p.date.as_str())
            .collect();
        assert_eq!(expired, ["2025-01-01"]);
        assert_eq!(s.partitions[1].delete_on.as_deref(), Some("2026-12-03"));

        let deleted = enforce(data, &config, now).unwrap();
        assert_eq!(deleted.len(), 1);
        assert!(!data.join("events/date=2025-01-01").exists());
        assert!(data.join("events/date=2025-10-28").exists());
        assert!(data.join("events/not-a-partition").exists());
        let log = audit_log(data).unwrap();
        let actions: Vec<(&str, &str)> = log
            .iter()
            .map(|e| (e.action.as_str(), e.partition.as_str()))
            .collect();
        assert_eq!(
            actions,
            [
                ("deleting", "date=2025-01-01"),
                ("deleted", "date=2025-01-01")
            ]
        );
        assert_eq!((log[0].files, log[0].bytes), (1, 10));
        // A day later the next partition goes; retention 0 keeps everything.
        assert_eq!(enforce(data, &config, now + DAY_MS).unwrap().len(), 1);
        let off = RetentionConfig {
            keep_days: 0,
            ..Default::default()
        };
        assert!(
            enforce(data, &off, now + 10_000 * DAY_MS)
                .unwrap()
                .is_empty()
        );
        assert!(data.join("events/date=2025-10-29").exists());
    }
}
