//! `fingertip demo`: the whole story on this machine, with no arguments.
//!
//! A fresh data directory, a real `fingertip serve` on a free local port, tokens, a simulated
//! population ingested over HTTP, a graceful stop (drain and compaction), every pipeline,
//! `report.html`, two example DP queries, and a summary of what happened and where to look.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use fingertip_bench::post::LoadOptions;
use fingertip_model::DataDir;
use fingertip_pipelines::{RunRequest, weeks};
use fingertip_query::QueryRequest;
use fingertip_registry::{Role, TokenStore};
use fingertip_sim::{App, EventStream, Population, SimOptions, TruthConfig};

use crate::DataArgs;
use crate::config::Config;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Where the demo's data directory, report and truth go (recreated on each run).
    #[arg(long, default_value = "./fingertip-demo")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 3_000)]
    pub workers: u32,
    #[arg(long, default_value_t = 4)]
    pub weeks: u32,
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
}

const MARKER: &str = ".fingertip-demo";

pub fn run(args: DemoArgs) -> Result<i32> {
    let started = Instant::now();
    let data = prepare(&args.out)?;
    let pop = Arc::new(Population::new(SimOptions::new(
        args.workers,
        args.weeks,
        args.seed,
    )));
    write_config(&data, args.weeks)?;
    let tokens = create_tokens(&data)?;
    step(&format!(
        "simulated {} workers in {} org units over {} weeks",
        args.workers,
        pop.org.townships.len(),
        args.weeks
    ));
    pop.org
        .write_csv(std::fs::File::create(DataDir::new(&data).org_units())?)?;
    let truth = fingertip_sim::compute_truth(EventStream::new(pop.clone()), TruthConfig::default());
    truth.write_csv(std::fs::File::create(args.out.join("truth.csv"))?)?;
    let mut server = Server::start(&data)?;
    step(&format!(
        "started `fingertip serve` at http://{} (pid {})",
        server.address,
        server.child.id()
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut load = LoadOptions::new(format!("http://{}", server.address), tokens);
    load.concurrency = 16;
    load.batch_size = 500;
    let report = runtime.block_on(fingertip_bench::post::post_events(
        EventStream::new(pop.clone()),
        load,
    ))?;
    step(&format!("ingested over HTTP: {}", report.summary_line()));
    let code = server.stop()?;
    step(&format!(
        "SIGTERM: the server drained, compacted the WAL into Parquet and exited {code}"
    ));
    let (files, bytes) = lake_size(&DataDir::new(&data).events());
    step(&format!(
        "the lake holds {files} Parquet files, {:.1} MB ({:.1} bytes/event)",
        bytes as f64 / 1e6,
        bytes as f64 / report.accepted.max(1) as f64
    ));
    let config = Config::load(&data, None)?;
    let summary = runtime.block_on(pipelines(&data, &args.out, &config, &pop))?;
    step(&format!(
        "ran every pipeline over {} (ε {} per epoch charged): {}",
        summary.weeks.join(", "),
        summary.epsilon,
        args.out.join("report.html").display()
    ));
    runtime.block_on(example_queries(&data, &config))?;
    let coverage = coverage(&args.out.join("indices.csv"), &args.out.join("truth.csv"))?;
    println!("\nDone in {:.0} s.", started.elapsed().as_secs_f64());
    println!("  report:   {}", args.out.join("report.html").display());
    println!(
        "  indices:  {} (.parquet, .json)",
        args.out.join("indices.csv").display()
    );
    println!(
        "  truth:    {}  — {coverage}",
        args.out.join("truth.csv").display()
    );
    println!("  data:     {}", data.display());
    println!(
        "  try:      fingertip query --data {} --epsilon 0.5 \"SELECT org_unit, COUNT(DISTINCT person) AS workers FROM events GROUP BY org_unit\"",
        data.display()
    );
    println!("            fingertip budget --data {}", data.display());
    Ok(0)
}

fn step(text: &str) {
    println!("• {text}");
}

/// Creates `out` and a fresh `out/data` (refusing to delete a directory it did not make).
fn prepare(out: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let data = out.join("data");
    if data.exists() {
        if !data.join(MARKER).exists() {
            bail!(
                "{} exists and was not made by `fingertip demo`; choose another --out",
                data.display()
            );
        }
        std::fs::remove_dir_all(&data)?;
    }
    std::fs::create_dir_all(DataDir::new(&data).dimensions())?;
    std::fs::write(data.join(MARKER), "made by fingertip demo\n")?;
    Ok(data)
}

/// The demo accepts events up to weeks + 2 weeks old and has a budget for the run and queries.
fn write_config(data: &Path, weeks: u32) -> Result<()> {
    let max_age_s = (u64::from(weeks) + 2) * 7 * 86_400;
    let text = format!(
        "# Written by `fingertip demo`.\n[ingest]\nmax_past_age_s = {max_age_s}\n\n[keys]\ngrace_days = {}\n\n[budget]\nepsilon_total = 30.0\n\n[store]\nsegment_max_age_ms = 2000\n",
        weeks * 7 + 60
    );
    std::fs::write(DataDir::new(data).config(), text)?;
    Ok(())
}

fn create_tokens(data: &Path) -> Result<HashMap<String, String>> {
    let store = TokenStore::open(data)?;
    let mut tokens = HashMap::new();
    for app in App::ALL {
        let (_, token) = store.create(Role::App, Some(app.id()), "demo")?;
        tokens.insert(app.id().to_string(), token);
    }
    store.create(Role::Researcher, None, "demo researcher")?;
    store.create(Role::Oversight, None, "demo oversight")?;
    Ok(tokens)
}

/// A `fingertip serve` child process.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(data: &Path) -> Result<Server> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args([
                "serve",
                "--data",
                &data.to_string_lossy(),
                "--listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting fingertip serve")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().context("server stdout")?).read_line(&mut line)?;
        let address = line
            .trim()
            .strip_prefix("listening on ")
            .context("the server did not start")?
            .to_string();
        Ok(Server { child, address })
    }

    fn stop(&mut self) -> Result<i32> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        let status = self.child.wait()?;
        match status.code() {
            Some(0) => Ok(0),
            other => bail!("the server exited with {other:?}"),
        }
    }
}

fn lake_size(dir: &Path) -> (usize, u64) {
    let mut out = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.0 += 1;
                out.1 += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    out
}

async fn pipelines(
    data: &Path,
    out: &Path,
    config: &Config,
    pop: &Population,
) -> Result<fingertip_pipelines::RunSummary> {
    let runner = crate::pipeline::runner(data, config)?;
    let tz = runner.time_zone()?;
    let first = pop
        .days
        .first()
        .map(|d| d.at(0))
        .context("no simulated days")?;
    let last = pop
        .days
        .last()
        .map(|d| d.at(0))
        .context("no simulated days")?;
    let weeks = weeks::range(&weeks::label(first, tz), &weeks::label(last, tz), tz)?;
    let req = RunRequest {
        out: out.to_path_buf(),
        weeks,
        pipelines: None,
        principal: "pipeline:demo".into(),
        progress: true,
    };
    Ok(runner.run(&req).await?.1)
}

async fn example_queries(data: &Path, config: &Config) -> Result<()> {
    let engine = crate::query::engine(
        &DataArgs {
            data: data.to_path_buf(),
            config: None,
        },
        config,
    )?;
    let questions = [
        "SELECT app_id, COUNT(DISTINCT person) AS workers, SUM(duration_s) / 3600 AS hours FROM events WHERE trigger = 'mandatory' GROUP BY app_id ORDER BY hours DESC",
        "SELECT person, COUNT(*) AS n FROM events GROUP BY person ORDER BY n DESC LIMIT 10",
    ];
    for sql in questions {
        println!("\n$ fingertip query --epsilon 0.5 \"{sql}\"");
        match engine
            .run(
                "cli:demo",
                &QueryRequest {
                    sql: sql.into(),
                    epsilon: 0.5,
                    ..Default::default()
                },
            )
            .await
        {
            Ok(answer) => print!("{}", answer.to_table()),
            Err(e) => println!("refused ({}): {e}", e.code()),
        }
    }
    Ok(())
}

/// How often the published 95% intervals contain the simulator's exact values.
fn coverage(indices: &Path, truth: &Path) -> Result<String> {
    let truth_text = std::fs::read_to_string(truth)?;
    let mut exact = HashMap::new();
    for line in truth_text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() >= 5 {
            exact.insert(
                (
                    f[0].to_string(),
                    f[1].to_string(),
                    f[2].to_string(),
                    f[3].to_string(),
                ),
                f[4].parse::<f64>().unwrap_or(f64::NAN),
            );
        }
    }
    let (mut n, mut covered) = (0, 0);
    for line in std::fs::read_to_string(indices)?.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (Some(t), Ok(lo), Ok(hi)) = (
            exact.get(&(f[0].into(), f[1].into(), f[2].into(), f[3].into())),
            f[5].parse::<f64>(),
            f[6].parse::<f64>(),
        ) else {
            continue;
        };
        n += 1;
        covered += usize::from(lo <= *t + 1e-9 && *t <= hi + 1e-9);
    }
    Ok(format!(
        "the 95% intervals of {covered} of {n} published values ({:.1}%) contain the exact value",
        100.0 * covered as f64 / n.max(1) as f64
    ))
}
