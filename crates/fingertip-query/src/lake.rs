//! The tables a query can read: the event lake as `events` (hive partitions `date` and
//! `app_id`), the public dimension tables, and nothing else.
//!
//! Dimension tables are public, person-free lookup tables with a unique key (their first
//! column): the built-in `event_catalog` (from the event catalog) and every
//! `<data>/dimensions/<name>.csv` (e.g. the org-unit hierarchy). Keys are checked to be unique
//! when loaded, because the guard relies on it: joining `events` to a dimension table on its
//! key can never multiply a person's rows.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::prelude::{CsvReadOptions, SessionContext};
use fingertip_model::{Catalog, DataDir};

use crate::limits::Limits;

/// The name of the event table.
pub const EVENTS: &str = "events";

/// A public dimension table: its name and key column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dimension {
    pub name: String,
    pub key: String,
}

/// The schema of `events` as queries see it: the stored columns, with `app_id` and `date`
/// coming from the partition path.
pub fn file_schema() -> SchemaRef {
    let stored = fingertip_model::event_schema();
    let fields: Vec<Field> = stored
        .fields()
        .iter()
        .filter(|f| f.name() != "app_id")
        .map(|f| f.as_ref().clone())
        .collect();
    Arc::new(Schema::new(fields))
}

/// A DataFusion session over the lake of `data_dir`, within `limits`.
pub async fn session(
    data_dir: &Path,
    limits: &Limits,
    catalog: &Catalog,
) -> Result<(SessionContext, Vec<Dimension>)> {
    session_named(data_dir, limits, catalog, EVENTS).await
}

/// Like [`session`], registering the lake under `events_name` (pipelines put a filtered view
/// named `events` over it).
pub async fn session_named(
    data_dir: &Path,
    limits: &Limits,
    catalog: &Catalog,
    events_name: &str,
) -> Result<(SessionContext, Vec<Dimension>)> {
    let ctx = SessionContext::new_with_config_rt(limits.session_config(), limits.runtime()?);
    let layout = DataDir::new(data_dir);
    register_events(&ctx, &layout.events(), events_name)?;
    let mut dims = vec![register_catalog(&ctx, catalog)?];
    dims.extend(register_dimension_dir(&ctx, &layout.dimensions()).await?);
    Ok((ctx, dims))
}

fn register_events(ctx: &SessionContext, dir: &Path, name: &str) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let url = ListingTableUrl::parse(format!("{}/", dir.canonicalize()?.display()))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(vec![
            ("date".into(), DataType::Utf8),
            ("app_id".into(), DataType::Utf8),
        ]);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(file_schema());
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// `event_catalog(event_type, category, max_duration_s)`, keyed by `event_type`.
fn register_catalog(ctx: &SessionContext, catalog: &Catalog) -> Result<Dimension> {
    let types: Vec<&String> = catalog.event_types.keys().collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("event_type", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("max_duration_s", DataType::Float64, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(types.iter())),
        Arc::new(StringArray::from_iter_values(
            catalog.event_types.values().map(|s| s.category.as_str()),
        )),
        Arc::new(Float64Array::from_iter_values(
            catalog.event_types.values().map(|s| s.max_duration_s),
        )),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    ctx.register_table(
        "event_catalog",
        Arc::new(MemTable::try_new(schema, vec![vec![batch]])?),
    )?;
    Ok(Dimension {
        name: "event_catalog".into(),
        key: "event_type".into(),
    })
}

async fn register_dimension_dir(ctx: &SessionContext, dir: &Path) -> Result<Vec<Dimension>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|_| path.extension().is_some_and(|e| e == "csv"))
        else {
            continue;
        };
        if fingertip_model::is_code(name, 64) && name != EVENTS && name != "event_catalog" {
            files.insert(name.to_ascii_lowercase().replace(['-', '.'], "_"), path);
        }
    }
    let mut dims = Vec::new();
    for (name, path) in files {
        dims.push(register_csv_dimension(ctx, &name, &path).await?);
    }
    Ok(dims)
}

async fn register_csv_dimension(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
) -> Result<Dimension> {
    let path_str = path
        .to_str()
        .ok_or_else(|| DataFusionError::Plan("dimension path is not UTF-8".into()))?;
    let df = ctx
        .read_csv(path_str, CsvReadOptions::new().has_header(true))
        .await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let key = schema.field(0).name().clone();
    let mut seen = HashSet::new();
    for batch in &batches {
        for row in 0..batch.num_rows() {
            let value = ScalarValue::try_from_array(batch.column(0), row)?;
            if !seen.insert(value.to_string()) {
                return Err(DataFusionError::Plan(format!(
                    "dimension table {} has a repeated key in column `{key}`; keys must be unique",
                    path.display()
                )));
            }
        }
    }
    ctx.register_table(name, Arc::new(MemTable::try_new(schema, vec![batches])?))?;
    Ok(Dimension {
        name: name.into(),
        key,
    })
}
