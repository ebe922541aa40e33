//! `[pipelines]` in `fingertip.toml`.

use fingertip_query::MemoryLimit;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelinesConfig {
    /// IANA time zone of weeks and working hours.
    pub time_zone: String,
    /// Working hours are [start, end) local time on working days.
    pub work_start_hour: u32,
    pub work_end_hour: u32,
    /// ISO weekday numbers (1 = Monday … 7 = Sunday) that are working days.
    pub working_days: Vec<u32>,
    /// Cells with a noisy count of active workers below this are suppressed.
    pub min_persons: u32,
    /// δ of partition selection when the org units are not a declared list.
    pub delta: f64,
    /// DataFusion partitions (0: one per core).
    pub threads: usize,
    /// The memory pool of a run's session (0: no limit); past it, operators spill to disk.
    pub memory_limit: MemoryLimit,
}

impl Default for PipelinesConfig {
    fn default() -> Self {
        Self {
            time_zone: "Asia/Shanghai".into(),
            work_start_hour: 8,
            work_end_hour: 18,
            working_days: vec![1, 2, 3, 4, 5],
            min_persons: 10,
            delta: 1e-7,
            threads: 0,
            memory_limit: MemoryLimit::default(),
        }
    }
}
