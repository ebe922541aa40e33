//! `loadgen`: the HTTP load generator of the `ingest_*` benchmarks (docs/benchmarks.md).
//!
//! N keep-alive HTTP/1.1 connections on one thread (pin it with `taskset`), each posting
//! pre-generated bodies of simulated events with fresh event ids. Closed loop by default (a
//! connection sends its next request when the answer arrives); with `--rate` each connection
//! follows a fixed schedule and latency is measured from the scheduled send time, so a slow
//! server cannot hide queueing (no coordinated omission). Counts what was acknowledged
//! (`202` with `"accepted": n`), every other status, and — given the server's pid and
//! `/metrics` — its CPU seconds, RSS and events per fsync over the measured window. Prints one
//! JSON object. With `--otlp` the same events go to `POST /v1/logs` as OTLP protobuf (`200`,
//! all records but `partial_success.rejected_log_records` acknowledged).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Parser;
use fingertip_bench::bodies::{BodyOptions, IdSource, Template, simulate_bodies};
use fingertip_bench::hist::Histogram;
use fingertip_bench::{procfs, prom};
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;

#[derive(Parser, Debug)]
#[command(about = "HTTP load generator for POST /v1/events (or /v1/logs with --otlp)")]
struct Args {
    /// Base URL of the server, e.g. http://127.0.0.1:4180.
    #[arg(long)]
    target: String,
    /// JSON file {app_id: token}; without it requests carry `Bearer none` (the Python peer).
    #[arg(long)]
    tokens: Option<PathBuf>,
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Events per request.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    #[arg(long, default_value_t = 5.0)]
    warmup: f64,
    /// Offered events per second over all connections (open loop); 0 = closed loop.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Distinct simulated events the bodies are cut from.
    #[arg(long, default_value_t = 200_000)]
    pool_events: usize,
    #[arg(long, default_value_t = 4_000)]
    workers: u32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// 16-bit tag written into every event id: use a different one per run on one data dir.
    #[arg(long, default_value_t = 1)]
    run_tag: u16,
    /// Pid of the server, for CPU seconds and RSS.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Read the server's /metrics (Fingertip only).
    #[arg(long)]
    metrics: bool,
    /// A name for the run, copied into the output.
    #[arg(long, default_value = "")]
    label: String,
    /// Also write the JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Send the events as OTLP/HTTP logs (protobuf) to /v1/logs.
    #[arg(long)]
    otlp: bool,
}

/// What one connection saw.
#[derive(Debug, Default)]
struct ConnStats {
    hist: Histogram,
    service: Histogram,
    statuses: BTreeMap<u16, u64>,
    acked_in_window: u64,
    requests_in_window: u64,
    acked_total: u64,
    sent_total: u64,
    io_errors: u64,
}

struct Plan {
    uri: hyper::Uri,
    metrics_uri: hyper::Uri,
    otlp: bool,
    host: String,
    addr: SocketAddr,
    bodies: Vec<Template>,
    tokens: BTreeMap<String, String>,
    start: Instant,
    window: (Instant, Instant),
    interval: Option<Duration>,
    run_tag: u16,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let report = local.block_on(&runtime, run(&args))?;
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(path) = &args.out {
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

async fn run(args: &Args) -> Result<serde_json::Value> {
    let base: hyper::Uri = args.target.parse().context("--target is not a URL")?;
    let authority = base
        .authority()
        .context("--target has no host:port")?
        .clone();
    let addr = tokio::net::lookup_host(authority.as_str())
        .await?
        .next()
        .context("--target does not resolve")?;
    let tokens: BTreeMap<String, String> = match &args.tokens {
        Some(p) => serde_json::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )?,
        None => BTreeMap::new(),
    };
    let now_ms = chrono::Utc::now().timestamp_millis();
    let options = BodyOptions {
        workers: args.workers,
        seed: args.seed,
        distribution: fingertip_sim::Distribution::Realistic,
        batch: args.batch,
        max_events: args.pool_events,
        recent: true,
        now_ms,
    };
    let mut bodies = simulate_bodies(&options);
    if args.otlp {
        bodies = bodies.iter().map(fingertip_bench::otlp::to_otlp).collect();
    }
    if bodies.is_empty() {
        bail!("the simulation gave no full body; raise --pool-events or --workers");
    }
    let mean_body = bodies.iter().map(|b| b.json.len()).sum::<usize>() / bodies.len();
    eprintln!(
        "{} bodies of {} events (mean {} bytes); {} connections",
        bodies.len(),
        args.batch,
        mean_body,
        args.connections
    );
    let start = Instant::now();
    let w0 = start + Duration::from_secs_f64(args.warmup);
    let w1 = w0 + Duration::from_secs_f64(args.duration);
    let interval = (args.rate > 0.0)
        .then(|| Duration::from_secs_f64(args.connections as f64 * args.batch as f64 / args.rate));
    let target = args.target.trim_end_matches('/');
    let plan = Rc::new(Plan {
        uri: format!(
            "{target}{}",
            if args.otlp { "/v1/logs" } else { "/v1/events" }
        )
        .parse()?,
        metrics_uri: format!("{target}/metrics").parse()?,
        otlp: args.otlp,
        host: authority.to_string(),
        addr,
        bodies,
        tokens,
        start,
        window: (w0, w1),
        interval,
        run_tag: args.run_tag,
    });
    let sampler = tokio::task::spawn_local(sample(plan.clone(), args.server_pid, args.metrics));
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        tasks.push(tokio::task::spawn_local(connection(
            plan.clone(),
            c,
            args.connections,
        )));
    }
    let mut total = ConnStats::default();
    for t in tasks {
        let s = t.await?;
        total.hist.merge(&s.hist);
        total.service.merge(&s.service);
        for (k, v) in s.statuses {
            *total.statuses.entry(k).or_default() += v;
        }
        total.acked_in_window += s.acked_in_window;
        total.requests_in_window += s.requests_in_window;
        total.acked_total += s.acked_total;
        total.sent_total += s.sent_total;
        total.io_errors += s.io_errors;
    }
    let server = sampler.await??;
    let secs = args.duration;
    let acked_per_s = total.acked_in_window as f64 / secs;
    let mut report = json!({
        "label": args.label,
        "endpoint": if args.otlp { "/v1/logs (OTLP protobuf)" } else { "/v1/events (JSON)" },
        "connections": args.connections,
        "batch": args.batch,
        "duration_s": secs,
        "warmup_s": args.warmup,
        "offered_events_per_s": if args.rate > 0.0 { json!(args.rate) } else { json!("closed loop") },
        "mean_body_bytes": mean_body,
        "acked_events_per_s": acked_per_s.round(),
        "acked_requests_per_s": (total.requests_in_window as f64 / secs).round(),
        "latency_ms": latency(&total.hist),
        "service_latency_ms": latency(&total.service),
        "statuses": total.statuses.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
        "io_errors": total.io_errors,
        "events_acked_total": total.acked_total,
        "events_sent_total": total.sent_total,
        "loadgen_cpu_s": procfs::cpu_seconds(std::process::id()).unwrap_or(f64::NAN),
    });
    if let (Some(obj), Some(server)) = (report.as_object_mut(), server) {
        let cpu = server.cpu_s;
        obj.insert("server_cpu_s".into(), json!(round3(cpu)));
        obj.insert("server_cpu_cores".into(), json!(round3(cpu / secs)));
        obj.insert(
            "server_cpu_s_per_1M_events".into(),
            json!(round3(cpu / total.acked_in_window.max(1) as f64 * 1e6)),
        );
        obj.insert("server_rss_mib_end".into(), json!(round3(server.rss_end)));
        obj.insert(
            "server_rss_mib_max_sampled".into(),
            json!(round3(server.rss_max)),
        );
        obj.insert("server_vmhwm_mib".into(), json!(round3(server.hwm)));
        obj.insert("server_rss_mib_series".into(), json!(server.rss_series));
        if let Some(m) = server.metrics {
            obj.insert("metrics".into(), m);
        }
    }
    Ok(report)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn latency(h: &Histogram) -> serde_json::Value {
    json!({
        "count": h.count(),
        "mean": round3(h.mean_ms()),
        "p50": round3(h.quantile_ms(0.5)),
        "p90": round3(h.quantile_ms(0.9)),
        "p99": round3(h.quantile_ms(0.99)),
        "p999": round3(h.quantile_ms(0.999)),
        "max": round3(h.max_ms()),
    })
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(plan: &Plan) -> Result<Sender> {
    let stream = TcpStream::connect(plan.addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One keep-alive connection's loop.
async fn connection(plan: Rc<Plan>, index: usize, connections: usize) -> ConnStats {
    let mut stats = ConnStats::default();
    let mut ids = IdSource::new(plan.run_tag, index as u16);
    let mut next_body = index * 7919 % plan.bodies.len();
    let mut scheduled = plan
        .interval
        .map(|i| plan.start + i.mul_f64(index as f64 / connections as f64));
    let mut sender: Option<Sender> = None;
    let mut buf = Vec::new();
    loop {
        if let Some(at) = scheduled {
            tokio::time::sleep_until(at.into()).await;
        }
        let intended = scheduled.unwrap_or_else(Instant::now);
        // Stop at the end of the window, even when behind an open-loop schedule (what was
        // not sent is visible in `events_sent_total`).
        if intended >= plan.window.1 || Instant::now() >= plan.window.1 {
            break;
        }
        if sender.as_ref().is_none_or(|s| s.is_closed()) {
            match connect(&plan).await {
                Ok(s) => sender = Some(s),
                Err(_) => {
                    stats.io_errors += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    scheduled = scheduled.map(|s| s + plan.interval.unwrap_or_default());
                    continue;
                }
            }
        }
        let template = &plan.bodies[next_body];
        next_body = (next_body + 1) % plan.bodies.len();
        template.render(&mut ids, &mut buf);
        let token = plan
            .tokens
            .get(&*template.app_id)
            .map_or("none", String::as_str);
        let request = Request::post(plan.uri.clone())
            .header(hyper::header::HOST, plan.host.as_str())
            .header(hyper::header::CONTENT_TYPE, content_type(plan.otlp))
            .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Full::new(Bytes::from(std::mem::take(&mut buf))));
        let Ok(request) = request else { break };
        let Some(s) = sender.as_mut() else { continue };
        let sent_at = Instant::now();
        stats.sent_total += template.events() as u64;
        let outcome = async {
            s.ready().await?;
            let response = s.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        }
        .await;
        let done = Instant::now();
        scheduled = scheduled.map(|s| s + plan.interval.unwrap_or_default());
        let (status, body) = match outcome {
            Ok(r) => r,
            Err(_) => {
                stats.io_errors += 1;
                sender = None;
                continue;
            }
        };
        let acked = status == success(plan.otlp);
        let accepted = match (acked, plan.otlp) {
            (false, _) => 0,
            (true, false) => accepted_count(&body).unwrap_or(template.events() as u64),
            (true, true) => fingertip_bench::otlp::accepted(&body, template.events() as u64)
                .unwrap_or(template.events() as u64),
        };
        stats.acked_total += accepted;
        *stats.statuses.entry(status.as_u16()).or_default() += 1;
        if done >= plan.window.0 && done < plan.window.1 {
            stats
                .hist
                .record(done.duration_since(intended.min(sent_at)).as_micros() as u64);
            stats
                .service
                .record(done.duration_since(sent_at).as_micros() as u64);
            if acked {
                stats.acked_in_window += accepted;
                stats.requests_in_window += 1;
            }
        }
    }
    stats
}

fn content_type(otlp: bool) -> &'static str {
    if otlp {
        "application/x-protobuf"
    } else {
        "application/json"
    }
}

/// The status of an acknowledgement: `202` on `/v1/events`, `200` on `/v1/logs`.
fn success(otlp: bool) -> StatusCode {
    if otlp {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    }
}

/// `n` of `"accepted":n` in an answer.
fn accepted_count(body: &[u8]) -> Option<u64> {
    let key = b"\"accepted\":";
    let at = body.windows(key.len()).position(|w| w == key)? + key.len();
    let digits: Vec<u8> = body[at..]
        .iter()
        .skip_while(|b| **b == b' ')
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// The server as seen over the measured window.
struct ServerSide {
    cpu_s: f64,
    rss_end: f64,
    rss_max: f64,
    hwm: f64,
    rss_series: Vec<f64>,
    metrics: Option<serde_json::Value>,
}

async fn sample(plan: Rc<Plan>, pid: Option<u32>, metrics: bool) -> Result<Option<ServerSide>> {
    let Some(pid) = pid else {
        return Ok(None);
    };
    tokio::time::sleep_until(plan.window.0.into()).await;
    let cpu0 = procfs::cpu_seconds(pid)?;
    let m0 = if metrics {
        fetch_metrics(&plan).await.ok()
    } else {
        None
    };
    let mut series = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < plan.window.1 {
        tick.tick().await;
        series.push(round3(procfs::rss_mib(pid)?.0));
    }
    let cpu1 = procfs::cpu_seconds(pid)?;
    let m1 = if metrics {
        fetch_metrics(&plan).await.ok()
    } else {
        None
    };
    let (rss_end, hwm) = procfs::rss_mib(pid)?;
    let metrics = match (m0, m1) {
        (Some(a), Some(b)) => Some(window_metrics(&a, &b)),
        _ => None,
    };
    let rss_max = series.iter().copied().fold(rss_end, f64::max);
    Ok(Some(ServerSide {
        cpu_s: cpu1 - cpu0,
        rss_end,
        rss_max,
        hwm,
        rss_series: series,
        metrics,
    }))
}

fn window_metrics(a: &str, b: &str) -> serde_json::Value {
    let d = |name: &str| prom::value(b, name).unwrap_or(0.0) - prom::value(a, name).unwrap_or(0.0);
    let (records, fsyncs, events) = (
        d("fingertip_wal_records_total"),
        d("fingertip_wal_fsyncs_total"),
        d("fingertip_events_accepted_total"),
    );
    json!({
        "wal_records": records,
        "wal_fsyncs": fsyncs,
        "events_accepted": events,
        "requests_per_fsync": round3(records / fsyncs.max(1.0)),
        "events_per_fsync": round3(events / fsyncs.max(1.0)),
        "fsync_mean_ms": round3(d("fingertip_wal_fsync_seconds_sum") / fsyncs.max(1.0) * 1000.0),
        "parquet_files": d("fingertip_parquet_files_total"),
        "parquet_bytes": d("fingertip_parquet_bytes_total"),
        "events_compacted": d("fingertip_compaction_events_total"),
        "wal_bytes_end": prom::value(b, "fingertip_wal_bytes"),
        "compaction_pending_segments_end": prom::value(b, "fingertip_compaction_pending_segments"),
        "status_429": d("fingertip_http_requests_total{status=\"429\"}"),
        "status_503": d("fingertip_http_requests_total{status=\"503\"}"),
    })
}

async fn fetch_metrics(plan: &Plan) -> Result<String> {
    let stream = TcpStream::connect(plan.addr).await?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await?;
    tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    let request = Request::get(plan.metrics_uri.clone())
        .header(hyper::header::HOST, plan.host.as_str())
        .body(Empty::new())?;
    let response = sender.send_request(request).await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}
