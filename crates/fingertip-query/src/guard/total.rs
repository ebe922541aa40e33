//! Totality: no row can make an accepted query fail.
//!
//! A query that fails when some row matches a predicate is an exact, un-noised one-bit
//! answer about the data (`WHERE 1 / (CASE WHEN <predicate> THEN 0 ELSE 1 END) = 1`). So
//! before a query is checked and charged, every row-level expression of its (type-coerced)
//! plan is rewritten into one that cannot fail on any row:
//!
//! * nodes that cannot fail on any input are kept: columns, literals, aliases, `AND` / `OR` /
//!   `NOT`, `IS [NOT] NULL` and friends, comparisons / `IN` / `BETWEEN` of plain scalar types,
//!   and widening casts (integer to a wider number, anything dictionary-encoded to its values);
//! * a maximal subtree made of anything else that reads no column (and is not volatile) is
//!   evaluated once, now, into a literal — `NULL` if it fails;
//! * any other maximal subtree becomes one call of [`TotalUdf`], which evaluates the subtree on
//!   each batch and, if that fails or panics, bisects the batch down to single rows, giving
//!   `NULL` for exactly the rows on which the subtree fails.
//!
//! So the property is structural: after the rewrite, every node that can fail sits inside a
//! `TotalUdf`, whose result is defined (possibly `NULL`) on every row. No list of failing
//! functions is involved. What can still fail after charging is not a function of row values
//! a query chooses between; see `docs/privacy.md` ("What can still fail").

use std::any::Any;
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use datafusion::arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, new_null_array};
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, Result, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::execution::context::SessionState;
use datafusion::logical_expr::expr::{AggregateFunction, ScalarFunction};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::PhysicalExpr;

use super::functions::check_function;
use crate::refusal::{Refusal, code};

/// The name the rewritten subtrees are called by in plans.
pub const TOTAL_UDF: &str = "__ft_total";

/// Rewrites every expression of the released aggregate and the row plan below it (filters,
/// projections, joins; the plan must already be type-coerced) so that none can fail on any
/// row. What lies above the aggregate works on released (noisy) values and is left as
/// written. Refuses functions outside the allowlist, and subtrees that cannot be compiled,
/// before anything is charged.
pub fn make_total(plan: LogicalPlan, state: &SessionState) -> Result<LogicalPlan, Refusal> {
    let inputs = plan.inputs();
    if matches!(plan, LogicalPlan::Aggregate(_)) || inputs.len() != 1 {
        return total_subtree(plan, state);
    }
    let input = make_total(inputs[0].clone(), state)?;
    plan.with_new_exprs(plan.expressions(), vec![input])
        .map_err(|e| Refusal::new(code::PLAN_ERROR, first_line(&e)))
}

fn total_subtree(plan: LogicalPlan, state: &SessionState) -> Result<LogicalPlan, Refusal> {
    let mut refusal = None;
    let out = plan
        .transform_up(|node| {
            if refusal.is_some() {
                return Ok(Transformed::no(node));
            }
            match rewrite_node(node, state) {
                Ok(t) => Ok(t),
                Err(RewriteError::Refused(r)) => {
                    refusal = Some(r);
                    Ok(Transformed::new(
                        LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
                            produce_one_row: false,
                            schema: Arc::new(DFSchema::empty()),
                        }),
                        true,
                        TreeNodeRecursion::Stop,
                    ))
                }
                Err(RewriteError::Engine(e)) => Err(e),
            }
        })
        .map_err(|e| Refusal::new(code::PLAN_ERROR, first_line(&e)))?;
    match refusal {
        Some(r) => Err(r),
        None => Ok(out.data),
    }
}

enum RewriteError {
    Refused(Refusal),
    Engine(DataFusionError),
}

impl From<DataFusionError> for RewriteError {
    fn from(e: DataFusionError) -> Self {
        Self::Engine(e)
    }
}

impl From<datafusion::arrow::error::ArrowError> for RewriteError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Self::Engine(e.into())
    }
}

impl From<Refusal> for RewriteError {
    fn from(r: Refusal) -> Self {
        Self::Refused(r)
    }
}

fn rewrite_node(
    node: LogicalPlan,
    state: &SessionState,
) -> Result<Transformed<LogicalPlan>, RewriteError> {
    if !matches!(
        node,
        LogicalPlan::Filter(_)
            | LogicalPlan::Projection(_)
            | LogicalPlan::Aggregate(_)
            | LogicalPlan::Join(_)
    ) {
        return Ok(Transformed::no(node));
    }
    let inputs: Vec<&LogicalPlan> = node.inputs();
    let schema = match inputs.as_slice() {
        [one] => one.schema().as_ref().clone(),
        [l, r] => l.schema().join(r.schema())?,
        _ => return Ok(Transformed::no(node)),
    };
    let preserver = NamePreserver::new(&node);
    let mut exprs = Vec::new();
    for e in node.expressions() {
        let saved = preserver.save(&e);
        let total = total_expr(e, &schema, state)?;
        exprs.push(saved.restore(total));
    }
    let inputs = node.inputs().into_iter().cloned().collect();
    Ok(Transformed::yes(node.with_new_exprs(exprs, inputs)?))
}

/// The total form of one expression of a plan node whose input schema is `schema`.
fn total_expr(e: Expr, schema: &DFSchema, state: &SessionState) -> Result<Expr, RewriteError> {
    match e {
        Expr::Alias(mut a) => {
            *a.expr = total_expr(*a.expr, schema, state)?;
            Ok(Expr::Alias(a))
        }
        Expr::AggregateFunction(af) => total_aggregate(af, schema, state),
        other => total_row_expr(other, schema, state),
    }
}

/// An aggregate stays; its arguments, filter and ordering become total.
fn total_aggregate(
    mut af: AggregateFunction,
    schema: &DFSchema,
    state: &SessionState,
) -> Result<Expr, RewriteError> {
    let p = &mut af.params;
    p.args = std::mem::take(&mut p.args)
        .into_iter()
        .map(|a| total_row_expr(a, schema, state))
        .collect::<Result<_, _>>()?;
    if let Some(f) = p.filter.take() {
        p.filter = Some(Box::new(total_row_expr(*f, schema, state)?));
    }
    for s in &mut p.order_by {
        s.expr = total_row_expr(s.expr.clone(), schema, state)?;
    }
    Ok(Expr::AggregateFunction(af))
}

/// Rewrites a row expression top-down: exempt nodes are kept and their children visited; the
/// first non-exempt node on each path is folded (no columns) or wrapped in [`TotalUdf`].
fn total_row_expr(e: Expr, schema: &DFSchema, state: &SessionState) -> Result<Expr, RewriteError> {
    if super::exprs::check_shape(&e, "").is_err() {
        // Left as it is, for the guard to refuse with its own code.
        return Ok(e);
    }
    check_functions(&e)?;
    let mut failed: Option<RewriteError> = None;
    let out = e.transform_down(|node| {
        if failed.is_some() {
            return Ok(Transformed::new(node, false, TreeNodeRecursion::Jump));
        }
        if cannot_fail(&node, schema) {
            return Ok(Transformed::no(node));
        }
        let replaced = if node.column_refs().is_empty() && !node.is_volatile() {
            fold(&node, schema, state)
        } else {
            wrap(&node, schema, state)
        };
        match replaced {
            Ok(r) => Ok(Transformed::new(r, true, TreeNodeRecursion::Jump)),
            Err(err) => {
                failed = Some(err);
                Ok(Transformed::new(node, false, TreeNodeRecursion::Jump))
            }
        }
    })?;
    match failed {
        Some(err) => Err(err),
        None => Ok(out.data),
    }
}

fn check_functions(e: &Expr) -> Result<(), Refusal> {
    let mut found = Ok(());
    let _ = e.apply(|node| {
        if let Expr::ScalarFunction(f) = node
            && let Err(r) = check_function(f.func.name())
        {
            found = Err(r);
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Nodes that cannot fail on any row, whatever their (already total) children produce.
fn cannot_fail(e: &Expr, schema: &DFSchema) -> bool {
    let plain = |x: &Expr| x.get_type(schema).is_ok_and(|t| is_plain(&t));
    match e {
        Expr::Column(_)
        | Expr::Literal(..)
        | Expr::Alias(_)
        | Expr::Not(_)
        | Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsUnknown(_)
        | Expr::IsNotTrue(_)
        | Expr::IsNotFalse(_)
        | Expr::IsNotUnknown(_) => true,
        Expr::BinaryExpr(b) => match b.op {
            Operator::And | Operator::Or => true,
            Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom => plain(&b.left) && plain(&b.right),
            _ => false,
        },
        Expr::InList(l) => plain(&l.expr) && l.list.iter().all(plain),
        Expr::Between(b) => plain(&b.expr) && plain(&b.low) && plain(&b.high),
        Expr::Cast(c) => c
            .expr
            .get_type(schema)
            .is_ok_and(|from| widens(&from, c.field.data_type())),
        Expr::TryCast(c) => c
            .expr
            .get_type(schema)
            .is_ok_and(|from| widens(&from, c.field.data_type())),
        _ => false,
    }
}

/// Scalar types whose comparison kernels cannot fail.
fn is_plain(t: &DataType) -> bool {
    use DataType::*;
    match t {
        Dictionary(_, v) => is_plain(v),
        Null | Boolean | Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView
        | FixedSizeBinary(_) | Date32 | Date64 | Timestamp(..) => true,
        t => t.is_integer() || t.is_floating(),
    }
}

/// Casts that succeed on every value.
fn widens(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    if from == to {
        return true;
    }
    match (from, to) {
        (Dictionary(_, v), to) => widens(v, to),
        (Null, _) => true,
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => true,
        (f, Float64) => f.is_integer() || f.is_floating(),
        (Int8, Int16 | Int32 | Int64) | (Int16, Int32 | Int64) | (Int32, Int64) => true,
        (UInt8, UInt16 | UInt32 | UInt64 | Int16 | Int32 | Int64) => true,
        (UInt16, UInt32 | UInt64 | Int32 | Int64) | (UInt32, UInt64 | Int64) => true,
        _ => false,
    }
}

/// Evaluates a column-free subtree now: its value, or a typed `NULL` if it fails.
fn fold(node: &Expr, schema: &DFSchema, state: &SessionState) -> Result<Expr, RewriteError> {
    let data_type = node.get_type(schema)?;
    let empty = DFSchema::empty();
    let physical = state
        .create_physical_expr(node.clone(), &empty)
        .map_err(|e| not_supported(&e))?;
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    let value = evaluate(physical.as_ref(), &batch, &data_type)
        .and_then(|a| ScalarValue::try_from_array(&a, 0).ok())
        .map_or_else(|| ScalarValue::try_from(&data_type), Ok)?;
    Ok(Expr::Literal(value, None))
}

/// Wraps a subtree that reads columns in one [`TotalUdf`] call over those columns.
fn wrap(node: &Expr, schema: &DFSchema, state: &SessionState) -> Result<Expr, RewriteError> {
    let data_type = node.get_type(schema)?;
    let mut columns: Vec<Column> = node.column_refs().into_iter().cloned().collect();
    columns.sort();
    let mut fields = Vec::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        let t = Expr::Column(c.clone()).get_type(schema)?;
        fields.push(Field::new(format!("__ft_arg{i}"), t, true));
    }
    let local = Arc::new(Schema::new(fields));
    let template = node.clone().transform(|n| match n {
        Expr::Column(c) => {
            let i = columns.iter().position(|x| *x == c).unwrap_or(0);
            Ok(Transformed::yes(Expr::Column(Column::from_name(format!(
                "__ft_arg{i}"
            )))))
        }
        other => Ok(Transformed::no(other)),
    })?;
    let local_df = DFSchema::try_from(local.as_ref().clone())?;
    let physical = state
        .create_physical_expr(template.data, &local_df)
        .map_err(|e| not_supported(&e))?;
    let volatility = if node.is_volatile() {
        Volatility::Volatile
    } else {
        Volatility::Immutable
    };
    let udf = TotalUdf::new(physical, local, data_type, volatility, node.clone());
    let args = columns.into_iter().map(Expr::Column).collect();
    Ok(Expr::ScalarFunction(ScalarFunction::new_udf(
        Arc::new(ScalarUDF::new_from_impl(udf)),
        args,
    )))
}

fn not_supported(e: &DataFusionError) -> RewriteError {
    RewriteError::Refused(Refusal::new(
        code::UNSUPPORTED_EXPRESSION,
        format!(
            "an expression of the query cannot be evaluated safely: {}",
            first_line(e)
        ),
    ))
}

fn first_line(e: &DataFusionError) -> String {
    e.to_string().lines().next().unwrap_or("").to_string()
}

/// A subtree evaluated so that it is defined on every row: `NULL` where it fails.
#[derive(Debug)]
pub struct TotalUdf {
    id: u64,
    template: Arc<dyn PhysicalExpr>,
    schema: SchemaRef,
    return_type: DataType,
    signature: Signature,
    /// The subtree as the query wrote it (over the call's argument columns).
    original: Expr,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl TotalUdf {
    fn new(
        template: Arc<dyn PhysicalExpr>,
        schema: SchemaRef,
        return_type: DataType,
        volatility: Volatility,
        original: Expr,
    ) -> Self {
        let n = schema.fields().len();
        let signature = if n == 0 {
            Signature::nullary(volatility)
        } else {
            Signature::any(n, volatility)
        };
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            template,
            schema,
            return_type,
            signature,
            original,
        }
    }

    /// The subtree this call evaluates, as written (its value wherever it does not fail).
    pub fn original(&self) -> &Expr {
        &self.original
    }

    /// The wrapped subtree of `e`, when `e` is a call of this function.
    pub fn unwrap(e: &Expr) -> Option<&Expr> {
        match e {
            Expr::ScalarFunction(f) => {
                let any: &dyn Any = f.func.inner().as_ref();
                any.downcast_ref::<TotalUdf>().map(TotalUdf::original)
            }
            _ => None,
        }
    }
}

impl PartialEq for TotalUdf {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl Eq for TotalUdf {}

impl Hash for TotalUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl ScalarUDFImpl for TotalUdf {
    fn name(&self) -> &str {
        TOTAL_UDF
    }

    fn display_name(&self, _args: &[Expr]) -> Result<String> {
        Ok(format!("{TOTAL_UDF}({})", self.original))
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = args
            .args
            .into_iter()
            .map(|a| a.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        let out = total(self.template.as_ref(), &batch, &self.return_type)?;
        Ok(ColumnarValue::Array(out))
    }
}

/// Evaluates `template` on `batch`, bisecting around failures: rows on which it fails (or
/// panics) are `NULL`, every other row has its value.
pub(crate) fn total(
    template: &dyn PhysicalExpr,
    batch: &RecordBatch,
    data_type: &DataType,
) -> Result<ArrayRef> {
    if let Some(a) = evaluate(template, batch, data_type) {
        return Ok(a);
    }
    let rows = batch.num_rows();
    if rows <= 1 {
        return Ok(new_null_array(data_type, rows));
    }
    let mid = rows / 2;
    let left = total(template, &batch.slice(0, mid), data_type)?;
    let right = total(template, &batch.slice(mid, rows - mid), data_type)?;
    Ok(concat(&[left.as_ref(), right.as_ref()])?)
}

/// One evaluation; `None` if it fails, panics or returns something malformed.
fn evaluate(
    template: &dyn PhysicalExpr,
    batch: &RecordBatch,
    data_type: &DataType,
) -> Option<ArrayRef> {
    let rows = batch.num_rows();
    let result = catch_unwind(AssertUnwindSafe(|| {
        template.evaluate(batch).and_then(|v| v.into_array(rows))
    }));
    match result {
        Ok(Ok(a)) if a.len() == rows && a.data_type() == data_type => Some(a),
        _ => None,
    }
}
