//! Criterion benches of the per-event stages (`fingertip_bench::stages`), 50 000 events per
//! iteration, reported per element: `cargo bench -p fingertip-bench --bench stages`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use fingertip_bench::stages::{self, Fixture};

const EVENTS: usize = 50_000;

fn bench(c: &mut Criterion) {
    let f = Fixture::new(EVENTS).expect("bench fixture");
    let n = f.events() as u64;
    let apps = f.app_ids();
    let parsed = stages::parse(&f.rendered);
    let valid = stages::validate(&f.validator, &parsed, f.now_ms);
    let anon = stages::anonymize(&f.keys, &valid);
    let payloads = stages::wal_encode(&apps, &valid, &anon, f.now_ms);
    let decoded = stages::wal_decode(&payloads);
    let batches = stages::arrow_build(&decoded);
    let mut g = c.benchmark_group("stages");
    g.throughput(Throughput::Elements(n));
    g.sample_size(20);
    g.bench_function("parse", |b| {
        b.iter(|| stages::parse(black_box(&f.rendered)))
    });
    g.bench_function("validate", |b| {
        b.iter(|| stages::validate(&f.validator, black_box(&parsed), f.now_ms))
    });
    g.bench_function("anonymize", |b| {
        b.iter(|| stages::anonymize(&f.keys, black_box(&valid)))
    });
    g.bench_function("wal_encode", |b| {
        b.iter(|| stages::wal_encode(&apps, black_box(&valid), &anon, f.now_ms))
    });
    g.bench_function("wal_decode", |b| {
        b.iter(|| stages::wal_decode(black_box(&payloads)))
    });
    g.bench_function("arrow_build", |b| {
        b.iter(|| stages::arrow_build(black_box(&decoded)))
    });
    g.bench_function("parquet_encode", |b| {
        b.iter(|| stages::parquet_encode(black_box(&batches), 3))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
