//! `stages`: runs one per-event stage over `--events` events, for instruction counts under
//! `valgrind --tool=callgrind --toggle-collect='*measured_*'` (only the stage is counted, not
//! the setup) and for a quick wall-clock figure without valgrind. Prints one JSON object.
//!
//! Stages: parse, validate, anonymize, wal_encode, wal_decode, arrow_build, parquet_encode.

use std::hint::black_box;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Parser;
use fingertip_bench::stages::{self, Fixture};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long)]
    stage: String,
    #[arg(long, default_value_t = 100_000)]
    events: usize,
}

#[inline(never)]
fn measured_parse(f: &Fixture) -> usize {
    stages::parse(black_box(&f.rendered))
        .iter()
        .map(Vec::len)
        .sum()
}

#[inline(never)]
fn measured_validate(f: &Fixture, parsed: &[Vec<fingertip_model::IncomingEvent<'_>>]) -> usize {
    stages::validate(&f.validator, black_box(parsed), f.now_ms)
        .iter()
        .map(Vec::len)
        .sum()
}

#[inline(never)]
fn measured_anonymize(f: &Fixture, valid: &[Vec<fingertip_model::ValidEvent<'_>>]) -> usize {
    stages::anonymize(&f.keys, black_box(valid))
        .iter()
        .map(Vec::len)
        .sum()
}

#[inline(never)]
fn measured_wal_encode(
    f: &Fixture,
    valid: &[Vec<fingertip_model::ValidEvent<'_>>],
    anon: &[Vec<stages::Anonymized>],
) -> usize {
    stages::wal_encode(&f.app_ids(), black_box(valid), anon, f.now_ms)
        .iter()
        .map(Vec::len)
        .sum()
}

#[inline(never)]
fn measured_wal_decode(payloads: &[Vec<u8>]) -> usize {
    stages::wal_decode(black_box(payloads))
        .iter()
        .map(|b| b.events.len())
        .sum()
}

#[inline(never)]
fn measured_arrow_build(decoded: &[fingertip_store::StoredBatch]) -> usize {
    stages::arrow_build(black_box(decoded))
        .iter()
        .map(|b| b.num_rows())
        .sum()
}

#[inline(never)]
fn measured_parquet_encode(batches: &[arrow_array::RecordBatch]) -> usize {
    stages::parquet_encode(black_box(batches), 3)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let f = Fixture::new(args.events)?;
    let n = f.events();
    let stage = args.stage.as_str();
    let order = [
        "parse",
        "validate",
        "anonymize",
        "wal_encode",
        "wal_decode",
        "arrow_build",
        "parquet_encode",
    ];
    if !order.contains(&stage) {
        bail!("unknown stage {stage}; one of {order:?}");
    }
    // Every earlier stage runs unmeasured to make this stage's input; only the stage is timed.
    let timed = |run: &dyn Fn() -> usize| {
        let t = Instant::now();
        let out = run();
        (out, t.elapsed().as_secs_f64())
    };
    let parsed = stages::parse(&f.rendered);
    let valid = stages::validate(&f.validator, &parsed, f.now_ms);
    let anon = stages::anonymize(&f.keys, &valid);
    let payloads = stages::wal_encode(&f.app_ids(), &valid, &anon, f.now_ms);
    let decoded = stages::wal_decode(&payloads);
    let batches = stages::arrow_build(&decoded);
    let (out, secs) = match stage {
        "parse" => timed(&|| measured_parse(&f)),
        "validate" => timed(&|| measured_validate(&f, &parsed)),
        "anonymize" => timed(&|| measured_anonymize(&f, &valid)),
        "wal_encode" => timed(&|| measured_wal_encode(&f, &valid, &anon)),
        "wal_decode" => timed(&|| measured_wal_decode(&payloads)),
        "arrow_build" => timed(&|| measured_arrow_build(&decoded)),
        _ => timed(&|| measured_parquet_encode(&batches)),
    };
    println!(
        "{}",
        serde_json::json!({"stage": stage, "events": n, "output": out, "ns_per_event": (secs * 1e9 / n as f64).round()})
    );
    Ok(())
}
