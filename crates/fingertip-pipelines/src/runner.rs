//! A pipeline run: load and check the pipelines, charge the ledger, release the people
//! counts, every index and the composite, then write the outputs and the report.

use std::path::{Path, PathBuf};

use chrono_tz::Tz;
use datafusion::prelude::SessionContext;
use fingertip_anonymize::EpochScheme;
use fingertip_dp::accounting::{self, Accounting};
use fingertip_dp::amount::{self, Round};
use fingertip_dp::{Budget, Cost, Ledger, Noise, Spend, fingerprint};
use fingertip_model::Catalog;
use fingertip_query::guard::TimeRange;
use indicatif::{ProgressBar, ProgressStyle};

use crate::people::{self, Domain, PeopleParams};
use crate::spec::{self, Kind, PipelineSpec};
use crate::{
    IndexRow, PipelineError, PipelinesConfig, RunSummary, composite, index, output, udf, weeks,
};

/// One run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub out: PathBuf,
    pub weeks: Vec<String>,
    /// A directory of pipeline files (and `views/*.sql`); the embedded set when `None`.
    pub pipelines: Option<PathBuf>,
    /// Who is charged in the ledger.
    pub principal: String,
    pub progress: bool,
}

/// Runs pipelines over one data directory.
#[derive(Debug, Clone)]
pub struct Runner {
    data_dir: PathBuf,
    config: PipelinesConfig,
    catalog: Catalog,
    ledger: Ledger,
    scheme: EpochScheme,
    domain: Domain,
    noise: Noise,
}

impl Runner {
    pub fn new(
        data_dir: &Path,
        config: PipelinesConfig,
        catalog: Catalog,
        ledger: Ledger,
        scheme: EpochScheme,
        domain: Domain,
    ) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            config,
            catalog,
            ledger,
            scheme,
            domain,
            noise: Noise::OpenDp,
        }
    }

    /// Another noise strategy: exact releases for golden tests, or the audit's broken one.
    #[cfg(feature = "test-util")]
    pub fn with_noise(mut self, noise: Noise) -> Self {
        self.noise = noise;
        self
    }

    pub fn time_zone(&self) -> Result<Tz, PipelineError> {
        self.config
            .time_zone
            .parse()
            .map_err(|_| PipelineError::TimeZone(self.config.time_zone.clone()))
    }

    /// Runs every pipeline over `req.weeks`; spends the run's budget first.
    pub async fn run(
        &self,
        req: &RunRequest,
    ) -> Result<(Vec<IndexRow>, RunSummary), PipelineError> {
        let (specs, epochs, ctx) = self.prepare(req).await?;
        let accounting = self.accounting(&epochs)?;
        // Rounded so that 0.4 + 8 × 0.2 is charged and reported as 2, not 1.9999999999999998.
        let epsilon = (specs.iter().map(|s| s.epsilon).sum::<f64>() * 1e9).round() / 1e9;
        // ρ = Σ ε²/2 in the ledger's exact units, each ε rounded up first (never under-charged).
        let rho_units: u128 = specs
            .iter()
            .map(|s| {
                let units = amount::epsilon_units(s.epsilon, Round::Up).unwrap_or(u64::MAX);
                accounting::rho_units_of_epsilon_units(units)
            })
            .sum();
        let rho = amount::from_units(rho_units, accounting::RHO_UNITS);
        let delta = if self.domain.is_public() {
            0.0
        } else {
            self.config.delta
        };
        let texts: Vec<String> = specs.iter().map(|s| format!("{s:?}")).collect();
        let mut parts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let weeks = req.weeks.join(",");
        parts.push(&weeks);
        let what = format!("pipelines over {}", weeks);
        let spend = |epsilon| {
            Spend::new(
                &req.principal,
                fingerprint(&parts),
                "events",
                epochs.clone(),
                epsilon,
                delta,
                &what,
            )
        };
        self.ledger.charge(match accounting {
            Accounting::Zcdp => spend(0.0).with_rho_units(rho_units),
            Accounting::Pure => spend(epsilon),
        })?;
        let rows = self.release_all(&ctx, &specs, req, accounting).await?;
        let mut summary = self.summary(&rows, req, &epochs, epsilon, delta, &specs);
        summary.accounting = accounting;
        summary.rho = if accounting == Accounting::Zcdp {
            rho
        } else {
            0.0
        };
        let status = self.ledger.status("events", &epochs)?;
        // The run's own epochs (the status lists every epoch the ledger mentions); the one
        // with the least left is the one the report shows.
        let tightest = status
            .epochs
            .iter()
            .filter(|e| epochs.contains(&e.epoch))
            .min_by(|a, b| a.epsilon_remaining.total_cmp(&b.epsilon_remaining));
        let spent = tightest.map_or(0.0, |e| e.epsilon_spent);
        let total = tightest.map_or(0.0, |e| e.epsilon_total);
        // Under zCDP, what this run alone costs in ε, at the ledger's conversion δ.
        let this_run = match (accounting, tightest) {
            (Accounting::Zcdp, Some(e)) => {
                fingertip_dp::accounting::epsilon_of_rho(rho, e.conversion_delta)
            }
            _ => epsilon,
        };
        let html = fingertip_report::render_html(&crate::report::input(
            &specs,
            &rows,
            &summary,
            (this_run, spent, total),
        ))?;
        output::write_all(&req.out, &self.data_dir, &rows, &summary, &html)?;
        Ok((rows, summary))
    }

    /// Test-only: `n` independent draws of every release of a run over `req.weeks`, without
    /// charging or writing anything (the empirical privacy audit).
    #[cfg(feature = "test-util")]
    pub async fn release_samples(
        &self,
        req: &RunRequest,
        n: usize,
    ) -> Result<Vec<Vec<IndexRow>>, PipelineError> {
        let (specs, epochs, ctx) = self.prepare(req).await?;
        let accounting = self.accounting(&epochs)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.release_all(&ctx, &specs, req, accounting).await?);
        }
        Ok(out)
    }

    /// The pipelines, the epochs a run over `req.weeks` is charged in, and a session over
    /// exactly those weeks and epochs with every person stage checked. Nothing is charged.
    async fn prepare(
        &self,
        req: &RunRequest,
    ) -> Result<(Vec<PipelineSpec>, Vec<String>, SessionContext), PipelineError> {
        let specs = spec::load(req.pipelines.as_deref())?;
        let tz = self.time_zone()?;
        let range = self.time_range(&req.weeks, tz)?;
        let epochs = fingertip_query::charged_epochs(&self.data_dir, self.scheme, range);
        let ctx = self.session(req, &epochs, range, tz).await?;
        check_person_stages(&ctx, &specs).await?;
        Ok((specs, epochs, ctx))
    }

    fn time_range(&self, weeks: &[String], tz: Tz) -> Result<TimeRange, PipelineError> {
        let (Some(first), Some(last)) = (weeks.first(), weeks.last()) else {
            return Err(PipelineError::InvalidWeek("(no weeks)".into()));
        };
        Ok(TimeRange {
            lo_ms: Some(weeks::start_ms(first, tz)?),
            hi_ms: Some(weeks::start_ms(last, tz)? + 7 * 86_400_000),
        })
    }

    /// A session whose `events` are the run's weeks and epochs, with the views and UDFs.
    async fn session(
        &self,
        req: &RunRequest,
        epochs: &[String],
        range: TimeRange,
        tz: Tz,
    ) -> Result<SessionContext, PipelineError> {
        let (ctx, _) = fingertip_query::lake::session_named(
            &self.data_dir,
            &fingertip_query::Limits {
                threads: self.config.threads,
                memory: self.config.memory_limit,
            },
            &self.catalog,
            "lake_events",
        )
        .await?;
        ctx.register_udf(udf::week_udf(tz));
        ctx.register_udf(udf::after_hours_udf(&self.config, tz));
        let (lo, hi) = (range.lo_ms.unwrap_or(0), range.hi_ms.unwrap_or(0));
        let rfc = fingertip_model::format_rfc3339_ms;
        let date = |ms: i64| rfc(ms)[..10].to_string();
        let epochs: Vec<String> = epochs.iter().map(|e| format!("'{e}'")).collect();
        let sql = format!(
            "SELECT * FROM lake_events WHERE started_at >= '{}' AND started_at < '{}' AND date >= '{}' AND date <= '{}' AND key_epoch IN ({})",
            rfc(lo),
            rfc(hi),
            date(lo),
            date(hi - 1),
            epochs.join(", ")
        );
        ctx.register_table("events", ctx.sql(&sql).await?.into_view())?;
        for (name, text) in spec::views(req.pipelines.as_deref()) {
            let view = ctx
                .sql(&text)
                .await
                .map_err(|e| PipelineError::InvalidSet(format!("view {name}: {e}")))?;
            ctx.register_table(name.as_str(), view.into_view())?;
        }
        Ok(ctx)
    }

    /// How a run over `epochs` spends: zCDP (ρ, discrete Gaussian noise) when every epoch
    /// uses zCDP accounting, pure ε (discrete Laplace) otherwise.
    fn accounting(&self, epochs: &[String]) -> Result<Accounting, PipelineError> {
        let all = self.ledger.accounting("events", epochs)?;
        Ok(if all.iter().all(|a| *a == Accounting::Zcdp) {
            Accounting::Zcdp
        } else {
            Accounting::Pure
        })
    }

    async fn release_all(
        &self,
        ctx: &SessionContext,
        specs: &[PipelineSpec],
        req: &RunRequest,
        accounting: Accounting,
    ) -> Result<Vec<IndexRow>, PipelineError> {
        let bar = progress(req.progress, specs.len());
        let people_spec = specs
            .iter()
            .find(|s| s.kind == Kind::People)
            .ok_or_else(|| PipelineError::InvalidSet("no people pipeline".into()))?;
        bar.set_message(people_spec.name.clone());
        let caps = people_spec
            .people
            .clone()
            .ok_or_else(|| PipelineError::InvalidSet("people pipeline without [people]".into()))?;
        let params = PeopleParams {
            caps: &caps,
            weeks: &req.weeks,
            domain: &self.domain,
            noise: self.noise,
            budget: budget(people_spec, accounting),
            delta: self.config.delta,
            min_persons: self.config.min_persons,
        };
        let people = people::release(ctx, &params).await?;
        let mut cost = people.cost;
        let mut rows = people_rows(people_spec, &people);
        bar.inc(1);
        for spec in specs
            .iter()
            .filter(|s| matches!(s.kind, Kind::Ratio | Kind::Count))
        {
            bar.set_message(spec.name.clone());
            let (released, c) = index::release(
                ctx,
                spec,
                &people,
                req.weeks.len(),
                self.noise,
                budget(spec, accounting),
            )
            .await?;
            cost = cost.plus(c);
            rows.extend(released);
            bar.inc(1);
        }
        for spec in specs.iter().filter(|s| s.kind == Kind::Composite) {
            let composed = composite::compose(spec, &rows);
            rows.extend(composed);
            bar.inc(1);
        }
        bar.finish_and_clear();
        check_spent(&cost, specs, accounting, self.config.delta)?;
        Ok(rows)
    }

    fn summary(
        &self,
        rows: &[IndexRow],
        req: &RunRequest,
        epochs: &[String],
        epsilon: f64,
        delta: f64,
        specs: &[PipelineSpec],
    ) -> RunSummary {
        RunSummary {
            generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            weeks: req.weeks.clone(),
            epochs: epochs.to_vec(),
            epsilon,
            rho: 0.0,
            accounting: Accounting::Pure,
            delta,
            min_persons: self.config.min_persons,
            public_domain: self.domain.is_public(),
            cells: rows.len(),
            suppressed: rows.iter().filter(|r| r.suppressed).count(),
            indices: specs.iter().map(|s| s.name.clone()).collect(),
        }
    }
}

/// A spec's budget: its ε is its share of the run; under zCDP it buys ρ = ε²/2, what an ε-DP
/// release costs there, so the ledger is charged the same for far less noise.
fn budget(spec: &PipelineSpec, accounting: Accounting) -> Budget {
    match accounting {
        Accounting::Zcdp => Budget::Rho(spec.epsilon * spec.epsilon / 2.0),
        Accounting::Pure => Budget::Epsilon(spec.epsilon),
    }
}

/// What the releases' privacy maps charged must not exceed what the run was charged: Σ ε²/2
/// (zCDP) or Σ ε (pure) over the specs, and the configured δ. A release over it fails the run
/// (after it was charged, before anything is written) rather than publishing.
fn check_spent(
    cost: &Cost,
    specs: &[PipelineSpec],
    accounting: Accounting,
    delta: f64,
) -> Result<(), PipelineError> {
    let over = |spent: f64, charged: f64| spent > charged * (1.0 + 1e-9) + 1e-15;
    let charged: f64 = specs
        .iter()
        .map(|s| match budget(s, accounting) {
            Budget::Rho(x) | Budget::Epsilon(x) => x,
        })
        .sum();
    let (measure, spent) = match accounting {
        Accounting::Zcdp => ("ρ", cost.rho + cost.epsilon * cost.epsilon / 2.0),
        Accounting::Pure => ("ε", cost.epsilon),
    };
    if over(spent, charged) || over(cost.delta, delta) {
        return Err(PipelineError::InvalidSet(format!(
            "the releases spent {measure}={spent} and δ={} of a run charged {measure}={charged} and δ={delta}",
            cost.delta
        )));
    }
    Ok(())
}

fn progress(show: bool, len: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} pipelines  {msg}") {
        bar.set_style(style);
    }
    bar
}

/// The people release as rows of its own index.
fn people_rows(spec: &PipelineSpec, people: &people::People) -> Vec<IndexRow> {
    people
        .cells
        .iter()
        .map(|(cell, n)| {
            let mut row = crate::new_row(&spec.name, cell, spec.epsilon, &spec.clause);
            row.suppressed = n.suppressed;
            if !n.suppressed {
                row.value = Some(n.value.max(0.0));
                row.ci_low = Some((n.value - n.half95).max(0.0));
                row.ci_high = Some((n.value + n.half95).max(0.0));
            }
            row
        })
        .collect()
}

/// Every person stage plans, and its cell keys are not derived from `person`/`event_id`.
async fn check_person_stages(
    ctx: &SessionContext,
    specs: &[PipelineSpec],
) -> Result<(), PipelineError> {
    for spec in specs {
        let Some(sql) = &spec.person_sql else {
            continue;
        };
        let invalid = |m: String| PipelineError::InvalidSpec {
            path: spec.path.clone(),
            message: m,
        };
        let plan = ctx
            .state()
            .create_logical_plan(sql)
            .await
            .map_err(|e| invalid(format!("person_sql does not plan: {e}")))?;
        let tainted = fingertip_query::taint::tainted(&plan);
        for (field, t) in plan.schema().fields().iter().zip(tainted) {
            if t && matches!(field.name().as_str(), "week" | "app_id" | "org_unit") {
                return Err(invalid(format!(
                    "the released key `{}` is derived from person or event_id",
                    field.name()
                )));
            }
        }
    }
    Ok(())
}
