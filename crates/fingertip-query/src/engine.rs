//! The query engine: SQL in, a differentially private answer out.
//!
//! parse → plan → guard → charge the ledger (fsync) → person stage → (estimate bounds) →
//! release stage → noise → post-processing → answer. Nothing computed from the data leaves
//! this function except through the noise mechanisms.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::{MemTable, provider_as_source};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use datafusion::prelude::SessionContext;
use fingertip_anonymize::EpochScheme;
use fingertip_dp::{Ledger, Noise, Spend, fingerprint};
use fingertip_model::Catalog;
use serde::{Deserialize, Serialize};

use crate::answer::Answer;
use crate::bounds::{self, BoundsRequest};
use crate::error::QueryError;
use crate::guard::{self, Analyzed, DomainColumn};
use crate::limits::{Limits, MemoryLimit};
use crate::refusal::{Refusal, code};
use crate::run::{Run, Split};
use crate::stages::{self, Quantities};
use crate::{estimate, lake, output, post, release};

/// `[query]` in `fingertip.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueryConfig {
    /// δ of partition selection when a request does not give one.
    pub default_delta: f64,
    /// Groups whose noisy person count is below this are withheld.
    pub min_persons: u32,
    /// The smallest ε one query may ask for (never below [`fingertip_dp::MIN_EPSILON`]).
    /// Tiny spends buy answers that are pure noise; refusing them keeps every release
    /// meaningful and its arithmetic exact.
    pub min_epsilon_per_query: f64,
    /// The largest ε one query may ask for (never above [`fingertip_dp::MAX_EPSILON`]).
    pub max_epsilon_per_query: f64,
    /// Share of a query's ε spent on estimating the bounds it did not give.
    pub estimation_share: f64,
    /// DataFusion partitions (0: one per core).
    pub threads: usize,
    /// The memory pool of a query's session (0: no limit); past it, operators spill to disk.
    pub memory_limit: MemoryLimit,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            default_delta: 1e-6,
            min_persons: 10,
            min_epsilon_per_query: 0.001,
            max_epsilon_per_query: 5.0,
            estimation_share: 0.2,
            threads: 0,
            memory_limit: MemoryLimit::default(),
        }
    }
}

/// One query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub sql: String,
    pub epsilon: f64,
    #[serde(default)]
    pub delta: Option<f64>,
    #[serde(default)]
    pub bounds: BoundsRequest,
}

/// Answers DP queries over one data directory.
#[derive(Debug, Clone)]
pub struct Engine {
    data_dir: PathBuf,
    catalog: Catalog,
    config: QueryConfig,
    ledger: Ledger,
    scheme: EpochScheme,
    pub(crate) noise: Noise,
    /// Declared public domains of group-by columns.
    domains: BTreeMap<DomainColumn, Vec<String>>,
}

/// Public domains larger than this are not enumerated (partition selection is used instead).
const MAX_PUBLIC_CELLS: usize = 50_000;

impl Engine {
    pub fn new(
        data_dir: &Path,
        catalog: Catalog,
        config: QueryConfig,
        ledger: Ledger,
        scheme: EpochScheme,
    ) -> Self {
        let mut domains = BTreeMap::new();
        domains.insert(
            DomainColumn::EventType,
            catalog.event_types.keys().cloned().collect(),
        );
        domains.insert(
            DomainColumn::Trigger,
            fingertip_model::Trigger::ALL
                .iter()
                .map(|t| t.as_str().to_string())
                .collect(),
        );
        Self {
            data_dir: data_dir.to_path_buf(),
            catalog,
            config,
            ledger,
            scheme,
            noise: Noise::OpenDp,
            domains,
        }
    }

    /// Declares the values of `column` public (e.g. the registered apps, the configured org
    /// units): a query grouped only by declared columns releases every combination, with no
    /// partition selection and no δ.
    pub fn with_domain(mut self, column: DomainColumn, values: Vec<String>) -> Self {
        if !values.is_empty() {
            self.domains.insert(column, values);
        }
        self
    }

    /// The public cells of a query grouped by declared columns only.
    fn public_cells(&self, analyzed: &Analyzed) -> Option<Vec<Vec<String>>> {
        if analyzed.group_domains.is_empty() {
            return None;
        }
        let mut cells: Vec<Vec<String>> = vec![Vec::new()];
        for d in &analyzed.group_domains {
            let values = self.domains.get(&(*d)?)?;
            if cells.len() * values.len() > MAX_PUBLIC_CELLS {
                return None;
            }
            cells = cells
                .iter()
                .flat_map(|c| {
                    values
                        .iter()
                        .map(move |v| [c.clone(), vec![v.clone()]].concat())
                })
                .collect();
        }
        Some(cells)
    }

    /// Exact releases for golden tests (the `test-util` feature; never in a shipped binary).
    #[cfg(feature = "test-util")]
    pub fn without_noise(mut self) -> Self {
        self.noise = Noise::NoNoise;
        self
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn config(&self) -> &QueryConfig {
        &self.config
    }

    /// Answers `request` for `principal`, charging the ledger first. Never panics: an internal
    /// fault becomes an `internal_error` (after charging, if it was charged).
    pub async fn run(&self, principal: &str, request: &QueryRequest) -> Result<Answer, QueryError> {
        use futures::FutureExt;
        std::panic::AssertUnwindSafe(self.run_unguarded(principal, request))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| {
                tracing::error!("A query panicked; answered with internal_error.");
                Err(Refusal::new(code::INTERNAL_ERROR, "the query hit an internal error").into())
            })
    }

    async fn run_unguarded(
        &self,
        principal: &str,
        request: &QueryRequest,
    ) -> Result<Answer, QueryError> {
        let p = self.prepare(request).await?;
        let bounds_json = serde_json::to_string(&request.bounds).unwrap_or_default();
        let print = fingerprint(&[
            &request.sql,
            &request.epsilon.to_string(),
            &p.delta.to_string(),
            &bounds_json,
        ]);
        self.ledger.charge(Spend::new(
            principal,
            print,
            "events",
            p.epochs.clone(),
            request.epsilon,
            p.delta,
            &request.sql,
        ))?;
        let run = p.run(self, request.epsilon);
        let exact = run.exact(&request.bounds, &p.ranges, &p.needs).await?;
        run.finish(exact, &p.ranges).await
    }

    /// Everything decided before charging: the accepted plan, its quantities and bounds, the
    /// ε split and δ, the epochs to charge. Refusals come from here, so they charge nothing.
    pub(crate) async fn prepare(&self, request: &QueryRequest) -> Result<Prepared, QueryError> {
        let delta = self.check_parameters(request)?;
        let (ctx, dims) = self.session().await?;
        let analyzed = accept(&ctx, &request.sql, &dims).await?;
        let quantities = Quantities::of(&analyzed.measures);
        let requested = output::requested_ranges(&analyzed, &quantities, &request.bounds)?;
        let ranges =
            bounds::quantity_ranges(&quantities.list, &requested, self.catalog.max_duration_s())?;
        let grouped = !analyzed.aggregate.group_expr.is_empty();
        let by_unit = analyzed.group_domains == [Some(DomainColumn::OrgUnit)];
        let needs = estimate::Needs::of(
            grouped,
            by_unit,
            &quantities.list,
            &request.bounds,
            &requested,
        );
        let split = self.split(request.epsilon, needs.count(), quantities.list.len());
        let public = self.public_cells(&analyzed);
        let delta = if grouped && public.is_none() {
            delta
        } else {
            0.0
        };
        let epochs = crate::epochs::charged_epochs(&self.data_dir, self.scheme, analyzed.time);
        Ok(Prepared {
            ctx,
            analyzed,
            quantities,
            ranges,
            needs,
            split,
            public,
            delta,
            epochs,
        })
    }

    /// A session over the lake and the dimension tables, inside the configured limits.
    async fn session(&self) -> Result<(SessionContext, Vec<lake::Dimension>), QueryError> {
        let limits = Limits {
            threads: self.config.threads,
            memory: self.config.memory_limit,
        };
        lake::session(&self.data_dir, &limits, &self.catalog)
            .await
            .map_err(QueryError::engine)
    }

    /// Checks `request` as [`Engine::run`] would (parameters, guard, bounds) without reading
    /// events or charging anything; returns the schema of the rows the answer would have.
    pub async fn check(&self, request: &QueryRequest) -> Result<SchemaRef, QueryError> {
        let p = self.prepare(request).await?;
        Ok(Arc::new(p.analyzed.plan.schema().as_arrow().clone()))
    }

    /// The tables a query can read, as the engine names them: `events` first, then the
    /// public dimension tables, each with its Arrow schema.
    pub async fn tables(&self) -> Result<Vec<TableInfo>, QueryError> {
        let (ctx, dims) = self.session().await?;
        let options = ctx.state().config_options().catalog.clone();
        let names =
            std::iter::once(lake::EVENTS.to_string()).chain(dims.into_iter().map(|d| d.name));
        let mut out = Vec::new();
        for name in names {
            let table = ctx
                .table_provider(name.as_str())
                .await
                .map_err(QueryError::engine)?;
            out.push(TableInfo {
                catalog: options.default_catalog.clone(),
                schema: options.default_schema.clone(),
                dimension: name != lake::EVENTS,
                arrow_schema: table.schema(),
                name,
            });
        }
        Ok(out)
    }

    fn check_parameters(&self, r: &QueryRequest) -> Result<f64, Refusal> {
        if !(r.epsilon.is_finite() && r.epsilon > 0.0) {
            return Err(Refusal::new(
                code::INVALID_PRIVACY_PARAMETERS,
                "ε must be a positive number",
            ));
        }
        let min = self
            .config
            .min_epsilon_per_query
            .max(fingertip_dp::MIN_EPSILON);
        let max = self
            .config
            .max_epsilon_per_query
            .min(fingertip_dp::MAX_EPSILON);
        if !(min..=max).contains(&r.epsilon) {
            return Err(Refusal::new(
                code::EPSILON_OUT_OF_RANGE,
                format!(
                    "ε={} is outside this deployment's range [{min}, {max}] per query",
                    r.epsilon
                ),
            ));
        }
        let delta = r.delta.unwrap_or(self.config.default_delta);
        if !(delta > 0.0 && delta < 1e-3) {
            return Err(Refusal::new(
                code::INVALID_PRIVACY_PARAMETERS,
                "δ must be in (0, 0.001)",
            ));
        }
        Ok(delta)
    }

    fn split(&self, epsilon: f64, estimates: usize, quantities: usize) -> Split {
        let estimation = if estimates > 0 {
            epsilon * self.config.estimation_share
        } else {
            0.0
        };
        let rest = (epsilon - estimation) / (1 + quantities) as f64;
        Split {
            estimate_each: estimation / estimates.max(1) as f64,
            persons: rest,
            quantity: rest,
        }
    }
}

/// A table a query can read.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub catalog: String,
    pub schema: String,
    pub name: String,
    /// A public dimension table (otherwise the event lake).
    pub dimension: bool,
    pub arrow_schema: SchemaRef,
}

/// A query accepted and planned, not yet charged.
pub(crate) struct Prepared {
    pub ctx: SessionContext,
    pub analyzed: Analyzed,
    pub quantities: Quantities,
    pub ranges: Vec<Option<(f64, f64)>>,
    pub needs: estimate::Needs,
    pub split: Split,
    pub public: Option<Vec<Vec<String>>>,
    pub delta: f64,
    pub epochs: Vec<String>,
}

impl Prepared {
    pub fn run<'a>(&'a self, engine: &'a Engine, epsilon: f64) -> Run<'a> {
        Run {
            noise: engine.noise,
            min_persons: engine.config.min_persons,
            ledger: &engine.ledger,
            ctx: &self.ctx,
            analyzed: &self.analyzed,
            quantities: &self.quantities,
            split: self.split,
            epsilon,
            delta: self.delta,
            epochs: &self.epochs,
            public: self.public.clone(),
        }
    }
}

/// The exact release-stage values of a charged query, with the bounds they were taken under.
pub(crate) struct ExactRelease {
    pub exact: release::Exact,
    pub params: release::NoiseParams,
    pub resolved: estimate::Resolved,
}

/// The stages of a charged query, in order (`Run` itself is a leaf the stages read).
impl Run<'_> {
    /// The person stage, bounds resolution and the release stage: exact per-group values,
    /// and how they are to be noised.
    pub async fn exact(
        &self,
        req: &BoundsRequest,
        ranges: &[Option<(f64, f64)>],
        needs: &estimate::Needs,
    ) -> Result<ExactRelease, QueryError> {
        let a = &self.analyzed.aggregate;
        let person =
            stages::person_stage(&a.input, &a.group_expr, &self.quantities.list, self.epochs)
                .map_err(QueryError::engine)?;
        let person = self.materialize(person).await?;
        let resolved = estimate::resolve(self, &person, req, ranges, needs).await?;
        let stage_bounds = resolved.stage_bounds(&self.quantities.list);
        let release = stages::release_stage(
            person,
            a.group_expr.len(),
            &self.quantities.list,
            &stage_bounds,
        )
        .map_err(QueryError::engine)?;
        let batches = self
            .ctx
            .execute_logical_plan(release)
            .await
            .map_err(QueryError::engine)?
            .collect()
            .await
            .map_err(QueryError::engine)?;
        let mut exact = release::read_exact(&batches, a.group_expr.len(), &self.quantities.list)
            .map_err(QueryError::engine)?;
        if let Some(cells) = &self.public {
            exact = exact.align_to(cells);
        }
        let params = release::NoiseParams {
            noise: self.noise,
            max_groups: stage_bounds.max_groups,
            max_rows: stage_bounds.max_rows,
            quantile_rows: stage_bounds.quantile_rows,
            epsilon_persons: self.split.persons,
            epsilon_quantity: self.split.quantity,
            delta: self.delta,
            ranges: stage_bounds.ranges.clone(),
            min_persons: self.min_persons,
            public: self.public.is_some(),
        };
        Ok(ExactRelease {
            exact,
            params,
            resolved,
        })
    }

    /// Noise, post-processing and the answer.
    pub async fn finish(
        &self,
        e: ExactRelease,
        ranges: &[Option<(f64, f64)>],
    ) -> Result<Answer, QueryError> {
        let a = &self.analyzed.aggregate;
        let noisy = release::apply(&e.exact, &self.quantities.list, &e.params)?;
        let released = output::released_rows(&noisy, self.analyzed, self.quantities, ranges);
        let out = post::run(self.ctx, &self.analyzed.plan, a, &released.rows)
            .await
            .map_err(QueryError::engine)?;
        let budget = self
            .ledger
            .status("events", self.epochs)?
            .epochs
            .into_iter()
            .filter(|b| self.epochs.contains(&b.epoch))
            .collect();
        Ok(output::answer(
            self,
            &out,
            &noisy,
            &released,
            &e.resolved,
            budget,
        ))
    }

    /// Runs a plan and keeps its (small) result in memory as a table.
    pub async fn materialize(&self, plan: LogicalPlan) -> Result<LogicalPlan, QueryError> {
        let df = self
            .ctx
            .execute_logical_plan(plan)
            .await
            .map_err(QueryError::engine)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await.map_err(QueryError::engine)?;
        let table = MemTable::try_new(schema, vec![batches]).map_err(QueryError::engine)?;
        LogicalPlanBuilder::scan(
            "__ft_person_stage",
            provider_as_source(Arc::new(table)),
            None,
        )
        .and_then(LogicalPlanBuilder::build)
        .map_err(QueryError::engine)
    }
}

/// Plans `sql`, coerces its types, makes every row expression total and runs the guard:
/// the query as it will be executed, or a refusal. Nothing is charged yet.
async fn accept(
    ctx: &SessionContext,
    sql: &str,
    dims: &[lake::Dimension],
) -> Result<Analyzed, Refusal> {
    let statement = guard::parse_single_query(sql)?;
    let state = ctx.state();
    let plan = state
        .statement_to_plan(statement)
        .await
        .map_err(|e| Refusal::new(code::PLAN_ERROR, plan_message(&e)))?;
    let plan = guard::dedupe_group_keys(plan)?;
    guard::check_reserved_names(&plan)?;
    // The query as written: refusals name what the researcher wrote; the time range comes
    // from its filters (the scans are restricted to the charged epochs either way).
    let written = guard::analyze(&plan, dims)?;
    let plan = state
        .analyzer()
        .execute_and_check(plan, state.config_options(), |_, _| {})
        .map_err(|e| Refusal::new(code::PLAN_ERROR, plan_message(&e)))?;
    // The query as it will run: coerced, every row expression total, checked again.
    let plan = guard::make_total(plan, &state)?;
    let mut analyzed = guard::analyze(&plan, dims)?;
    analyzed.time = written.time;
    // What runs above the aggregate works on released values only: it stays as written.
    analyzed.plan = written.plan;
    Ok(analyzed)
}

/// A planning error as a researcher should see it (no internal backtraces).
fn plan_message(e: &datafusion::error::DataFusionError) -> String {
    let text = e.to_string();
    let text = text
        .strip_prefix("Error during planning: ")
        .unwrap_or(&text);
    format!(
        "the query could not be planned: {}",
        text.lines().next().unwrap_or("")
    )
}
