//! Output expressions that are exact affine functions of one column (`col × k + c`), so that a
//! released value's interval can be carried through unit conversions like `SUM(secs) / 3600`.

use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, Operator};

/// `Some((column, factor, offset))` when `expr` equals `factor × column + offset` exactly:
/// columns, numeric literals, `+`, `-`, `*`, negation, casts to floating point, and division
/// by a non-zero literal computed in floating point (integer division truncates: not affine).
pub fn of(expr: &Expr, schema: &DFSchema) -> Option<(Column, f64, f64)> {
    match expr {
        Expr::Column(c) => Some((c.clone(), 1.0, 0.0)),
        Expr::Alias(a) => of(&a.expr, schema),
        Expr::Cast(c) if c.field.data_type().is_floating() => of(&c.expr, schema),
        Expr::TryCast(c) if c.field.data_type().is_floating() => of(&c.expr, schema),
        Expr::Negative(e) => of(e, schema).map(|(c, f, o)| (c, -f, -o)),
        Expr::BinaryExpr(b) => binary(b, schema),
        _ => None,
    }
}

fn binary(b: &BinaryExpr, schema: &DFSchema) -> Option<(Column, f64, f64)> {
    let floating = || {
        Expr::BinaryExpr(b.clone())
            .get_type(schema)
            .is_ok_and(|t| t.is_floating())
    };
    match (literal(&b.left), literal(&b.right)) {
        (None, Some(k)) => {
            let (c, f, o) = of(&b.left, schema)?;
            match b.op {
                Operator::Multiply => Some((c, f * k, o * k)),
                Operator::Divide if k != 0.0 && floating() => Some((c, f / k, o / k)),
                Operator::Plus => Some((c, f, o + k)),
                Operator::Minus => Some((c, f, o - k)),
                _ => None,
            }
        }
        (Some(k), None) => {
            let (c, f, o) = of(&b.right, schema)?;
            match b.op {
                Operator::Multiply => Some((c, k * f, k * o)),
                Operator::Plus => Some((c, f, k + o)),
                Operator::Minus => Some((c, -f, k - o)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A finite numeric literal as `f64`.
fn literal(expr: &Expr) -> Option<f64> {
    let Expr::Literal(v, _) = expr else {
        return None;
    };
    match v.cast_to(&datafusion::arrow::datatypes::DataType::Float64) {
        Ok(ScalarValue::Float64(Some(x))) if x.is_finite() => Some(x),
        _ => None,
    }
}
