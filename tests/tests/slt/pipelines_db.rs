//! The shipped pipelines as a sqllogictest database: `RUN PIPELINES` runs them with the
//! test-only no-noise strategy over a fixed simulated population (400 staff, two weeks) and
//! puts the released rows in the table `indices`; queries are plain DataFusion SQL over those
//! released rows (the harness reading its own output; nothing here reaches the lake).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use fingertip_dp::Noise;
use fingertip_pipelines::IndexRow;
use fingertip_tests::pipelines::{WEEKS, run, runner, simulate};
use sqllogictest::{DB, DBOutput, DefaultColumnType};

use crate::cells;
use crate::query_db::SltError;

const WORKERS: u32 = 400;
const SEED: u64 = 45;

pub struct PipelinesDb {
    ctx: SessionContext,
    runtime: tokio::runtime::Runtime,
}

impl PipelinesDb {
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Self {
            ctx: SessionContext::new(),
            runtime,
        }
    }

    fn run_pipelines(&mut self) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let tmp = tempfile::tempdir().map_err(|e| SltError(e.to_string()))?;
        let data = tmp.path().join("data");
        let sim = simulate(&data, WORKERS, WEEKS.len() as u32, SEED);
        let runner = runner(&data, sim.domain(), 1e6).with_noise(Noise::NoNoise);
        let (rows, _) = run(&runner, &tmp.path().join("out"), &WEEKS, None)
            .map_err(|e| SltError(format!("pipeline run: {e}")))?;
        let n = rows.len() as u64;
        let batch = indices_batch(&rows).map_err(|e| SltError(e.to_string()))?;
        self.ctx
            .register_batch("indices", batch)
            .map_err(|e| SltError(e.to_string()))?;
        Ok(DBOutput::StatementComplete(n))
    }

    fn query(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let err = |e: datafusion::error::DataFusionError| SltError(e.to_string());
        let batches = self
            .runtime
            .block_on(async { self.ctx.sql(sql).await?.collect().await })
            .map_err(err)?;
        let Some(first) = batches.first() else {
            return Ok(DBOutput::Rows {
                types: vec![],
                rows: vec![],
            });
        };
        let types = first
            .schema()
            .fields()
            .iter()
            .map(|f| column_type(f.data_type()))
            .collect();
        let mut rows = Vec::new();
        for batch in &batches {
            for r in 0..batch.num_rows() {
                let row = batch
                    .columns()
                    .iter()
                    .map(|c| cell(c, r))
                    .collect::<Result<_, _>>();
                rows.push(row.map_err(|e| SltError(e.to_string()))?);
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }
}

impl DB for PipelinesDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        match sql.trim() {
            "RUN PIPELINES" => self.run_pipelines(),
            sql => self.query(sql),
        }
    }
}

/// The released rows as one batch: index, week, app_id, org_unit, value, ci_low, ci_high,
/// epsilon, suppressed.
fn indices_batch(rows: &[IndexRow]) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    let text = |f: fn(&IndexRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let num = |f: fn(&IndexRow) -> Option<f64>| -> ArrayRef {
        Arc::new(rows.iter().map(f).collect::<Float64Array>())
    };
    RecordBatch::try_from_iter([
        ("index", text(|r| &r.index)),
        ("week", text(|r| &r.week)),
        ("app_id", text(|r| &r.app_id)),
        ("org_unit", text(|r| &r.org_unit)),
        ("value", num(|r| r.value)),
        ("ci_low", num(|r| r.ci_low)),
        ("ci_high", num(|r| r.ci_high)),
        ("epsilon", num(|r| Some(r.epsilon))),
        (
            "suppressed",
            Arc::new(
                rows.iter()
                    .map(|r| Some(r.suppressed))
                    .collect::<BooleanArray>(),
            ) as ArrayRef,
        ),
    ])
}

fn column_type(t: &DataType) -> DefaultColumnType {
    match t {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            DefaultColumnType::FloatingPoint
        }
        t if t.is_integer() => DefaultColumnType::Integer,
        _ => DefaultColumnType::Text,
    }
}

fn cell(column: &ArrayRef, row: usize) -> Result<String, datafusion::arrow::error::ArrowError> {
    if column.is_null(row) {
        return Ok("NULL".into());
    }
    if let Some(f) = column.as_any().downcast_ref::<Float64Array>() {
        return Ok(cells::number(f.value(row)));
    }
    let text = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())?
        .value(row)
        .to_string();
    Ok(if text.is_empty() {
        "(empty)".into()
    } else {
        text
    })
}
