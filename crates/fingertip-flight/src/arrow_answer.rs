//! A DP [`Answer`] as Arrow: the released rows with their SQL types, a `<col>_ci_low` and
//! `<col>_ci_high` Float64 column after each column that has a 95% interval (as in the CSV
//! output), and what the JSON answer says about the release as metadata, derived from the
//! same struct so the two never drift apart:
//!
//! * each released column's field: `fingertip.<key>` for every key of its JSON column entry
//!   (`kind`, `mechanism`, `epsilon`, `noise_scale`, `ci95_half_width`, `value_range`,
//!   `contribution_range`, `note`);
//! * each interval column's field: `fingertip.kind` = `ci_low` / `ci_high`,
//!   `fingertip.interval_of` = the column, `fingertip.confidence` = `0.95`;
//! * the schema: `fingertip.<key>` for every other top-level key of the JSON answer
//!   (`epsilon_spent`, `delta_spent`, `epochs`, `bounds`, `groups_released`,
//!   `groups_suppressed`, `min_persons`, `partition_threshold`, `budget`, `columns`).
//!
//! Strings are stored as they are, everything else as JSON text (`0.5`, `["2026Q4"]`).

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use fingertip_query::Answer;
use serde_json::Value;

const PREFIX: &str = "fingertip.";

/// The schema of [`answer_batches`], with the release's metadata.
pub fn answer_schema(answer: &Answer) -> SchemaRef {
    let mut fields = Vec::new();
    for (field, meta) in answer.schema.fields().iter().zip(&answer.columns) {
        let column = serde_json::to_value(meta).unwrap_or(Value::Null);
        fields.push(
            field
                .as_ref()
                .clone()
                .with_metadata(metadata(&column, &["name"])),
        );
        if meta.has_interval() {
            fields.push(interval_field(&meta.name, "ci_low"));
            fields.push(interval_field(&meta.name, "ci_high"));
        }
    }
    let whole = answer.to_json();
    Arc::new(Schema::new(fields).with_metadata(metadata(&whole, &["rows", "intervals"])))
}

/// The released rows, with their interval columns, as record batches of [`answer_schema`].
pub fn answer_batches(answer: &Answer) -> Result<Vec<RecordBatch>, ArrowError> {
    let schema = answer_schema(answer);
    let mut first_row = 0;
    let mut out = Vec::with_capacity(answer.batches.len());
    for batch in &answer.batches {
        let rows = first_row..first_row + batch.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (i, meta) in answer.columns.iter().enumerate() {
            columns.push(batch.column(i).clone());
            if meta.has_interval() {
                columns.push(bound(answer, rows.clone(), &meta.name, 0));
                columns.push(bound(answer, rows.clone(), &meta.name, 1));
            }
        }
        out.push(RecordBatch::try_new(schema.clone(), columns)?);
        first_row = rows.end;
    }
    Ok(out)
}

fn interval_field(column: &str, kind: &str) -> Field {
    let metadata = HashMap::from([
        (format!("{PREFIX}kind"), kind.to_string()),
        (format!("{PREFIX}interval_of"), column.to_string()),
        (format!("{PREFIX}confidence"), "0.95".to_string()),
    ]);
    Field::new(format!("{column}_{kind}"), DataType::Float64, true).with_metadata(metadata)
}

/// One end (0: low, 1: high) of `column`'s interval on each of `rows`.
fn bound(answer: &Answer, rows: std::ops::Range<usize>, column: &str, end: usize) -> ArrayRef {
    let values = rows.map(|r| {
        answer
            .intervals
            .get(r)
            .and_then(|ci| ci.get(column))
            .and_then(|pair| pair.get(end))
            .and_then(Value::as_f64)
    });
    Arc::new(values.collect::<Float64Array>())
}

/// `fingertip.<key>` for every key of a JSON object but `skip`.
fn metadata(object: &Value, skip: &[&str]) -> HashMap<String, String> {
    let Some(map) = object.as_object() else {
        return HashMap::new();
    };
    map.iter()
        .filter(|(k, _)| !skip.contains(&k.as_str()))
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (format!("{PREFIX}{k}"), text)
        })
        .collect()
}
