//! The simulator's HTTP load generator: posts simulated events to a running Fingertip server
//! (`fingertip simulate --target`, `fingertip demo`). The benchmarks' own generator, which
//! replays pre-built bodies at a fixed rate, is `bin/loadgen.rs`.
//!
//! A blocking thread generates events and groups them by app into batches (each app's events
//! go with that app's token); up to `concurrency` batches are in flight at once over
//! keep-alive connections. 429 and 503 answers are retried after `Retry-After` (or a doubling
//! back-off), at most `max_retries` times; the 202 answers' counts are added up.

mod batcher;
mod request;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::{Semaphore, mpsc};

use batcher::{Batch, Batcher};
use fingertip_sim::SimEvent;
use request::{Outcome, Poster};

/// Posting failed before or while sending.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("I/O on {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("the tokens file has no token for app `{app_id}`")]
    MissingToken { app_id: String },
    #[error("the tokens file is not a JSON object of app_id → token strings: {0}")]
    InvalidTokens(String),
    #[error("HTTP: {0}")]
    Http(String),
}

impl PostError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PostError {
        let what = what.into();
        move |source| PostError::Io { what, source }
    }
}

/// How request bodies are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyFormat {
    /// `{"events": [...]}` as `application/json`.
    #[default]
    Json,
    /// One event per line as `application/x-ndjson`.
    Ndjson,
}

impl BodyFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Ndjson => "application/x-ndjson",
        }
    }
}

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// The server's base URL, e.g. `http://127.0.0.1:8080`.
    pub target: String,
    /// `app_id` → app token.
    pub tokens: HashMap<String, String>,
    /// Requests in flight at once (about as many connections).
    pub concurrency: usize,
    /// Events per request.
    pub batch_size: usize,
    pub format: BodyFormat,
    /// Send bodies gzip-compressed.
    pub gzip: bool,
    /// Retries of one batch after 429, 503 or a connection failure.
    pub max_retries: u32,
    /// Expected number of events, for the progress bar.
    pub total_hint: Option<u64>,
}

impl LoadOptions {
    pub fn new(target: impl Into<String>, tokens: HashMap<String, String>) -> Self {
        let target = target.into();
        Self {
            target,
            tokens,
            concurrency: 8,
            batch_size: 1_000,
            format: BodyFormat::Json,
            gzip: false,
            max_retries: 8,
            total_hint: None,
        }
    }
}

/// What a load run did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LoadReport {
    pub events_sent: u64,
    pub batches: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub failed_batches: u64,
    pub retries: u64,
    pub seconds: f64,
    pub events_per_s: f64,
}

impl LoadReport {
    /// One line for people, e.g. for the end of `fingertip simulate`.
    pub fn summary_line(&self) -> String {
        format!(
            "sent {} events in {} batches in {:.1} s: {:.0} events/s (accepted {}, duplicates {}, rejected {}, failed batches {}, retries {})",
            self.events_sent,
            self.batches,
            self.seconds,
            self.events_per_s,
            self.accepted,
            self.duplicates,
            self.rejected,
            self.failed_batches,
            self.retries
        )
    }
}

/// Reads a tokens file: a JSON object mapping `app_id` to its token.
pub fn read_tokens(path: &Path) -> Result<HashMap<String, String>, PostError> {
    let text = std::fs::read_to_string(path).map_err(PostError::io(path.display().to_string()))?;
    serde_json::from_str(&text).map_err(|e| PostError::InvalidTokens(e.to_string()))
}

/// Posts every event of `events` to `options.target` and reports the outcome. Must run
/// inside a multi-threaded tokio runtime (event generation uses a blocking thread).
pub async fn post_events<I>(events: I, options: LoadOptions) -> Result<LoadReport, PostError>
where
    I: Iterator<Item = SimEvent> + Send + 'static,
{
    let uri = format!("{}/v1/events", options.target.trim_end_matches('/'));
    let uri = uri
        .parse()
        .map_err(|e| PostError::Http(format!("invalid target URL: {e}")))?;
    let concurrency = options.concurrency.max(1);
    let poster = Poster {
        client: client(concurrency),
        uri,
        format: options.format,
        gzip: options.gzip,
        max_retries: options.max_retries,
    };
    tracing::info!(target = %options.target, concurrency, batch_size = options.batch_size, "Posting simulated events.");
    let started = Instant::now();
    let (tx, rx) = mpsc::channel(concurrency * 2);
    let batcher = Batcher::new(
        &options.tokens,
        options.batch_size,
        options.format,
        options.gzip,
    );
    let producer = tokio::task::spawn_blocking(move || produce(events, batcher, tx));
    let totals = dispatch(
        rx,
        Arc::new(poster),
        concurrency,
        progress_bar(options.total_hint),
    )
    .await;
    producer
        .await
        .map_err(|e| PostError::Http(format!("event generation stopped: {e}")))??;
    Ok(totals.report(started.elapsed().as_secs_f64()))
}

fn client(concurrency: usize) -> request::HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build(connector)
}

/// Generates and batches events, handing each full batch to the senders.
fn produce<I: Iterator<Item = SimEvent>>(
    events: I,
    mut batcher: Batcher,
    tx: mpsc::Sender<Batch>,
) -> Result<(), PostError> {
    let closed = || PostError::Http("the senders stopped".into());
    for e in events {
        if let Some(batch) = batcher.push(&e)? {
            tx.blocking_send(batch).map_err(|_| closed())?;
        }
    }
    for batch in batcher.drain()? {
        tx.blocking_send(batch).map_err(|_| closed())?;
    }
    Ok(())
}

/// Sends batches as they come, at most `concurrency` at once; returns when all are done.
async fn dispatch(
    mut rx: mpsc::Receiver<Batch>,
    poster: Arc<Poster>,
    concurrency: usize,
    bar: ProgressBar,
) -> Arc<Totals> {
    let totals = Arc::new(Totals::default());
    let slots = Arc::new(Semaphore::new(concurrency));
    while let Some(batch) = rx.recv().await {
        // Unwrap safety: the semaphore is never closed.
        let permit = slots.clone().acquire_owned().await.expect("semaphore open");
        let (poster, totals, bar) = (poster.clone(), totals.clone(), bar.clone());
        tokio::spawn(async move {
            let outcome = poster.post(&batch).await;
            totals.add(&outcome, batch.events);
            bar.inc(batch.events);
            drop(permit);
        });
    }
    let _all_done = slots.acquire_many(concurrency as u32).await;
    bar.finish_and_clear();
    totals
}

fn progress_bar(total: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let (bar, template) = match total {
        Some(n) => (
            ProgressBar::new(n),
            "{bar:40} {human_pos}/{human_len} events  {per_sec}  eta {eta}",
        ),
        None => (
            ProgressBar::new_spinner(),
            "{spinner} {human_pos} events  {per_sec}  {elapsed}",
        ),
    };
    bar.set_draw_target(ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Running totals shared by the sending tasks.
#[derive(Debug, Default)]
struct Totals {
    events: AtomicU64,
    batches: AtomicU64,
    accepted: AtomicU64,
    duplicates: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
}

impl Totals {
    fn add(&self, o: &Outcome, events: u64) {
        self.events.fetch_add(events, Relaxed);
        self.batches.fetch_add(1, Relaxed);
        self.accepted.fetch_add(o.accepted, Relaxed);
        self.duplicates.fetch_add(o.duplicates, Relaxed);
        self.rejected.fetch_add(o.rejected, Relaxed);
        self.failed.fetch_add(u64::from(o.failed), Relaxed);
        self.retries.fetch_add(o.retries, Relaxed);
    }

    fn report(&self, seconds: f64) -> LoadReport {
        let events_sent = self.events.load(Relaxed);
        LoadReport {
            events_sent,
            batches: self.batches.load(Relaxed),
            accepted: self.accepted.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            failed_batches: self.failed.load(Relaxed),
            retries: self.retries.load(Relaxed),
            seconds,
            events_per_s: if seconds > 0.0 {
                events_sent as f64 / seconds
            } else {
                0.0
            },
        }
    }
}
