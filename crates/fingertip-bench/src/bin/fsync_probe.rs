//! `fsync_probe`: the quiet-machine gate of docs/benchmarks.md. Appends 4 KiB and calls
//! `fdatasync` in a loop for `--seconds` (3) in a scratch file in `--dir`, and prints the
//! 1-minute load average, fsync p50/p99 and whether the run is comparable (fsync p50 ≤ 0.5 ms
//! and loadavg ≤ 0.5) as one JSON object.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use fingertip_bench::hist::Histogram;
use fingertip_bench::procfs;

#[derive(Parser, Debug)]
struct Args {
    /// Directory on the file system under test (the data directory's).
    #[arg(long, default_value = "/var/tmp")]
    dir: PathBuf,
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let load = procfs::loadavg();
    let path = args
        .dir
        .join(format!(".fsync-probe-{}", std::process::id()));
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    let block = [0x5au8; 4096];
    let mut hist = Histogram::default();
    let end = Instant::now() + Duration::from_secs_f64(args.seconds);
    while Instant::now() < end {
        let t = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        hist.record(t.elapsed().as_micros() as u64);
    }
    drop(file);
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    let p50 = hist.quantile_ms(0.5);
    let report = serde_json::json!({
        "loadavg_1m": load,
        "fsync_count": hist.count(),
        "fsync_p50_ms": p50,
        "fsync_p99_ms": hist.quantile_ms(0.99),
        "comparable": p50 <= 0.5 && load <= 0.5,
    });
    println!("{report}");
    Ok(())
}
