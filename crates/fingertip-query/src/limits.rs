//! What one DataFusion session may use of the machine: its partitions, and a memory pool that
//! makes aggregations, sorts and joins spill to disk past the limit instead of growing.
//!
//! `[query] memory_limit` and `[pipelines] memory_limit` (default [`DEFAULT_MEMORY_LIMIT`]) and
//! `--memory-limit SIZE` on `fingertip query` / `fingertip pipeline run` set it. Spill files go
//! to the directory in `TMPDIR` (the OS default otherwise). The pool covers what DataFusion's
//! operators hold; reading Parquet and the release itself add a small amount outside it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::SessionConfig;
use serde::{Deserialize, Serialize};

/// The memory pool of a session when nothing else is said: enough for a province's week of
/// pipelines on a 4 GiB machine slice (docs/operations.md).
pub const DEFAULT_MEMORY_LIMIT: MemoryLimit = MemoryLimit(2 << 30);

/// A memory size in bytes; written as a number or with a binary unit (`512MiB`, `2GiB`, `2G`).
/// `0` means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit(pub u64);

impl MemoryLimit {
    pub fn bytes(self) -> Option<u64> {
        (self.0 > 0).then_some(self.0)
    }
}

impl Default for MemoryLimit {
    fn default() -> Self {
        DEFAULT_MEMORY_LIMIT
    }
}

const UNITS: [(&str, u64); 5] = [
    ("T", 1 << 40),
    ("G", 1 << 30),
    ("M", 1 << 20),
    ("K", 1 << 10),
    ("", 1),
];

impl FromStr for MemoryLimit {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let t = text.trim();
        let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
        let (number, unit) = (t[..split].trim(), t[split..].trim());
        let unit_upper = unit.to_ascii_uppercase();
        let prefix = unit_upper
            .strip_suffix("IB")
            .or_else(|| unit_upper.strip_suffix('B'))
            .unwrap_or(&unit_upper);
        let scale = UNITS
            .iter()
            .find(|(p, _)| *p == prefix)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                format!("unknown unit {unit:?} in memory size {text:?} (use e.g. 512MiB, 2GiB)")
            })?;
        let value: f64 = number
            .parse()
            .map_err(|_| format!("memory size {text:?} is not a number with a unit (e.g. 2GiB)"))?;
        if !(value.is_finite() && value >= 0.0 && value * scale as f64 <= u64::MAX as f64 / 2.0) {
            return Err(format!("memory size {text:?} is out of range"));
        }
        Ok(MemoryLimit((value * scale as f64).round() as u64))
    }
}

impl fmt::Display for MemoryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match UNITS
            .iter()
            .find(|(_, s)| *s > 1 && self.0 > 0 && self.0.is_multiple_of(*s))
        {
            Some((p, s)) => write!(f, "{}{p}iB", self.0 / s),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for MemoryLimit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for MemoryLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(b) => Ok(MemoryLimit(b)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Partitions (0: one per core) and the memory pool of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub threads: usize,
    pub memory: MemoryLimit,
}

impl Limits {
    pub(crate) fn session_config(&self) -> SessionConfig {
        let mut config = SessionConfig::new()
            .with_information_schema(false)
            .with_create_default_catalog_and_schema(true);
        if let Some(bytes) = self.memory.bytes() {
            // A sort holds this much back for merging its spill files (10 MiB by default); in a
            // small pool that is more than a sort's fair share, so it scales with the pool.
            let reserve = (bytes / 64).clamp(64 << 10, 10 << 20);
            config = config.with_sort_spill_reservation_bytes(reserve as usize);
        }
        match self.threads {
            0 => config,
            n => config.with_target_partitions(n),
        }
    }

    /// A runtime whose operators share a pool of the limit, each spilling when its fair share
    /// is used up.
    pub(crate) fn runtime(&self) -> Result<Arc<RuntimeEnv>> {
        let builder = RuntimeEnvBuilder::new();
        match self.memory.bytes() {
            Some(bytes) => builder
                .with_memory_pool(Arc::new(FairSpillPool::new(bytes as usize)))
                .build_arc(),
            None => builder.build_arc(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        for (text, bytes) in [
            ("2GiB", 2 << 30),
            ("2G", 2 << 30),
            ("512 MiB", 512 << 20),
            ("1.5g", 3 << 29),
            ("64kb", 64 << 10),
            ("1000", 1000),
            ("0", 0),
        ] {
            assert_eq!(
                text.parse::<MemoryLimit>(),
                Ok(MemoryLimit(bytes)),
                "{text}"
            );
        }
        for bad in ["", "2 XB", "-1G", "lots", "1e30T"] {
            assert!(bad.parse::<MemoryLimit>().is_err(), "{bad}");
        }
        assert_eq!(MemoryLimit(2 << 30).to_string(), "2GiB");
        assert_eq!(MemoryLimit(1000).to_string(), "1000");
        assert_eq!(MemoryLimit(0).bytes(), None);
    }
}
