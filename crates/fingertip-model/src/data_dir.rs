//! The layout of a data directory: the one place that knows where each thing lives under it.
//!
//! Every crate that reads or writes a data directory asks [`DataDir`] for the path instead of
//! joining names itself, so the layout can be read (and changed) here alone. Only paths are
//! computed; nothing is created or read.

use std::path::{Path, PathBuf};

/// A data directory (`--data DIR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The Parquet lake: `events/date=YYYY-MM-DD/app_id=APP/part-*.parquet`.
    pub fn events(&self) -> PathBuf {
        self.root.join("events")
    }

    /// Write-ahead log segments (fsynced before an acknowledgement).
    pub fn wal(&self) -> PathBuf {
        self.root.join("wal")
    }

    /// WAL segments that could not be read, kept aside for inspection.
    pub fn wal_quarantine(&self) -> PathBuf {
        self.wal().join("quarantine")
    }

    /// The dedup index's day files and clock.
    pub fn dedup(&self) -> PathBuf {
        self.root.join("dedup")
    }

    /// Journals of partition merges in progress.
    pub fn merge(&self) -> PathBuf {
        self.root.join("merge")
    }

    /// Pseudonymization keys, one file per key epoch (mode 0600).
    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// The privacy ledger.
    pub fn ledger(&self) -> PathBuf {
        self.root.join("ledger")
    }

    /// API token hashes.
    pub fn tokens(&self) -> PathBuf {
        self.root.join("tokens.json")
    }

    /// The app registry: approved apps and their issuing units.
    pub fn apps(&self) -> PathBuf {
        self.root.join("apps.json")
    }

    /// Every change to the app registry, one JSON line each.
    pub fn apps_audit(&self) -> PathBuf {
        self.root.join("apps.audit.jsonl")
    }

    /// The lock a writing process holds on the whole directory.
    pub fn lock(&self) -> PathBuf {
        self.root.join("LOCK")
    }

    /// The default configuration file.
    pub fn config(&self) -> PathBuf {
        self.root.join("fingertip.toml")
    }

    /// The audit log of retention deletions.
    pub fn retention(&self) -> PathBuf {
        self.root.join("retention")
    }

    /// Public dimension tables (CSV).
    pub fn dimensions(&self) -> PathBuf {
        self.root.join("dimensions")
    }

    /// The declared org-unit tree: `code,parent,…` rows.
    pub fn org_units(&self) -> PathBuf {
        self.dimensions().join("org_units.csv")
    }

    /// The indices `fingertip pipeline run` publishes for `GET /v1/indices`.
    pub fn published_indices(&self) -> PathBuf {
        self.root.join("published").join("indices.json")
    }
}

impl From<&Path> for DataDir {
    fn from(root: &Path) -> Self {
        Self::new(root)
    }
}

impl AsRef<Path> for DataDir {
    fn as_ref(&self) -> &Path {
        &self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_relative_to_the_root() {
        let d = DataDir::new("/srv/ft");
        assert_eq!(d.events(), Path::new("/srv/ft/events"));
        assert_eq!(d.wal_quarantine(), Path::new("/srv/ft/wal/quarantine"));
        assert_eq!(d.org_units(), Path::new("/srv/ft/dimensions/org_units.csv"));
        assert_eq!(d.tokens(), Path::new("/srv/ft/tokens.json"));
    }
}
