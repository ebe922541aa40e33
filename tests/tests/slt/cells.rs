//! How a released value is written in a `.slt` file, and when an actual row matches an
//! expected one.

use serde_json::Value;
use sqllogictest::{DefaultColumnType, Normalizer};

/// A number as the files write it: integers without a fraction, other values to 6 decimals
/// with trailing zeros dropped.
pub fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let s = format!("{x:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A JSON cell of an answer, and its column type.
pub fn json(v: &Value) -> (String, DefaultColumnType) {
    match v {
        Value::Null => ("NULL".into(), DefaultColumnType::Any),
        Value::String(s) if s.is_empty() => ("(empty)".into(), DefaultColumnType::Text),
        Value::String(s) => (s.clone(), DefaultColumnType::Text),
        Value::Bool(b) => (b.to_string(), DefaultColumnType::Text),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => (i.to_string(), DefaultColumnType::Integer),
            (None, Some(x)) => (number(x), DefaultColumnType::FloatingPoint),
            _ => (n.to_string(), DefaultColumnType::Any),
        },
        other => (other.to_string(), DefaultColumnType::Any),
    }
}

/// Rows match when they have the same words, and numbers agree to a relative 1e-5: a person's
/// contributions are scaled by a float sum whose order varies between runs, which moves a sum
/// by a fixed-point step (~1e-6 of its bound); nothing a release decides is that small.
pub fn close_enough(_: Normalizer, actual: &[Vec<String>], expected: &[String]) -> bool {
    let actual: Vec<String> = actual.iter().map(|row| row.join(" ")).collect();
    actual.len() == expected.len() && actual.iter().zip(expected).all(|(a, e)| same_words(a, e))
}

fn same_words(a: &str, e: &str) -> bool {
    let (a, e): (Vec<&str>, Vec<&str>) = (
        a.split_whitespace().collect(),
        e.split_whitespace().collect(),
    );
    a.len() == e.len() && a.iter().zip(&e).all(|(x, y)| same_word(x, y))
}

fn same_word(x: &str, y: &str) -> bool {
    match (x.parse::<f64>(), y.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-5 * x.abs().max(y.abs()).max(0.1),
        _ => x == y,
    }
}
