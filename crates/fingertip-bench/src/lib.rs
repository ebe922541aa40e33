//! `fingertip-bench`: the benchmarks of `docs/benchmarks.md` that need Rust code.
//!
//! | piece | what |
//! |---|---|
//! | [`bodies`] | request bodies of simulated events, with event ids patched per request |
//! | [`otlp`] | the same bodies as OTLP/HTTP logs (protobuf) for `POST /v1/logs` |
//! | [`post`] | the simulator's HTTP load generator (`fingertip simulate --target`, the demo) |
//! | [`hist`] | a log-linear latency histogram (≤ 1.6% relative error) |
//! | [`procfs`] | CPU seconds and RSS of a process from `/proc`, loadavg |
//! | [`prom`] | reading counters out of `/metrics` text |
//! | [`stages`] | the per-event ingest and storage stages, one function each |
//! | `src/bin/loadgen.rs` | the HTTP load generator (`ingest_*` benchmarks) |
//! | `src/bin/fsync_probe.rs` | the quiet-machine gate (loadavg + 3 s fdatasync probe) |
//! | `src/bin/stages.rs` | runs one stage N times, for `valgrind --tool=callgrind` |
//! | `src/bin/dp_overhead.rs` | the pipelines' bounded SQL without noise, for `dp_overhead` |
//! | `benches/stages.rs` | criterion benches of the stages |
//!
//! Nothing here asserts on time: benchmarks report, the test suite checks behaviour.

pub mod bodies;
pub mod hist;
pub mod otlp;
pub mod post;
pub mod procfs;
pub mod prom;
pub mod stages;
