//! `dp_overhead`: the bounded, noise-free version of `fingertip pipeline run`, for the
//! `dp_overhead` benchmark. It builds the same DataFusion session the runner builds (lake
//! filtered to the run's weeks, `ft_week` / `ft_after_hours`, the `weekly_events` view) and
//! calls the runner's own functions (`fingertip_pipelines::bounded`): per level the capped
//! active-worker counts, per index the person stage and the per-person L1-clipped sums. It
//! adds no noise, charges no ledger and writes no report. (The runner's key-epoch filter is
//! left out: every event of these lakes is in the run's epochs.) `fingertip pipeline run`
//! time ÷ this time is the cost of DP.
//!
//! Prints one JSON object with the time of each part.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono_tz::Tz;
use clap::Parser;
use datafusion::prelude::SessionContext;
use fingertip_pipelines::{Kind, PipelineSpec, bounded, weeks};
use serde_json::json;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    from: String,
    #[arg(long)]
    to: String,
    /// DataFusion partitions (the runner's `[pipelines] threads`).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value = "Asia/Shanghai")]
    tz: String,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(&args))?;
    println!("{report}");
    Ok(())
}

async fn run(args: &Args) -> Result<serde_json::Value> {
    let tz: Tz = args
        .tz
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown time zone {}", args.tz))?;
    let week_list = weeks::range(&args.from, &args.to, tz)?;
    let started = Instant::now();
    let catalog = fingertip_model::Catalog::embedded();
    let (ctx, _) = fingertip_query::lake::session_named(
        &args.data,
        &fingertip_query::Limits {
            threads: args.threads,
            memory: fingertip_query::MemoryLimit(0),
        },
        &catalog,
        "lake_events",
    )
    .await?;
    let config = fingertip_pipelines::PipelinesConfig {
        time_zone: args.tz.clone(),
        ..Default::default()
    };
    ctx.register_udf(fingertip_pipelines::udf::week_udf(tz));
    ctx.register_udf(fingertip_pipelines::udf::after_hours_udf(&config, tz));
    let lo = weeks::start_ms(&args.from, tz)?;
    let hi = weeks::start_ms(&args.to, tz)? + 7 * 86_400_000;
    let rfc = fingertip_model::format_rfc3339_ms;
    let sql = format!(
        "SELECT * FROM lake_events WHERE started_at >= '{}' AND started_at < '{}' AND date >= '{}' AND date <= '{}'",
        rfc(lo),
        rfc(hi),
        &rfc(lo)[..10],
        &rfc(hi - 1)[..10]
    );
    ctx.register_table("events", ctx.sql(&sql).await?.into_view())?;
    let view = include_str!("../../../../sql/views/weekly_events.sql");
    ctx.register_table("weekly_events", ctx.sql(view).await?.into_view())?;
    let specs = fingertip_pipelines::load_pipelines(None)?;
    let mut parts = serde_json::Map::new();
    let t = Instant::now();
    let people = specs
        .iter()
        .find(|s| s.kind == Kind::People)
        .context("no people pipeline")?;
    let caps = people
        .people
        .clone()
        .context("people pipeline without [people]")?;
    let mut cells: usize = bounded::exact_counts_by_level(&ctx, &caps, false)
        .await?
        .iter()
        .map(|counts| counts.weekly.len())
        .sum();
    parts.insert(people.name.clone(), json!(secs(t)));
    for spec in specs
        .iter()
        .filter(|s| matches!(s.kind, Kind::Ratio | Kind::Count))
    {
        let t = Instant::now();
        cells += bounded_index(&ctx, spec, week_list.len()).await?;
        parts.insert(spec.name.clone(), json!(secs(t)));
    }
    Ok(
        json!({"weeks": week_list, "threads": args.threads, "cells": cells, "seconds": secs(started), "parts_s": parts}),
    )
}

fn secs(t: Instant) -> f64 {
    (t.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
}

/// The person stage and the clipped sums of one index, as `index::release` runs them.
async fn bounded_index(ctx: &SessionContext, spec: &PipelineSpec, weeks: usize) -> Result<usize> {
    let stage = bounded::register_person_stage(ctx, spec).await?;
    let bounds = spec.bounds.clone().unwrap_or_default();
    let mut columns = vec![("numerator", bounds.numerator_per_week)];
    if let Some(d) = bounds
        .denominator_per_week
        .filter(|_| spec.own_denominator())
    {
        columns.push(("denominator", d));
    }
    let mut cells = 0;
    for &level in &spec.levels {
        for (column, per_week) in &columns {
            let bound = bounded::Norm::L2.bound(*per_week, weeks);
            let unit = bounded::value_unit(bound);
            cells +=
                bounded::clipped_sums(ctx, spec, level, column, (bounded::Norm::L2, bound), unit)
                    .await?
                    .len();
        }
    }
    drop(stage);
    Ok(cells)
}
