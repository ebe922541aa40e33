//! `fingertip serve`: open the store, keys and tokens, run the server (and the Flight SQL
//! endpoint, when `--flight-listen` / `[server] flight_listen` is set) until SIGTERM/SIGINT,
//! then drain both, compact and exit 0.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use fingertip_anonymize::KeyStore;
use fingertip_ingest::Ingestor;
use fingertip_server::{Server, TokenStore};
use fingertip_store::retention::{self, RetentionConfig};
use fingertip_store::{DataDirLock, Store};
use tokio::net::TcpListener;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::DataArgs;
use crate::config::Config;

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address to listen on (port 0 picks a free port; the address is printed on stdout).
    #[arg(long)]
    pub listen: Option<String>,
    /// Also serve Arrow Flight SQL for researchers on this address (printed on stdout as
    /// `flight sql listening on ADDRESS`, after the HTTP address).
    #[arg(long)]
    pub flight_listen: Option<String>,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let mut config = Config::load(&args.data.data, args.data.config.as_deref())?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    if let Some(flight) = args.flight_listen {
        config.server.flight_listen = Some(flight);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(config, args.data))
}

fn data_args(dir: &std::path::Path) -> DataArgs {
    DataArgs {
        data: dir.to_path_buf(),
        config: None,
    }
}

async fn serve(config: Config, data: DataArgs) -> Result<()> {
    // First of all, before anything is written or the address announced: from here on SIGTERM
    // drains and compacts instead of killing us, and a write past RLIMIT_FSIZE fails with EFBIG
    // (the request gets 503) instead of SIGXFSZ killing the process.
    let shutdown = Shutdown::install()?;
    ignore_sigxfsz()?;
    let dir = data.data;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // One writer per data directory: taken before recovery, compaction or key destruction
    // touch anything, held until the process exits.
    let lock = DataDirLock::acquire(&dir)?;
    let keys = Arc::new(KeyStore::open(&dir, config.keys.clone())?);
    destroy_expired_keys(&keys);
    let (store, recovery) = Store::open_locked(lock, &dir, config.store.clone())?;
    tracing::info!(
        segments = recovery.segments,
        events = recovery.events,
        torn_tail_bytes = recovery.torn_tail_bytes,
        corrupt_ranges = recovery.corrupt_ranges,
        "Opened the store."
    );
    let store = Arc::new(store);
    let compactor = store.spawn_compactor();
    let ingestor = Ingestor::new(config.validator(&dir)?, keys.clone(), store.clone());
    let tokens = TokenStore::open(&dir)?;
    let listener = TcpListener::bind(&config.server.listen)
        .await
        .with_context(|| format!("binding {}", config.server.listen))?;
    let address = listener.local_addr()?;
    println!("listening on {address}");
    tracing::info!(%address, data = %dir.display(), "Serving.");
    let engine = Arc::new(crate::query::engine(&data_args(&dir), &config)?);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let flight = start_flight(&config, &dir, engine.clone(), stopped).await?;
    let analysis = crate::analysis::Analysis::new(engine);
    let server = Server::new(
        config.server.clone(),
        tokens,
        ingestor,
        Some(std::sync::Arc::new(analysis)),
    );
    let key_sweeper = tokio::spawn(sweep_keys(keys));
    let retention_sweeper = tokio::spawn(sweep_retention(dir.clone(), config.retention.clone()));
    let signal = async move {
        shutdown.wait().await;
        let _ = stop.send(true);
    };
    server.run(listener, signal).await;
    if let Some(flight) = flight {
        let _ = flight.await;
    }
    key_sweeper.abort();
    retention_sweeper.abort();
    compactor.stop();
    let flushed = tokio::task::spawn_blocking(move || store.flush_blocking()).await?;
    let events = flushed
        .context("final compaction failed; the WAL is kept and replayed on the next start")?;
    tracing::info!(events, "Compacted the WAL; stopped cleanly.");
    Ok(())
}

/// Binds `[server] flight_listen`, when set, and serves Flight SQL until `stopped` turns true.
async fn start_flight(
    config: &Config,
    dir: &std::path::Path,
    engine: Arc<fingertip_query::Engine>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(address) = &config.server.flight_listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the Flight SQL address {address}"))?;
    let address = listener.local_addr()?;
    println!("flight sql listening on {address}");
    tracing::info!(%address, "Serving Arrow Flight SQL.");
    let tokens = Arc::new(TokenStore::open(dir)?);
    let service = fingertip_flight::FlightSql::new(
        engine,
        config.server.flight_default_epsilon,
        config.server.max_in_flight_requests,
    );
    let drain_ms = config.server.shutdown_drain_timeout_ms;
    let shutdown = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    Ok(Some(tokio::spawn(async move {
        if let Err(error) =
            fingertip_flight::serve(listener, service, tokens, shutdown, drain_ms).await
        {
            tracing::error!(%error, "The Flight SQL endpoint failed.");
        }
    })))
}

fn destroy_expired_keys(keys: &KeyStore) {
    match keys.destroy_expired(chrono::Utc::now().timestamp_millis()) {
        Ok(destroyed) if !destroyed.is_empty() => {
            tracing::warn!(?destroyed, "Destroyed expired epoch keys.")
        }
        Ok(_) => {}
        Err(error) => tracing::error!(%error, "Could not destroy expired epoch keys."),
    }
}

async fn sweep_keys(keys: Arc<KeyStore>) {
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        let keys = keys.clone();
        let _ = tokio::task::spawn_blocking(move || destroy_expired_keys(&keys)).await;
    }
}

/// Deletes lake partitions past `[retention] keep_days`: at start, then every sweep interval.
async fn sweep_retention(dir: PathBuf, config: RetentionConfig) {
    if config.keep_days == 0 {
        return;
    }
    loop {
        let (dir, config2) = (dir.clone(), config.clone());
        let now = chrono::Utc::now().timestamp_millis();
        match tokio::task::spawn_blocking(move || retention::enforce(&dir, &config2, now)).await {
            Ok(Err(error)) => tracing::error!(%error, "Retention sweep failed; retrying later."),
            Err(error) => tracing::error!(%error, "Retention sweep panicked."),
            Ok(Ok(_)) => {}
        }
        tokio::time::sleep(Duration::from_secs(config.sweep_interval_s.max(1))).await;
    }
}

/// SIGTERM and SIGINT, registered when created (so neither can kill the process afterwards).
struct Shutdown {
    term: Signal,
    int: Signal,
}

impl Shutdown {
    fn install() -> Result<Self> {
        let term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        Ok(Self { term, int })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM received."),
            _ = self.int.recv() => tracing::info!("SIGINT received."),
        }
    }
}

/// `SIGXFSZ` on Linux (and the BSDs): sent when a write would pass `RLIMIT_FSIZE`.
const SIGXFSZ: i32 = 25;

/// Catches SIGXFSZ for the life of the process and does nothing with it, so that the write
/// that passed the file-size limit just fails (EFBIG) and the WAL writer handles the error.
/// Nothing is logged here: the log file may be the file over the limit.
fn ignore_sigxfsz() -> Result<()> {
    let mut xfsz =
        signal(SignalKind::from_raw(SIGXFSZ)).context("installing the SIGXFSZ handler")?;
    tokio::spawn(async move { while xfsz.recv().await.is_some() {} });
    Ok(())
}
