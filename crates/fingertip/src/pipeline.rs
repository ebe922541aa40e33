//! `fingertip pipeline run`: the weekly burden indices and the oversight report.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;
use fingertip_dp::Ledger;
use fingertip_model::DataDir;
use fingertip_pipelines::{Domain, RunRequest, Runner, weeks};
use fingertip_registry::public_domains;

use crate::DataArgs;
use crate::config::Config;

#[derive(Subcommand, Debug)]
pub enum PipelineCommand {
    /// Run every pipeline over one week or a range of weeks.
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Where indices.{parquet,csv,json} and report.html go.
    #[arg(long, default_value = "./fingertip-report")]
    pub out: PathBuf,
    /// One ISO week, e.g. 2026-W45 (default: the last complete week).
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub week: Option<String>,
    #[arg(long, requires = "to")]
    pub from: Option<String>,
    #[arg(long, requires = "from")]
    pub to: Option<String>,
    /// A directory of pipeline files (default: the pipelines built into the binary).
    #[arg(long)]
    pub pipelines: Option<PathBuf>,
    /// Memory for the run's engine, e.g. 512MiB or 4GiB; past it, it spills to disk
    /// (default: `[pipelines] memory_limit`, 2GiB; 0: no limit).
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<fingertip_query::MemoryLimit>,
}

pub fn run(cmd: PipelineCommand) -> Result<i32> {
    let PipelineCommand::Run(args) = cmd;
    let mut config = Config::load(&args.data.data, args.data.config.as_deref())?;
    if let Some(limit) = args.memory_limit {
        config.pipelines.memory_limit = limit;
    }
    let runner = runner(&args.data.data, &config)?;
    let tz = runner.time_zone()?;
    let weeks = match (&args.week, &args.from, &args.to) {
        (Some(w), ..) => weeks::range(w, w, tz)?,
        (None, Some(f), Some(t)) => weeks::range(f, t, tz)?,
        _ => vec![weeks::last_complete(
            chrono::Utc::now().timestamp_millis(),
            tz,
        )],
    };
    let request = RunRequest {
        out: args.out.clone(),
        weeks,
        pipelines: args.pipelines.clone(),
        principal: "pipeline:cli".into(),
        progress: true,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(runner.run(&request)) {
        Ok((rows, summary)) => {
            println!(
                "{} values for {} week(s) ({} suppressed); ε spent {} (δ {}) in {}",
                rows.len(),
                summary.weeks.len(),
                summary.suppressed,
                summary.epsilon,
                summary.delta,
                summary.epochs.join(", ")
            );
            println!(
                "wrote {}/indices.parquet, indices.csv, indices.json and report.html",
                args.out.display()
            );
            Ok(0)
        }
        Err(fingertip_pipelines::PipelineError::Budget(e)) => {
            eprintln!("refused (budget_exhausted): {e}");
            Ok(2)
        }
        Err(e) => Err(e.into()),
    }
}

/// The pipeline runner of a data directory.
pub fn runner(data: &Path, config: &Config) -> Result<Runner> {
    let ledger = Ledger::open(data, &config.budget)?;
    let domain = domain(data, config)?;
    Ok(Runner::new(
        data,
        config.pipelines.clone(),
        config.catalog()?,
        ledger,
        config.keys.epoch,
        domain,
    ))
}

/// The public domains of the data directory ([`fingertip_registry::public_domains`]): every
/// cell of a registered app or declared org unit can be released without selection.
pub fn domain(data: &Path, config: &Config) -> Result<Domain> {
    let public = public_domains(&DataDir::new(data), &config.org_units.codes)?;
    Ok(Domain::new(public.apps, public.units))
}
