//! `fingertip simulate`: generate a seeded synthetic population and deliver it — as an NDJSON
//! file, the org-unit table, the true (exact) indices, a Parquet lake, and/or over HTTP to a
//! running server. Each output re-generates the same deterministic stream, so nothing is held
//! in memory; the work itself lives in `fingertip-sim`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use fingertip_bench::post::{BodyFormat, LoadOptions};
use fingertip_sim::{
    App, Distribution, EventStream, LakeOptions, Population, SimOptions, TruthConfig,
};

#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Number of simulated staff.
    #[arg(long, default_value_t = 1_000)]
    pub workers: u32,
    /// Number of weeks: events fall on the weeks × 7 local dates ending with the date of --end.
    #[arg(long, default_value_t = 4)]
    pub weeks: u32,
    /// Seed of the generator: the same seed and options give byte-identical output.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// `realistic` (each person in one org unit, ~5 apps) or `adversarial` (persons spread
    /// over every org unit and app, every burden at full strength).
    #[arg(long, default_value = "realistic")]
    pub distribution: Distribution,
    /// No event starts after this instant (RFC 3339, e.g. 2026-11-30T00:00:00Z; default: now).
    #[arg(long)]
    pub end: Option<String>,
    /// IANA time zone the staff work in and the true indices are reported in.
    #[arg(long, default_value = "Asia/Shanghai")]
    pub tz: String,
    /// First working hour (local) for the after-hours index of the true indices.
    #[arg(long, default_value_t = 8)]
    pub work_start_hour: u32,
    /// End of working hours (local, exclusive).
    #[arg(long, default_value_t = 18)]
    pub work_end_hour: u32,
    /// Write every event as NDJSON to this file (`-` for stdout).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the true indices: FILE.csv, FILE.json, or both FILE.csv and FILE.json when the
    /// name has neither extension.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Write the org-unit table (`code,parent,level,name`) as CSV.
    #[arg(long)]
    pub org_units: Option<PathBuf>,
    /// Post events to this server, e.g. http://127.0.0.1:8080.
    #[arg(long, requires = "tokens")]
    pub target: Option<String>,
    /// JSON file mapping each app_id to its app token: {"attendance": "ft_...", ...}.
    #[arg(long)]
    pub tokens: Option<PathBuf>,
    /// Requests in flight at once when posting.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Events per request.
    #[arg(long, default_value_t = 1_000)]
    pub batch_size: usize,
    /// Send NDJSON bodies (application/x-ndjson) instead of {"events": [...]}.
    #[arg(long)]
    pub ndjson: bool,
    /// Gzip request bodies.
    #[arg(long)]
    pub gzip: bool,
    /// Retries of one batch after 429, 503 or a connection failure.
    #[arg(long, default_value_t = 8)]
    pub max_retries: u32,
    /// Write the events, anonymized, straight into the Parquet lake of this data directory.
    #[arg(long)]
    pub lake: Option<PathBuf>,
}

pub fn run(args: SimulateArgs) -> Result<()> {
    if [&args.out, &args.truth, &args.org_units, &args.lake]
        .iter()
        .all(|p| p.is_none())
        && args.target.is_none()
    {
        bail!("nothing to do: pass --out, --truth, --org-units, --lake and/or --target");
    }
    let options = sim_options(&args)?;
    tracing::info!(
        workers = options.workers,
        weeks = options.weeks,
        seed = options.seed,
        distribution = options.distribution.as_str(),
        end_ms = options.end_ms,
        "Simulating."
    );
    let pop = Arc::new(Population::new(options));
    let stream = || EventStream::new(pop.clone());
    if let Some(path) = &args.org_units {
        pop.org
            .write_csv(create(path)?)
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "wrote {} org units to {}",
            pop.org.counties.len() + pop.org.townships.len(),
            path.display()
        );
    }
    if let Some(path) = &args.out {
        write_events(stream(), path)?;
    }
    if let Some(path) = &args.truth {
        write_truth(stream(), path, truth_config(&args, pop.options.tz)?)?;
    }
    if let Some(data) = &args.lake {
        // The lake is written as a server's compactor would: not beside a running server.
        let _lock = fingertip_store::DataDirLock::acquire(data)?;
        let report = fingertip_sim::write_lake(stream(), data, &LakeOptions::default())?;
        eprintln!(
            "wrote {} events in {} Parquet files ({} bytes) under {}",
            report.events,
            report.files,
            report.bytes,
            fingertip_model::DataDir::new(data).events().display()
        );
    }
    if let Some(target) = &args.target {
        post(stream(), target, &args)?;
    }
    Ok(())
}

fn sim_options(args: &SimulateArgs) -> Result<SimOptions> {
    let mut options = SimOptions::new(args.workers, args.weeks, args.seed);
    options.distribution = args.distribution;
    options.tz = fingertip_sim::parse_tz(&args.tz)?;
    if let Some(end) = &args.end {
        options.end_ms = fingertip_model::parse_rfc3339_ms(end)
            .with_context(|| format!("--end {end:?} is not an RFC 3339 timestamp"))?;
    }
    Ok(options)
}

fn truth_config(args: &SimulateArgs, tz: fingertip_sim::Tz) -> Result<TruthConfig> {
    if args.work_start_hour >= args.work_end_hour || args.work_end_hour > 24 {
        bail!("working hours must satisfy --work-start-hour < --work-end-hour <= 24");
    }
    Ok(TruthConfig {
        tz,
        work_start_hour: args.work_start_hour,
        work_end_hour: args.work_end_hour,
        ..TruthConfig::default()
    })
}

fn create(path: &Path) -> Result<File> {
    File::create(path).with_context(|| format!("creating {}", path.display()))
}

fn write_events(events: EventStream, path: &Path) -> Result<()> {
    if path == Path::new("-") {
        fingertip_sim::write_ndjson(events, std::io::stdout().lock())?;
        return Ok(());
    }
    let n = fingertip_sim::write_ndjson(events, create(path)?)?;
    eprintln!("wrote {n} events to {}", path.display());
    Ok(())
}

/// FILE.csv, FILE.json, or both when the extension is neither.
fn write_truth(events: EventStream, path: &Path, config: TruthConfig) -> Result<()> {
    let truth = fingertip_sim::compute_truth(events, config);
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let (csv, json) = match ext {
        "csv" => (Some(path.to_path_buf()), None),
        "json" => (None, Some(path.to_path_buf())),
        _ => (
            Some(with_suffix(path, "csv")),
            Some(with_suffix(path, "json")),
        ),
    };
    if let Some(p) = csv {
        let rows = truth.write_csv(create(&p)?)?;
        eprintln!(
            "wrote {rows} true index values ({} cells) to {}",
            truth.cell_count(),
            p.display()
        );
    }
    if let Some(p) = json {
        let rows = truth.write_json(create(&p)?)?;
        eprintln!(
            "wrote {rows} true index values ({} cells) to {}",
            truth.cell_count(),
            p.display()
        );
    }
    Ok(())
}

fn with_suffix(path: &Path, ext: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

fn post(events: EventStream, target: &str, args: &SimulateArgs) -> Result<()> {
    let Some(tokens_path) = &args.tokens else {
        bail!("--target needs --tokens")
    };
    let tokens = fingertip_bench::post::read_tokens(tokens_path)?;
    let missing: Vec<&str> = App::ALL
        .iter()
        .map(|a| a.id())
        .filter(|id| !tokens.contains_key(*id))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} has no token for: {}",
            tokens_path.display(),
            missing.join(", ")
        );
    }
    let mut options = LoadOptions::new(target, tokens);
    options.concurrency = args.concurrency;
    options.batch_size = args.batch_size;
    options.format = if args.ndjson {
        BodyFormat::Ndjson
    } else {
        BodyFormat::Json
    };
    options.gzip = args.gzip;
    options.max_retries = args.max_retries;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let report = runtime.block_on(fingertip_bench::post::post_events(events, options))?;
    println!("{}", report.summary_line());
    if report.failed_batches > 0 {
        bail!("{} batches could not be delivered", report.failed_batches);
    }
    Ok(())
}
