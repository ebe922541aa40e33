//! The guard: a default-deny analysis of DataFusion's resolved logical plan (never of SQL
//! text) that either proves a query can be answered as one differentially private release,
//! or refuses it with a stable code.
//!
//! A query is accepted when its plan is, from the top:
//!
//! ```text
//! [Limit] [Sort] [Projection] [Filter = HAVING] [SubqueryAlias]   ← post-processing of noisy output
//!   Aggregate (GROUP BY public expressions; supported aggregates)   ← the release
//!     rows: TableScan(events) with Projection / Filter / SubqueryAlias / Unnest,
//!           joined only to public dimension tables on their unique key
//! ```
//!
//! Every column is tracked from its origin through renames and subqueries. `person` and
//! `event_id` are tainted: the only use of either anywhere in a plan is `person` as the
//! argument of `COUNT(DISTINCT person)` in the release (a plain pass-through of the column by a
//! subquery or CTE is not a use). Anything the analysis does not recognise is refused.

mod exprs;
mod functions;
mod measures;
mod rows;
mod total;

use datafusion::logical_expr::{Aggregate, LogicalPlan};
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast;
use datafusion::sql::sqlparser::dialect::GenericDialect;

pub use measures::{Measure, MeasureKind};
pub use total::{TOTAL_UDF, TotalUdf, make_total};

use crate::lake::Dimension;
use crate::refusal::{Refusal, code, refuse};
use exprs::{check_no_aggregate, check_row_expr, check_shape};

/// Where a column's values come from, as far as privacy is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Public,
    /// `events.person`, passed through unchanged.
    Person,
    /// `events.event_id`, passed through unchanged.
    EventId,
    /// `events.started_at`, `events.date`, `events.key_epoch`, passed through unchanged: public,
    /// tracked to learn which time range (and so which key epochs) a query reads.
    StartedAt,
    Date,
    KeyEpoch,
    /// The unique key of a dimension table.
    DimKey,
    /// An event column whose values may form a declared public domain.
    Domain(DomainColumn),
}

/// Event columns whose set of values can be declared public: the event types and triggers of
/// the catalog, the registered apps, the configured org units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DomainColumn {
    AppId,
    OrgUnit,
    EventType,
    Trigger,
}

impl Origin {
    pub fn is_tainted(self) -> bool {
        matches!(self, Self::Person | Self::EventId)
    }

    fn of_event_column(name: &str) -> Self {
        match name {
            "person" => Self::Person,
            "event_id" => Self::EventId,
            "started_at" => Self::StartedAt,
            "date" => Self::Date,
            "key_epoch" => Self::KeyEpoch,
            "app_id" => Self::Domain(DomainColumn::AppId),
            "org_unit" => Self::Domain(DomainColumn::OrgUnit),
            "event_type" => Self::Domain(DomainColumn::EventType),
            "trigger" => Self::Domain(DomainColumn::Trigger),
            _ => Self::Public,
        }
    }
}

/// The time range a query's filters keep, `[lo, hi)` in ms; `None` is unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub lo_ms: Option<i64>,
    pub hi_ms: Option<i64>,
}

/// An accepted query.
#[derive(Debug, Clone)]
pub struct Analyzed {
    /// The whole resolved plan, as the researcher wrote it.
    pub plan: LogicalPlan,
    /// The released aggregate.
    pub aggregate: Aggregate,
    /// One per aggregate expression, in order.
    pub measures: Vec<Measure>,
    pub time: TimeRange,
    /// Per group expression: the domain column it is, when it is a bare one.
    pub group_domains: Vec<Option<DomainColumn>>,
}

/// Parses one SQL statement and refuses anything that is not a single query.
pub fn parse_single_query(sql: &str) -> Result<Statement, Refusal> {
    let mut statements = DFParser::parse_sql_with_dialect(sql, &GenericDialect {})
        .map_err(|e| Refusal::new(code::SYNTAX_ERROR, format!("the SQL does not parse: {e}")))?;
    if statements.len() != 1 {
        refuse!(
            code::MULTIPLE_STATEMENTS,
            "send exactly one SELECT statement (found {})",
            statements.len()
        );
    }
    let statement = statements
        .pop_front()
        .unwrap_or_else(|| unreachable!("one statement"));
    match &statement {
        Statement::Statement(s) if matches!(s.as_ref(), ast::Statement::Query(_)) => Ok(statement),
        _ => refuse!(
            code::NOT_A_QUERY,
            "only SELECT queries are accepted (no DDL, DML, COPY, EXPLAIN, SET or SHOW)"
        ),
    }
}

/// Analyzes a resolved plan.
pub fn analyze(plan: &LogicalPlan, dims: &[Dimension]) -> Result<Analyzed, Refusal> {
    let aggregate = find_release(plan)?;
    let rows = rows::check_rows(&aggregate.input, dims)?;
    agrees_with_taint(&aggregate.input, &rows.origins)?;
    if !rows.scans_events {
        refuse!(
            code::NO_EVENTS_TABLE,
            "the query does not aggregate the `events` table"
        );
    }
    let schema = aggregate.input.schema();
    let mut group_domains = Vec::new();
    for g in &aggregate.group_expr {
        check_row_expr(g, schema, &rows.origins, "GROUP BY")?;
        check_no_aggregate(g, "GROUP BY")?;
        let origin = match g {
            datafusion::logical_expr::Expr::Column(c) => {
                exprs::origin_of(c, schema, &rows.origins)?
            }
            _ => Origin::Public,
        };
        group_domains.push(if let Origin::Domain(d) = origin {
            Some(d)
        } else {
            None
        });
    }
    let out = aggregate.schema.clone();
    let group_count = aggregate.group_expr.len();
    let measures = aggregate
        .aggr_expr
        .iter()
        .enumerate()
        .map(|(i, e)| {
            measures::classify(e, out.field(group_count + i).name(), schema, &rows.origins)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Analyzed {
        plan: plan.clone(),
        aggregate: aggregate.clone(),
        measures,
        time: rows.time,
        group_domains,
    })
}

/// The guard's origins of the columns that reach the release must mark exactly the columns
/// that the one taint analysis ([`crate::taint`]) finds derived from `person` / `event_id`.
/// The row checks admit only plain pass-throughs of those two columns, so for an accepted
/// query the two agree; if they ever did not, a person-derived value would be about to be
/// treated as public, and the query is refused instead.
fn agrees_with_taint(input: &LogicalPlan, origins: &[Origin]) -> Result<(), Refusal> {
    let tainted = crate::taint::tainted(input);
    let schema = input.schema();
    for (i, t) in tainted.iter().enumerate() {
        let guarded = origins.get(i).is_some_and(|o| o.is_tainted());
        if *t != guarded {
            refuse!(
                code::PERSON_COLUMN,
                "`{}` is derived from `person` or `event_id` in a way the guard cannot follow",
                schema.field(i).name()
            );
        }
    }
    Ok(())
}

/// The prefix of every name the engine gives its own columns and tables.
pub const RESERVED_PREFIX: &str = "__ft_";

/// Refuses names the engine keeps for itself (`__ft_…`), wherever the query would define
/// one.
pub fn check_reserved_names(plan: &LogicalPlan) -> Result<(), Refusal> {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let mut found = Ok(());
    let _ = plan.apply(|node| {
        if let Some(f) = node
            .schema()
            .fields()
            .iter()
            .find(|f| f.name().starts_with(RESERVED_PREFIX))
        {
            found = Err(Refusal::new(
                code::RESERVED_NAME,
                format!(
                    "`{}`: names starting with `{RESERVED_PREFIX}` are reserved for the engine",
                    f.name()
                ),
            ));
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// The same plan with each aggregate's repeated group keys (`GROUP BY 1, 2` over the same
/// expression) kept once: DataFusion's aggregate schema already holds them once.
pub fn dedupe_group_keys(plan: LogicalPlan) -> Result<LogicalPlan, Refusal> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    plan.transform_up(|node| match node {
        LogicalPlan::Aggregate(a) if has_repeats(&a.group_expr) => {
            let mut keys: Vec<datafusion::logical_expr::Expr> = Vec::new();
            for g in a.group_expr {
                if !keys.contains(&g) {
                    keys.push(g);
                }
            }
            Aggregate::try_new(a.input, keys, a.aggr_expr)
                .map(|a| Transformed::yes(LogicalPlan::Aggregate(a)))
        }
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .map_err(|e| Refusal::new(code::PLAN_ERROR, e.to_string()))
}

fn has_repeats(keys: &[datafusion::logical_expr::Expr]) -> bool {
    keys.iter().enumerate().any(|(i, k)| keys[..i].contains(k))
}

/// Walks the post-processing part of the plan down to the released aggregate.
fn find_release(plan: &LogicalPlan) -> Result<&Aggregate, Refusal> {
    let post = "the part of the query applied after aggregation";
    for e in plan.expressions() {
        check_shape(&e, post)?;
    }
    match plan {
        LogicalPlan::Aggregate(a) => Ok(a),
        LogicalPlan::Projection(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::SubqueryAlias(_) => match plan.inputs().as_slice() {
            [input] => find_release(input),
            _ => refuse!(code::UNSUPPORTED_PLAN, "unexpected plan shape"),
        },
        LogicalPlan::Window(_) => {
            refuse!(code::WINDOW_FUNCTION, "window functions are not supported")
        }
        LogicalPlan::Distinct(d) if matches!(d.input().as_ref(), LogicalPlan::Union(_)) => refuse!(
            code::SET_OPERATION,
            "UNION, INTERSECT and EXCEPT are not supported"
        ),
        LogicalPlan::Distinct(_) => refuse!(
            code::DISTINCT_ROWS,
            "SELECT DISTINCT lists values that may describe single persons; use GROUP BY with COUNT(*) or COUNT(DISTINCT person)"
        ),
        LogicalPlan::Union(_) => refuse!(
            code::SET_OPERATION,
            "UNION, INTERSECT and EXCEPT are not supported"
        ),
        LogicalPlan::TableScan(_) | LogicalPlan::Join(_) | LogicalPlan::Unnest(_) => refuse!(
            code::RAW_ROWS,
            "the query returns rows of events; only aggregates (COUNT, SUM, AVG, quantiles with GROUP BY) are released"
        ),
        LogicalPlan::EmptyRelation(_) | LogicalPlan::Values(_) => refuse!(
            code::NO_EVENTS_TABLE,
            "the query does not aggregate the `events` table"
        ),
        LogicalPlan::Dml(_)
        | LogicalPlan::Ddl(_)
        | LogicalPlan::Copy(_)
        | LogicalPlan::Explain(_)
        | LogicalPlan::Analyze(_)
        | LogicalPlan::Statement(_)
        | LogicalPlan::DescribeTable(_) => {
            refuse!(code::NOT_A_QUERY, "only SELECT queries are accepted")
        }
        other => refuse!(
            code::UNSUPPORTED_PLAN,
            "this kind of query ({}) is not supported",
            rows::node_name(other)
        ),
    }
}
