//! What a SQL client may browse: server facts (`GetSqlInfo`), and the catalog, schema and
//! tables a query can read (`GetCatalogs`, `GetDbSchemas`, `GetTables` with their Arrow
//! schemas, `GetTableTypes`), named as the engine names them, so a name a client shows is a
//! name a query can use. Names and schemas only: no call here reads a row.

use std::sync::OnceLock;

use arrow_array::RecordBatch;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::{
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetTableTypes, CommandGetTables, SqlInfo,
    SqlSupportedTransaction,
};
use fingertip_query::{Engine, TableInfo};
use tonic::Status;

use crate::status::{internal, query_status};

/// The one table type.
pub const TABLE: &str = "TABLE";

/// Server facts for `GetSqlInfo`.
pub fn sql_info() -> &'static SqlInfoData {
    static INFO: OnceLock<SqlInfoData> = OnceLock::new();
    INFO.get_or_init(|| {
        let mut b = SqlInfoDataBuilder::new();
        b.append(SqlInfo::FlightSqlServerName, "Fingertip");
        b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        b.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
        b.append(SqlInfo::FlightSqlServerReadOnly, true);
        b.append(SqlInfo::FlightSqlServerSql, true);
        b.append(SqlInfo::FlightSqlServerSubstrait, false);
        b.append(
            SqlInfo::FlightSqlServerTransaction,
            SqlSupportedTransaction::None as i32,
        );
        b.append(SqlInfo::FlightSqlServerCancel, false);
        b.append(SqlInfo::FlightSqlServerBulkIngestion, false);
        b.append(SqlInfo::SqlDdlCatalog, false);
        b.append(SqlInfo::SqlDdlSchema, false);
        b.append(SqlInfo::SqlDdlTable, false);
        b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        b.append(SqlInfo::SqlAllTablesAreSelectable, false);
        b.append(SqlInfo::SqlTransactionsSupported, false);
        // Unwrap safety: a fixed list of well-typed values.
        b.build().expect("static SqlInfo data")
    })
}

async fn tables(engine: &Engine) -> Result<Vec<TableInfo>, Status> {
    engine.tables().await.map_err(|e| query_status(&e))
}

pub async fn catalogs(engine: &Engine, query: CommandGetCatalogs) -> Result<RecordBatch, Status> {
    let mut builder = query.into_builder();
    let mut names: Vec<String> = tables(engine)
        .await?
        .into_iter()
        .map(|t| t.catalog)
        .collect();
    names.dedup();
    for name in names {
        builder.append(name);
    }
    builder.build().map_err(internal)
}

pub async fn db_schemas(
    engine: &Engine,
    query: CommandGetDbSchemas,
) -> Result<RecordBatch, Status> {
    let mut builder = query.into_builder();
    let mut names: Vec<(String, String)> = tables(engine)
        .await?
        .into_iter()
        .map(|t| (t.catalog, t.schema))
        .collect();
    names.dedup();
    for (catalog, schema) in names {
        builder.append(catalog, schema);
    }
    builder.build().map_err(internal)
}

pub async fn tables_batch(engine: &Engine, query: CommandGetTables) -> Result<RecordBatch, Status> {
    let mut builder = query.into_builder();
    for t in tables(engine).await? {
        builder
            .append(&t.catalog, &t.schema, &t.name, TABLE, &t.arrow_schema)
            .map_err(internal)?;
    }
    builder.build().map_err(internal)
}

pub fn table_types(query: CommandGetTableTypes) -> Result<RecordBatch, Status> {
    let mut builder = query.into_builder();
    builder.append(TABLE);
    builder.build().map_err(internal)
}
