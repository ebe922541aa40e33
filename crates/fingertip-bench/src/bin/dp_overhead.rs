//! `dp_overhead`: the bounded, noise-free version of `fingertip pipeline run`, for the
//! `dp_overhead` benchmark. It builds the same DataFusion session the runner builds (lake
//! filtered to the run's weeks, `ft_week` / `ft_after_hours`, the `weekly_events` view) and
//! runs exactly the runner's SQL — per level the capped active-worker counts, per index the
//! person stage and the per-person L1-clipped sums — but adds no noise, charges no ledger and
//! writes no report. (The runner's key-epoch filter is left out: every event of these lakes is
//! in the run's epochs.) `fingertip pipeline run` time ÷ this time is the cost of DP.
//!
//! Prints one JSON object with the time of each part.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono_tz::Tz;
use clap::Parser;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use fingertip_pipelines::{Kind, Level, PipelineSpec, weeks};
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
    let (ctx, _) =
        fingertip_query::lake::session_named(&args.data, args.threads, &catalog, "lake_events")
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
    let mut cells = 0;
    for level in Level::all() {
        let cap = match level {
            Level::AppUnit => caps.max_apps_per_week * caps.max_units_per_week,
            Level::Unit => caps.max_units_per_week,
            Level::App => caps.max_apps_per_week,
            Level::All => 1,
        };
        let (app, unit) = level.key_sql("app_id", "org_unit");
        let sql = format!(
            "WITH pc AS (SELECT DISTINCT person, week, {app} AS app_id, {unit} AS org_unit FROM weekly_events), \
             r AS (SELECT week, app_id, org_unit, row_number() OVER (PARTITION BY person, week ORDER BY random()) AS rk FROM pc) \
             SELECT week, app_id, org_unit, COUNT(*) AS persons FROM r WHERE rk <= {cap} GROUP BY week, app_id, org_unit"
        );
        cells += ctx
            .sql(&sql)
            .await?
            .collect()
            .await?
            .iter()
            .map(|b| b.num_rows())
            .sum::<usize>();
    }
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
    let df = ctx
        .sql(spec.person_sql.as_deref().unwrap_or_default())
        .await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    ctx.register_table(
        "person_stage",
        Arc::new(MemTable::try_new(schema, vec![batches])?),
    )?;
    let bounds = spec.bounds.clone().unwrap_or_default();
    let mut columns = vec![("numerator", bounds.numerator_per_week)];
    if let Some(d) = bounds
        .denominator_per_week
        .filter(|_| spec.own_denominator())
    {
        columns.push(("denominator", d));
    }
    let combine = if format!("{:?}", spec.combine).eq_ignore_ascii_case("max") {
        "MAX"
    } else {
        "SUM"
    };
    let mut cells = 0;
    for &level in &spec.levels {
        for (column, per_week) in &columns {
            let bound = per_week * weeks as f64;
            let unit = 2f64.powi((bound / 1_048_576.0).log2().floor() as i32);
            let (app, unit_key) = level.key_sql("app_id", "org_unit");
            let sql = format!(
                "WITH lvl AS (SELECT person, week, {app} AS app_id, {unit_key} AS org_unit, CAST({combine}({column}) AS DOUBLE) AS v \
                              FROM person_stage GROUP BY person, week, {app}, {unit_key}), \
                      tot AS (SELECT person, SUM(ABS(v)) AS t FROM lvl GROUP BY person) \
                 SELECT lvl.week, lvl.app_id, lvl.org_unit, \
                        SUM(CAST(TRUNC(COALESCE(lvl.v, 0) * LEAST(1.0, {bound:e} / GREATEST(tot.t, 1e-300)) / {unit:e}) AS BIGINT)) AS s \
                 FROM lvl JOIN tot ON lvl.person = tot.person GROUP BY lvl.week, lvl.app_id, lvl.org_unit"
            );
            cells += ctx
                .sql(&sql)
                .await?
                .collect()
                .await?
                .iter()
                .map(|b| b.num_rows())
                .sum::<usize>();
        }
    }
    ctx.deregister_table("person_stage")?;
    Ok(cells)
}
