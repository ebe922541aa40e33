//! `fingertip pipeline run`: the weekly burden indices and the oversight report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::Subcommand;
use fingertip_dp::Ledger;
use fingertip_pipelines::{Domain, RunRequest, Runner, weeks};
use fingertip_server::{Role, TokenStore};

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

/// Apps (from the app tokens) and org units (configured list, or the leaves of
/// `<data>/dimensions/org_units.csv`): public knowledge, so every cell can be released.
pub fn domain(data: &Path, config: &Config) -> Result<Domain> {
    let apps: BTreeSet<String> = TokenStore::open(data)?
        .list()?
        .into_iter()
        .filter(|t| t.role == Role::App)
        .filter_map(|t| t.app_id)
        .collect();
    let mut units: Vec<String> = config.org_units.codes.clone();
    if units.is_empty() {
        units = org_unit_leaves(&data.join("dimensions").join("org_units.csv"))?;
    }
    Ok(Domain {
        apps: (!apps.is_empty()).then(|| apps.into_iter().collect()),
        units: (!units.is_empty()).then_some(units),
    })
}

fn org_unit_leaves(path: &Path) -> Result<Vec<String>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let parent = header.iter().position(|h| h.trim() == "parent");
    let rows: Vec<Vec<&str>> = lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').collect())
        .collect();
    let parents: BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| parent.and_then(|p| r.get(p)))
        .map(|s| s.trim())
        .collect();
    let leaves: Vec<String> = rows
        .iter()
        .filter_map(|r| r.first())
        .map(|c| c.trim())
        .filter(|c| !parents.contains(c))
        .map(str::to_string)
        .collect();
    if let Some(bad) = leaves.iter().find(|c| !fingertip_model::is_code(c, 64)) {
        bail!("{}: `{bad}` is not an org-unit code", path.display());
    }
    Ok(leaves)
}
