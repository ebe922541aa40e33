//! `fingertip`: the command-line shell over the Fingertip crates. It parses arguments, loads
//! configuration, sets up logging and calls into the libraries; the work happens there.

mod admin;
mod analysis;
mod apps;
mod config;
mod demo;
mod indices;
mod pipeline;
mod query;
mod retention;
mod serve;
mod simulate;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "fingertip",
    version,
    about = "Measure the burden government apps put on front-line staff, without exposing anyone."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives and which config file to use.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// The data directory (WAL, Parquet lake, keys, tokens, ledger).
    #[arg(long, default_value = "./fingertip-data", env = "FINGERTIP_DATA")]
    pub data: PathBuf,
    /// A configuration file (default: <data>/fingertip.toml when present).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the whole story on this machine: server, simulated apps, ingest, pipelines, report.
    Demo(demo::DemoArgs),
    /// Run the ingestion and analysis server.
    Serve(serve::ServeArgs),
    /// Register, list, update or retire apps and their issuing units.
    #[command(subcommand)]
    Apps(apps::AppsCommand),
    /// Create, list or revoke API tokens.
    #[command(subcommand)]
    Token(admin::TokenCommand),
    /// List or destroy epoch keys.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Ask a differentially private SQL question.
    Query(query::QueryArgs),
    /// Show or set the privacy budget.
    Budget(query::BudgetArgs),
    /// Run the burden index pipelines and write the report.
    #[command(subcommand)]
    Pipeline(pipeline::PipelineCommand),
    /// Simulate a population of apps and workers: write events, truth, or post them.
    Simulate(simulate::SimulateArgs),
    /// Show how long events are kept and what the server has deleted.
    Retention(retention::RetentionArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_tracing();
    let code = match cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Serve(args) => serve::run(args).map(|_| 0),
        Command::Apps(cmd) => apps::run(cmd).map(|_| 0),
        Command::Token(cmd) => admin::token(cmd).map(|_| 0),
        Command::Keys(cmd) => admin::keys(cmd).map(|_| 0),
        Command::Query(args) => query::run(args),
        Command::Budget(args) => query::budget(args),
        Command::Pipeline(cmd) => pipeline::run(cmd),
        Command::Simulate(args) => simulate::run(args).map(|_| 0),
        Command::Retention(args) => retention::run(args),
    }?;
    std::process::exit(code)
}

/// Logs go to stderr: JSON when stderr is not a terminal, human-readable otherwise.
fn init_tracing() {
    use std::io::IsTerminal;
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().flatten_event(true).init();
    }
}
