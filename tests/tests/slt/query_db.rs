//! The DP engine as a sqllogictest database: the golden fixture lake, the real guard, bounds
//! and ledger, and the test-only no-noise strategy.

use fingertip_dp::Ledger;
use fingertip_query::{BoundsRequest, Engine, QueryRequest};
use fingertip_tests::fixtures::{GOLDEN_ORG_UNITS, golden_population, query_engine, write_lake};
use sqllogictest::{DB, DBOutput, DefaultColumnType};
use tempfile::TempDir;

use crate::cells;

/// A failed statement: a refusal (`[code] message`) or a harness error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SltError(pub String);

pub struct QueryDb {
    engine: Engine,
    request: QueryRequest,
    runtime: tokio::runtime::Runtime,
    _dir: TempDir,
}

impl QueryDb {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        write_lake(dir.path(), &golden_population()).expect("fixture lake");
        let dims = fingertip_model::DataDir::new(dir.path());
        std::fs::create_dir_all(dims.dimensions()).expect("dimensions");
        std::fs::write(dims.org_units(), GOLDEN_ORG_UNITS).expect("org units");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let engine = runtime.block_on(async { query_engine(dir.path(), 1000.0).without_noise() });
        Self {
            engine,
            request: request("").expect("defaults"),
            runtime,
            _dir: dir,
        }
    }

    fn query(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let request = QueryRequest {
            sql: sql.to_string(),
            ..self.request.clone()
        };
        let before = spends(self.engine.ledger());
        let answer = self.runtime.block_on(self.engine.run("golden", &request));
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) if spends(self.engine.ledger()) != before => {
                return Err(SltError(format!(
                    "a refusal charged the ledger ({}): {e}",
                    e.code()
                )));
            }
            Err(e) => return Err(SltError(format!("[{}] {e}", e.code()))),
        };
        let names: Vec<&str> = answer.columns.iter().map(|c| c.name.as_str()).collect();
        let mut types = vec![DefaultColumnType::Any; names.len()];
        let rows = answer
            .rows
            .iter()
            .map(|row| {
                names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        let (text, kind) = cells::json(&row[*n]);
                        if kind != DefaultColumnType::Any {
                            types[i] = kind;
                        }
                        text
                    })
                    .collect()
            })
            .collect();
        Ok(DBOutput::Rows { types, rows })
    }

    fn last_spend(&self) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let spend = self
            .engine
            .ledger()
            .spends()
            .map_err(|e| SltError(e.to_string()))?
            .pop()
            .ok_or_else(|| SltError("nothing was charged".into()))?;
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Text; 3],
            rows: vec![vec![
                cells::number(spend.epsilon),
                cells::number(spend.delta),
                spend.epochs.join(","),
            ]],
        })
    }
}

impl DB for QueryDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let sql = sql.trim();
        if let Some(options) = sql.strip_prefix("SET") {
            self.request = request(options)?;
            return Ok(DBOutput::StatementComplete(0));
        }
        if sql == "SHOW LAST SPEND" {
            return self.last_spend();
        }
        self.query(sql)
    }
}

fn spends(ledger: &Ledger) -> usize {
    ledger.spends().map(|s| s.len()).unwrap_or(usize::MAX)
}

/// The request of `SET epsilon=1 max_groups=1 bound=secs:0:600 …` (defaults: ε = 1).
fn request(options: &str) -> Result<QueryRequest, SltError> {
    let mut req = QueryRequest {
        sql: String::new(),
        epsilon: 1.0,
        delta: None,
        bounds: BoundsRequest::default(),
    };
    let bad = |o: &str| SltError(format!("bad SET option `{o}`"));
    for option in options.split_whitespace() {
        let (k, v) = option.split_once('=').ok_or_else(|| bad(option))?;
        let num = |v: &str| v.parse::<f64>().map_err(|_| bad(option));
        let int = |v: &str| v.parse::<u32>().map_err(|_| bad(option));
        match k {
            "epsilon" => req.epsilon = num(v)?,
            "delta" => req.delta = Some(num(v)?),
            "max_groups" => req.bounds.max_groups = Some(int(v)?),
            "max_rows" => req.bounds.max_rows = Some(int(v)?),
            "bound" => {
                let parts: Vec<&str> = v.split(':').collect();
                let [name, lo, hi] = parts[..] else {
                    return Err(bad(option));
                };
                req.bounds
                    .columns
                    .insert(name.to_string(), [num(lo)?, num(hi)?]);
            }
            _ => return Err(bad(option)),
        }
    }
    Ok(req)
}
