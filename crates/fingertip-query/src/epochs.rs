//! Which key epochs a query is charged in: every epoch overlapping the time range its filters
//! keep, among the epochs the data directory has keys (or tombstones) for. The person stage
//! then reads only those epochs, so a query can never touch data it was not charged for.

use std::path::Path;

use fingertip_anonymize::{EpochScheme, KeyStore, KeysConfig};

use crate::guard::TimeRange;

/// Epoch labels known in `data_dir` (sorted by start).
pub fn known_epochs(data_dir: &Path, scheme: EpochScheme) -> Vec<(String, i64, i64)> {
    let Ok(store) = KeyStore::open(
        data_dir,
        KeysConfig {
            epoch: scheme,
            ..Default::default()
        },
    ) else {
        return Vec::new();
    };
    let now = chrono::Utc::now().timestamp_millis();
    let mut out: Vec<(String, i64, i64)> = store
        .list(now)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|k| {
            scheme
                .parse(&k.epoch)
                .map(|e| (e.label, e.start_ms, e.end_ms))
        })
        .collect();
    out.sort_by_key(|e| e.1);
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// The epochs to charge for `range`; the current epoch when none is known to hold data.
pub fn charged_epochs(data_dir: &Path, scheme: EpochScheme, range: TimeRange) -> Vec<String> {
    let lo = range.lo_ms.unwrap_or(i64::MIN);
    let hi = range.hi_ms.unwrap_or(i64::MAX);
    let epochs: Vec<String> = known_epochs(data_dir, scheme)
        .into_iter()
        .filter(|(_, start, end)| *start < hi && lo < *end)
        .map(|(label, ..)| label)
        .collect();
    if epochs.is_empty() {
        let at = range
            .lo_ms
            .or(range.hi_ms.map(|h| h - 1))
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
        return vec![scheme.epoch_of(at).label];
    }
    epochs
}
