//! The Flight SQL service: statements (plain and prepared) through the DP engine, catalog
//! browsing, and refusals of everything that would write.
//!
//! Statement flow: `GetFlightInfo(CommandStatementQuery | CommandPreparedStatementQuery)`
//! runs the statement through [`Engine::run`] (guard → ledger charge, fsynced → noise) and
//! files the released batches under a fresh ticket bound to the caller's token; `DoGet`
//! hands them over once. A statement is charged exactly once per `GetFlightInfo`; a ticket
//! can never run anything.

use std::pin::Pin;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementIngest, CommandStatementQuery,
    CommandStatementSubstraitPlan, CommandStatementUpdate, DoPutPreparedStatementResult,
    ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{Action, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, Ticket};
use arrow_schema::{Schema, SchemaRef};
use fingertip_query::Engine;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use crate::arrow_answer::{answer_batches, answer_schema};
use crate::auth::principal;
use crate::held::{Held, PREPARED_TTL, RESULT_TTL};
use crate::status::{internal, query_status};
use crate::{catalog, params};

type DoGetStream = Pin<Box<dyn Stream<Item = Result<FlightData, Status>> + Send + 'static>>;

/// A released answer waiting for its `DoGet`.
struct Released {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

/// The Flight SQL service over one engine.
pub struct FlightSql {
    engine: Arc<Engine>,
    default_epsilon: f64,
    results: Held<Arc<Released>>,
    prepared: Held<Arc<str>>,
    slots: Semaphore,
}

impl FlightSql {
    /// `default_epsilon` is the ε of statements without an `x-fingertip-epsilon` header; at
    /// most `max_statements` statements run at once (others wait).
    pub fn new(engine: Arc<Engine>, default_epsilon: f64, max_statements: usize) -> Self {
        Self {
            engine,
            default_epsilon,
            results: Held::new(RESULT_TTL),
            prepared: Held::new(PREPARED_TTL),
            slots: Semaphore::new(max_statements.max(1)),
        }
    }

    /// Runs `sql` for the caller (charging the ledger once) and files the released batches.
    async fn execute(
        &self,
        sql: &str,
        request: &Request<FlightDescriptor>,
    ) -> Result<FlightInfo, Status> {
        let caller = principal(request)?;
        let query =
            params::query_request(sql.to_string(), request.metadata(), self.default_epsilon)?;
        if !self.results.has_room() {
            return Err(Status::resource_exhausted(
                "too_many_results: too many answers wait for their DoGet; fetch them or retry later",
            ));
        }
        let _slot = self.slots.acquire().await.map_err(internal)?;
        let answer = self
            .engine
            .run(&caller.token_id, &query)
            .await
            .map_err(|e| query_status(&e))?;
        tracing::info!(epsilon = query.epsilon, "Released a Flight SQL statement.");
        let released = Released {
            schema: answer_schema(&answer),
            batches: answer_batches(&answer).map_err(internal)?,
        };
        let info = FlightInfo::new()
            .try_with_schema(&released.schema)
            .map_err(internal)?
            .with_descriptor(request.get_ref().clone())
            .with_total_records(answer.rows.len() as i64)
            .with_ordered(true);
        let handle = self
            .results
            .insert(&caller.token_id, Arc::new(released))
            .map_err(internal)?;
        let ticket = TicketStatementQuery {
            statement_handle: handle.into_bytes().into(),
        };
        let ticket = Ticket::new(ticket.as_any().encode_to_vec());
        Ok(info.with_endpoint(FlightEndpoint::new().with_ticket(ticket)))
    }
}

/// `FlightInfo` of a catalog command: its ticket is the command itself.
fn command_info(
    command: impl ProstMessageExt,
    schema: &Schema,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let ticket = Ticket::new(command.as_any().encode_to_vec());
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(internal)?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

fn stream(schema: SchemaRef, batches: Vec<RecordBatch>) -> Response<DoGetStream> {
    let batches = futures::stream::iter(batches.into_iter().map(Ok));
    let data = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(batches)
        .map_err(internal);
    Response::new(data.boxed())
}

fn one(batch: RecordBatch) -> Response<DoGetStream> {
    stream(batch.schema(), vec![batch])
}

fn read_only() -> Status {
    Status::permission_denied(
        "read_only: Fingertip answers DP queries only; events arrive through POST /v1/events",
    )
}

fn handle_text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

#[tonic::async_trait]
impl FlightSqlService for FlightSql {
    type FlightService = FlightSql;

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.execute(&query.query, &request)
            .await
            .map(Response::new)
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let caller = principal(&request)?;
        let handle = handle_text(&cmd.prepared_statement_handle);
        let sql = self.prepared.get(handle, &caller.token_id).ok_or_else(|| {
            Status::not_found("unknown_statement: no such prepared statement for this token")
        })?;
        self.execute(&sql, &request).await.map(Response::new)
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let caller = principal(&request)?;
        let handle = handle_text(&ticket.statement_handle);
        let released = self.results.take(handle, &caller.token_id).ok_or_else(|| {
            Status::not_found(
                "unknown_ticket: this answer was fetched already, has expired, or belongs to another token",
            )
        })?;
        Ok(stream(released.schema.clone(), released.batches.clone()))
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let caller = principal(&request)?;
        let checked = params::query_request(query.query, request.metadata(), self.default_epsilon)?;
        // The guard runs now, so a refused statement is refused at prepare; nothing is charged.
        self.engine
            .check(&checked)
            .await
            .map_err(|e| query_status(&e))?;
        let handle = self
            .prepared
            .insert(&caller.token_id, Arc::from(checked.sql))
            .map_err(internal)?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.into_bytes().into(),
            ..Default::default()
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        let caller = principal(&request)?;
        let handle = handle_text(&query.prepared_statement_handle);
        self.prepared.remove(handle, &caller.token_id);
        Ok(())
    }

    async fn do_put_prepared_statement_query(
        &self,
        _query: CommandPreparedStatementQuery,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        Err(Status::invalid_argument(
            "unsupported_expression: statements take no parameters; write the values into the SQL",
        ))
    }

    async fn do_put_statement_update(
        &self,
        _ticket: CommandStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only())
    }

    async fn do_put_statement_ingest(
        &self,
        _ticket: CommandStatementIngest,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only())
    }

    async fn do_put_prepared_statement_update(
        &self,
        _query: CommandPreparedStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only())
    }

    async fn do_put_substrait_plan(
        &self,
        _query: CommandStatementSubstraitPlan,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(catalog::sql_info()).schema();
        command_info(query, &schema, request.into_inner())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        let batch = query.into_builder(catalog::sql_info()).build();
        Ok(one(batch.map_err(internal)?))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        command_info(query, &schema, request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(one(catalog::catalogs(&self.engine, query).await?))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        command_info(query, &schema, request.into_inner())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(one(catalog::db_schemas(&self.engine, query).await?))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        command_info(query, &schema, request.into_inner())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(one(catalog::tables_batch(&self.engine, query).await?))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        command_info(query, &schema, request.into_inner())
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<<Self as FlightService>::DoGetStream>, Status> {
        Ok(one(catalog::table_types(query)?))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}
