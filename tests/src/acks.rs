//! What clients were told, checked against what the lake holds: the exactly-once invariant of
//! the fault-injection tests (every acknowledged event stored once, nothing else stored).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::events::{events, ids};
use crate::http::{Response, post_events};
use crate::lake::id_counts;
use crate::server::Server;

/// Posts `{"events": batch}`.
pub fn post(server: &Server, token: &str, batch: &[Value]) -> Response {
    post_events(server.addr, token, &json!({ "events": batch }))
}

/// 202, no rejections, every event accepted or a duplicate; returns (accepted, duplicates).
pub fn assert_all_taken(r: &Response, n: usize) -> (u64, u64) {
    assert_eq!(r.status, 202, "{}", r.text());
    let body = r.json();
    let (accepted, duplicates) = (
        body["accepted"].as_u64().unwrap_or(0),
        body["duplicates"].as_u64().unwrap_or(0),
    );
    assert_eq!(accepted + duplicates, n as u64, "{body}");
    assert_eq!(body["rejected"], json!([]), "{body}");
    (accepted, duplicates)
}

/// Posts `n` fresh batches of `size` events, each fully accepted; returns them.
pub fn post_fresh(server: &Server, token: &str, n: usize, size: usize) -> Vec<Vec<Value>> {
    (0..n)
        .map(|_| {
            let batch = events(size);
            let r = post(server, token, &batch);
            assert_eq!(assert_all_taken(&r, size), (size as u64, 0));
            batch
        })
        .collect()
}

/// Re-sends `batches`; every event must be reported a duplicate. Returns how many were
/// accepted (stored again) instead, for the report.
pub fn resend_expect_duplicates(server: &Server, token: &str, batches: &[Vec<Value>]) -> u64 {
    batches
        .iter()
        .map(|b| assert_all_taken(&post(server, token, b), b.len()).0)
        .sum()
}

/// The ids of the events of `batches`.
pub fn all_ids(batches: &[Vec<Value>]) -> BTreeSet<String> {
    batches.iter().flat_map(|b| ids(b)).collect()
}

/// What the lake holds against what was acknowledged.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub acked: usize,
    pub stored: usize,
    pub duplicated: usize,
    pub lost: usize,
    pub never_sent: usize,
}

/// Counts `acked` ids in the lake of `data`, and anything there that was not `sent`.
pub fn tally(data: &Path, acked: &BTreeSet<String>, sent: &BTreeSet<String>) -> Tally {
    let counts = id_counts(data);
    Tally {
        acked: acked.len(),
        stored: acked.iter().filter(|id| counts.contains_key(*id)).count(),
        duplicated: counts.values().filter(|n| **n > 1).count(),
        lost: acked.iter().filter(|id| !counts.contains_key(*id)).count(),
        never_sent: counts.keys().filter(|id| !sent.contains(*id)).count(),
    }
}

/// Every acknowledged event is stored exactly once, and nothing else is stored.
pub fn assert_exactly_once(data: &Path, acked: &BTreeSet<String>, sent: &BTreeSet<String>) {
    let t = tally(data, acked, sent);
    println!("tally: {t:?}");
    assert_eq!(
        (t.duplicated, t.lost, t.never_sent),
        (0, 0, 0),
        "exactly-once violated: {t:?}"
    );
}

/// Peak resident memory of a process (`VmHWM`), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
