//! The registry's files: JSON documents read whole and replaced atomically under an exclusive
//! lock (read, change, write a 0600 temporary, fsync, rename, fsync the directory), and
//! append-only JSON-lines audit logs. Tokens and apps both live in such files.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The document at `path`, or its default when the file does not exist.
pub fn read_json<T: DeserializeOwned + Default>(path: &Path) -> Result<T, FileError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| FileError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(T::default()),
        Err(source) => Err(io_error(path)(source)),
    }
}

/// Read-modify-write of the document at `path` under an exclusive lock (`<path>.lock`); the
/// new file replaces the old atomically and durably. Nothing is written when `change` fails.
pub fn update_json<T, R, E>(
    path: &Path,
    change: impl FnOnce(&mut T) -> Result<R, E>,
) -> Result<R, E>
where
    T: Serialize + DeserializeOwned + Default,
    E: From<FileError>,
{
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_error(path))?;
    let lock = File::create(path.with_extension("lock")).map_err(io_error(path))?;
    lock.lock().map_err(io_error(path))?;
    let mut doc: T = read_json(path)?;
    let out = change(&mut doc)?;
    let body = serde_json::to_vec_pretty(&doc).map_err(|e| io_error(path)(io::Error::other(e)))?;
    let tmp = path.with_extension("json.tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_error(path))?;
    file.write_all(&body)
        .and_then(|_| file.sync_all())
        .map_err(io_error(path))?;
    fs::rename(&tmp, path).map_err(io_error(path))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(path))?;
    Ok(out)
}

/// Appends one JSON line to the log at `path` and fsyncs it.
pub fn append_line(path: &Path, line: &impl Serialize) -> Result<(), FileError> {
    let mut text = serde_json::to_string(line).map_err(|e| io_error(path)(io::Error::other(e)))?;
    text.push('\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error(path))?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(io_error(path))
}

/// Now, as the registry's records write it (UTC, seconds).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
