//! Fault injection over the real binary (issue 9): each fault class that once lost or
//! double-stored acknowledged events, or took the machine's memory, as one test; then a seeded
//! random schedule of kills, restarts, clock steps and second writers under load.
//!
//! Every test ends by reading the lake's Parquet files back and checking what clients were
//! told: each acknowledged event stored exactly once (or, for corrupted acknowledged data, kept
//! in the quarantine and reported — never dropped silently).

mod api;
mod dedup;
mod memory;
mod merge;
mod retention;
mod schedule;
mod wal;
mod writer;

use std::path::{Path, PathBuf};

use fingertip_tests::server::{Server, create_token};

/// A fresh data directory with an app token for `attendance`.
pub fn fresh() -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let data = tmp.path().join("data");
    let token = create_token(&data, "app", Some("attendance"));
    (tmp, data, token)
}

/// No sealing by age and no compaction while running (the compactor's first pass is ten
/// minutes away): segments stay in the WAL until the server stops or is killed.
pub const FROZEN_WAL: [(&str, &str); 3] = [
    ("FINGERTIP__STORE__SEGMENT_MAX_AGE_MS", "600000"),
    ("FINGERTIP__STORE__COMPACTION_INTERVAL_MS", "600000"),
    ("RUST_LOG", "info"),
];

/// Sealing by age and compaction within milliseconds.
pub const FAST: [(&str, &str); 4] = [
    ("FINGERTIP__STORE__SEGMENT_MAX_BYTES", "32768"),
    ("FINGERTIP__STORE__SEGMENT_MAX_AGE_MS", "100"),
    ("FINGERTIP__STORE__COMPACTION_INTERVAL_MS", "20"),
    ("RUST_LOG", "info"),
];

/// Starts a server and checks it came up.
pub fn start(data: &Path, env: &[(&str, &str)]) -> Server {
    Server::start(data, env)
}
