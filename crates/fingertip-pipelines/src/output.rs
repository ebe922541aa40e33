//! Writing a run: `indices.parquet`, `indices.csv`, `indices.json`, `report.html`, and the
//! published copy the server serves at `GET /v1/indices`.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use fingertip_model::DataDir;

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;
use serde_json::json;

use crate::{IndexRow, PipelineError, RunSummary};

fn io(path: &Path) -> impl Fn(std::io::Error) -> PipelineError + '_ {
    move |e| PipelineError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `bytes` to `path` atomically (tmp + fsync + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PipelineError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = path.with_extension("tmp");
    let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

pub fn csv(rows: &[IndexRow]) -> String {
    let num = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
    let field = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out =
        String::from("index,week,app_id,org_unit,value,ci_low,ci_high,epsilon,suppressed,clause\n");
    for r in rows {
        out += &format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            field(&r.index),
            field(&r.week),
            field(&r.app_id),
            field(&r.org_unit),
            num(r.value),
            num(r.ci_low),
            num(r.ci_high),
            r.epsilon,
            r.suppressed,
            field(&r.clause)
        );
    }
    out
}

pub fn parquet(rows: &[IndexRow]) -> Result<Vec<u8>, PipelineError> {
    let text = |f: fn(&IndexRow) -> &str| {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f))) as ArrayRef
    };
    let num = |f: fn(&IndexRow) -> Option<f64>| {
        Arc::new(Float64Array::from_iter(rows.iter().map(f))) as ArrayRef
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("index", DataType::Utf8, false),
        Field::new("week", DataType::Utf8, false),
        Field::new("app_id", DataType::Utf8, false),
        Field::new("org_unit", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
        Field::new("ci_low", DataType::Float64, true),
        Field::new("ci_high", DataType::Float64, true),
        Field::new("epsilon", DataType::Float64, false),
        Field::new("suppressed", DataType::Boolean, false),
        Field::new("clause", DataType::Utf8, false),
    ]));
    let columns = vec![
        text(|r| &r.index),
        text(|r| &r.week),
        text(|r| &r.app_id),
        text(|r| &r.org_unit),
        num(|r| r.value),
        num(|r| r.ci_low),
        num(|r| r.ci_high),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| r.epsilon),
        )) as ArrayRef,
        Arc::new(BooleanArray::from_iter(
            rows.iter().map(|r| Some(r.suppressed)),
        )) as ArrayRef,
        text(|r| &r.clause),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, schema, None)?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(buf)
}

pub fn json_doc(rows: &[IndexRow], summary: &RunSummary) -> serde_json::Value {
    json!({ "run": summary, "rows": rows })
}

/// Writes every output of a run into `out` and publishes the JSON into `<data>/published/`.
pub fn write_all(
    out: &Path,
    data_dir: &Path,
    rows: &[IndexRow],
    summary: &RunSummary,
    report_html: &str,
) -> Result<(), PipelineError> {
    let doc =
        serde_json::to_vec_pretty(&json_doc(rows, summary)).map_err(|e| PipelineError::Io {
            path: out.into(),
            message: e.to_string(),
        })?;
    write_atomic(&out.join("indices.parquet"), &parquet(rows)?)?;
    write_atomic(&out.join("indices.csv"), csv(rows).as_bytes())?;
    write_atomic(&out.join("indices.json"), &doc)?;
    write_atomic(&out.join("report.html"), report_html.as_bytes())?;
    write_atomic(&DataDir::new(data_dir).published_indices(), &doc)
}
