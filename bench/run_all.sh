#!/usr/bin/env bash
# Every benchmark of docs/benchmarks.md, in order, into $OUT (bench/results/<date>):
# build, per-event stages (callgrind), ingest (durable, small batches, overload, whole
# machine), WAL recovery, pipelines vs DuckDB (10M realistic, 100M adversarial), summary.
# Takes about 2.5 hours with the defaults (60 s runs, 5 repeats); DURATION, REPEATS etc.
# shorten it (see each script).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p fingertip -p fingertip-bench
export OUT=${OUT:-$PWD/bench/results/$(date -u +%Y-%m-%d)}
bench/stages.sh
bench/ingest.sh durable small overload whole
bench/wal_recovery.sh
bench/pipelines.sh lake10m run10m lake100m run100m
python3 bench/summarize.py "$OUT" | tee "$OUT/summary.md"
