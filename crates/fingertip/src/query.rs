//! `fingertip query` and `fingertip budget`.

use anyhow::{Context, Result, bail};
use fingertip_dp::Ledger;
use fingertip_dp::accounting::Accounting;
use fingertip_query::{BoundsRequest, DomainColumn, Engine, QueryRequest};

use crate::DataArgs;
use crate::config::Config;

#[derive(clap::Args, Debug)]
pub struct QueryArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The privacy loss this answer may cost (charged in every key epoch it reads).
    #[arg(long)]
    pub epsilon: f64,
    /// δ of partition selection (default: `[query] default_delta`).
    #[arg(long)]
    pub delta: Option<f64>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Groups one person may contribute to (default: estimated privately).
    #[arg(long)]
    pub max_groups: Option<u32>,
    /// Rows one person may contribute to one group (default: estimated privately).
    #[arg(long)]
    pub max_rows: Option<u32>,
    /// Value range of an aggregated output column, `NAME=LOW:HIGH` (repeatable).
    #[arg(long = "bound", value_name = "NAME=LOW:HIGH")]
    pub bounds: Vec<String>,
    /// Who is charged in the ledger (default: cli:$USER).
    #[arg(long)]
    pub principal: Option<String>,
    /// Memory for the query's engine, e.g. 512MiB or 2GiB; past it, it spills to disk
    /// (default: `[query] memory_limit`, 2GiB; 0: no limit).
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<fingertip_query::MemoryLimit>,
    /// The SQL query.
    pub sql: String,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Builds the query engine of a data directory from its configuration, with the registered
/// apps and the configured org units as public domains.
pub fn engine(data: &DataArgs, config: &Config) -> Result<Engine> {
    let ledger = Ledger::open(&data.data, &config.budget)?;
    let domain = crate::pipeline::domain(&data.data, config)?;
    Ok(Engine::new(
        &data.data,
        config.catalog()?,
        config.query.clone(),
        ledger,
        config.keys.epoch,
    )
    .with_domain(DomainColumn::AppId, domain.apps.unwrap_or_default())
    .with_domain(DomainColumn::OrgUnit, domain.units.unwrap_or_default()))
}

pub fn run(args: QueryArgs) -> Result<i32> {
    let mut config = Config::load(&args.data.data, args.data.config.as_deref())?;
    if let Some(limit) = args.memory_limit {
        config.query.memory_limit = limit;
    }
    let engine = engine(&args.data, &config)?;
    let request = QueryRequest {
        sql: args.sql.clone(),
        epsilon: args.epsilon,
        delta: args.delta,
        bounds: bounds(&args)?,
    };
    let principal = args.principal.clone().unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match runtime.block_on(engine.run(&principal, &request)) {
        Ok(answer) => {
            match args.format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&answer.to_json())?),
                Format::Csv => print!("{}", answer.to_csv()),
                Format::Table => print!("{}", answer.to_table()),
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("refused ({}): {e}", e.code());
            Ok(if e.status() >= 500 { 1 } else { 2 })
        }
    }
}

fn bounds(args: &QueryArgs) -> Result<BoundsRequest> {
    let mut req = BoundsRequest {
        max_groups: args.max_groups,
        max_rows: args.max_rows,
        ..Default::default()
    };
    for b in &args.bounds {
        let (name, range) = b
            .split_once('=')
            .with_context(|| format!("--bound {b}: expected NAME=LOW:HIGH"))?;
        let (lo, hi) = range
            .split_once(':')
            .with_context(|| format!("--bound {b}: expected NAME=LOW:HIGH"))?;
        req.columns
            .insert(name.to_string(), [lo.trim().parse()?, hi.trim().parse()?]);
    }
    Ok(req)
}

#[derive(clap::Args, Debug)]
pub struct BudgetArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Set the total ε of every key epoch (or of `--epoch`).
    #[arg(long)]
    pub set_total: Option<f64>,
    /// Also set the total δ.
    #[arg(long, requires = "set_total")]
    pub set_delta_total: Option<f64>,
    /// The key epoch `--set-total` applies to (default: all epochs without their own total).
    #[arg(long, requires = "set_total")]
    pub epoch: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

pub fn budget(args: BudgetArgs) -> Result<i32> {
    let config = Config::load(&args.data.data, args.data.config.as_deref())?;
    let ledger = Ledger::open(&args.data.data, &config.budget)?;
    if let Some(total) = args.set_total {
        if let Some(e) = &args.epoch
            && config.keys.epoch.parse(e).is_none()
        {
            bail!("`{e}` is not a key epoch label (e.g. 2026Q4)");
        }
        ledger.set_total("events", args.epoch.as_deref(), total, args.set_delta_total)?;
    }
    let known: Vec<String> = fingertip_query::known_epochs(&args.data.data, config.keys.epoch)
        .into_iter()
        .map(|e| e.0)
        .collect();
    let status = ledger.status("events", &known)?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&status)?),
        _ => {
            println!(
                "dataset {} (default total ε {} δ {} per key epoch; new epochs account by {})",
                status.dataset,
                config.budget.epsilon_total,
                config.budget.delta_total,
                match config.budget.accounting {
                    Accounting::Zcdp => "zcdp",
                    Accounting::Pure => "pure",
                }
            );
            println!(
                "{:<8} {:<5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}  by principal",
                "epoch",
                "acct",
                "ε total",
                "ε spent",
                "ε left",
                "ρ total",
                "ρ spent",
                "δ spent",
                "spends"
            );
            for e in &status.epochs {
                let who: Vec<String> = e
                    .by_principal
                    .iter()
                    .map(|(p, x)| format!("{p}={x}"))
                    .collect();
                let (acct, rho_total, rho_spent) = match e.accounting {
                    Accounting::Zcdp => (
                        "zcdp",
                        format!("{:.6}", e.rho_total),
                        format!("{:.6}", e.rho_spent),
                    ),
                    Accounting::Pure => ("pure", "-".into(), "-".into()),
                };
                println!(
                    "{:<8} {:<5} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9.2e} {:>7}  {}",
                    e.epoch,
                    acct,
                    e.epsilon_total,
                    e.epsilon_spent,
                    e.epsilon_remaining,
                    rho_total,
                    rho_spent,
                    e.delta_spent,
                    e.spends,
                    who.join(" ")
                );
            }
            println!(
                "(under zcdp the ledger adds ρ and refuses past ρ total; ε spent is ρ spent converted at δ total / 2)"
            );
        }
    }
    Ok(0)
}
