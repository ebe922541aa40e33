//! A fuzzer for the guard: random SQL over the event schema, checked against invariants that
//! do not trust the guard's own analysis.
//!
//! Every generated query runs on two lakes holding the same events under different
//! pseudonyms (each data directory has its own epoch keys) and different event ids (the
//! events are written in reverse order), with the test-only no-noise strategy and fixed
//! bounds. For every query:
//!
//! 1. **no person dependence** — if it is answered on one lake, it is answered on the other
//!    with exactly the same rows: a released value that depended on `person` or `event_id`
//!    other than through the bounded release (`COUNT(DISTINCT person)`) would differ;
//! 2. **no run-time failure** — an accepted query is answered: every error must be a refusal
//!    made before charging (the ledger is unchanged), never `query_failed` or `internal_error`.
//!
//! `FINGERTIP_FUZZ_SEED` and `FINGERTIP_FUZZ_CASES` replay or extend a run; a failure prints
//! the seed and the SQL, which then joins `tests/sql/side_doors.slt` as a golden case.

use fingertip_query::{BoundsRequest, Engine, QueryRequest};

/// xorshift64*: small, seedable, good enough to pick grammar branches.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "3",
    "-5",
    "7",
    "100",
    "2147483647",
    "9223372036854775807",
    "(-9223372036854775807 - 1)",
];
const FLOATS: &[&str] = &["0.0", "1.5", "-2.5", "1e308", "0.001", "(0.0 / 0.0)"];
const STRS: &[&str] = &[
    "'u1'",
    "'u2'",
    "'x'",
    "''",
    "'check_in'",
    "'2026-10-05'",
    "'abc-def'",
    "'('",
];
const STR_COLS: &[&str] = &["org_unit", "event_type", "trigger", "app_id", "key_epoch"];
const TAINTED: &[&str] = &["person", "event_id"];

struct Gen {
    rng: Rng,
    depth: usize,
}

impl Gen {
    fn deeper<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        self.depth += 1;
        let out = f(self);
        self.depth -= 1;
        out
    }

    fn leaf(&self) -> bool {
        self.depth > 3
    }

    fn num(&mut self) -> String {
        if self.leaf() {
            return match self.rng.below(4) {
                0 => "duration_s".into(),
                1 => self.rng.pick(INTS).into(),
                2 => self.rng.pick(FLOATS).into(),
                _ => "cardinality(data_elements)".into(),
            };
        }
        self.deeper(|g| match g.rng.below(16) {
            0 => "duration_s".into(),
            1 => g.rng.pick(INTS).into(),
            2 => format!(
                "({} {} {})",
                g.num(),
                g.rng.pick(&["+", "-", "*", "/", "%"]),
                g.num()
            ),
            3 => format!(
                "{}({})",
                g.rng
                    .pick(&["abs", "ln", "sqrt", "exp", "floor", "signum", "log10"]),
                g.num()
            ),
            4 => format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                g.boolean(),
                g.num(),
                g.num()
            ),
            5 => format!(
                "CAST({} AS {})",
                g.string(),
                g.rng.pick(&["INT", "BIGINT", "DOUBLE", "SMALLINT"])
            ),
            6 => format!("length({})", g.string()),
            7 => format!(
                "date_part('{}', started_at)",
                g.rng.pick(&["hour", "dow", "minute", "epoch"])
            ),
            8 => format!(
                "CAST({} AS {})",
                g.num(),
                g.rng.pick(&["TINYINT", "INT", "DECIMAL(5,2)"])
            ),
            9 => format!("-({})", g.num()),
            10 => format!("power({}, {})", g.num(), g.num()),
            11 => format!("strpos({}, {})", g.string(), g.string()),
            12 => format!("ascii({})", g.string()),
            13 => g.rng.pick(FLOATS).into(),
            14 => format!("COALESCE({}, {})", g.num(), g.num()),
            _ => format!("round({}, {})", g.num(), g.rng.pick(INTS)),
        })
    }

    fn string(&mut self) -> String {
        if self.leaf() {
            return match self.rng.below(2) {
                0 => self.rng.pick(STR_COLS).into(),
                _ => self.rng.pick(STRS).into(),
            };
        }
        self.deeper(|g| match g.rng.below(16) {
            0 | 1 => g.rng.pick(STR_COLS).into(),
            2 => g.rng.pick(STRS).into(),
            3 => format!("substr({}, {}, {})", g.string(), g.num(), g.num()),
            4 => format!("split_part({}, '-', {})", g.string(), g.num()),
            5 => format!("chr({})", g.num()),
            6 => format!("upper({})", g.string()),
            7 => format!("concat({}, {})", g.string(), g.string()),
            8 => format!("CAST({} AS VARCHAR)", g.num()),
            9 => format!("lpad({}, {})", g.string(), g.num()),
            10 => format!("repeat({}, {})", g.string(), g.num()),
            11 => format!("CAST({} AS VARCHAR)", g.rng.pick(TAINTED)),
            12 => format!("regexp_replace({}, {}, 'x')", g.string(), g.string()),
            13 => format!(
                "to_char(started_at, {})",
                g.rng.pick(&["'%Y'", "'%Q'", "'%H'"])
            ),
            14 => format!(
                "CASE WHEN {} THEN {} ELSE {} END",
                g.boolean(),
                g.string(),
                g.string()
            ),
            _ => format!(
                "CAST(date_bin(INTERVAL '{} hour', started_at) AS VARCHAR)",
                g.rng.pick(&["0", "1", "24"])
            ),
        })
    }

    fn boolean(&mut self) -> String {
        if self.leaf() {
            return format!("duration_s > {}", self.rng.pick(INTS));
        }
        self.deeper(|g| match g.rng.below(11) {
            0 => format!(
                "{} {} {}",
                g.num(),
                g.rng.pick(&["=", "<", ">=", "<>"]),
                g.num()
            ),
            1 => format!("{} = {}", g.string(), g.string()),
            2 => format!(
                "({} {} {})",
                g.boolean(),
                g.rng.pick(&["AND", "OR"]),
                g.boolean()
            ),
            3 => format!("NOT ({})", g.boolean()),
            4 => format!(
                "{} LIKE {}",
                g.string(),
                g.rng.pick(&["'u%'", "'%\\'", "'_'"])
            ),
            5 => format!("regexp_like({}, {})", g.string(), g.string()),
            6 => format!("{} IS NULL", g.num()),
            7 => format!(
                "{} {} {}",
                g.rng.pick(TAINTED),
                g.rng.pick(&["<", "=", ">"]),
                g.rng.pick(&["person", "X'80'", "'x'"])
            ),
            8 => format!("array_has(data_elements, {})", g.string()),
            9 => format!(
                "started_at >= {}",
                g.rng
                    .pick(&["'2026-10-06'", "'nonsense'", "'2026-09-01T00:00:00Z'"])
            ),
            _ => format!("{} IN ({}, {})", g.string(), g.string(), g.string()),
        })
    }

    fn aggregate(&mut self) -> String {
        let filter = if self.rng.below(4) == 0 {
            format!(" FILTER (WHERE {})", self.boolean())
        } else {
            String::new()
        };
        let body = match self.rng.below(9) {
            0 | 1 => "COUNT(*)".into(),
            2 => format!("SUM({})", self.num()),
            3 => format!("AVG({})", self.num()),
            4 => format!(
                "COUNT(DISTINCT {})",
                self.rng.pick(&["person", "person", "event_id", "org_unit"])
            ),
            5 => format!("APPROX_PERCENTILE_CONT({}, 0.9)", self.num()),
            6 => format!(
                "APPROX_PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY {})",
                self.num()
            ),
            7 => format!("COUNT({})", self.string()),
            _ => format!("MEDIAN({})", self.num()),
        };
        format!("{body}{filter}")
    }

    fn key(&mut self) -> String {
        match self.rng.below(5) {
            0 => self.rng.pick(STR_COLS).into(),
            1 => self.string(),
            2 => self.num(),
            3 => format!("{} > {}", self.num(), self.num()),
            _ => self.rng.pick(TAINTED).into(),
        }
    }

    fn query(&mut self) -> String {
        let keys: Vec<String> = (0..self.rng.below(3)).map(|_| self.key()).collect();
        let aggs: Vec<String> = (0..1 + self.rng.below(2))
            .map(|i| format!("{} AS m{i}", self.aggregate()))
            .collect();
        let mut select: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} AS k{i}"))
            .collect();
        select.extend(aggs);
        let from = match self.rng.below(4) {
            0 => "events e JOIN event_catalog c ON e.event_type = c.event_type".to_string(),
            1 => format!("(SELECT *, {} AS derived FROM events) t", self.num()),
            _ => "events".to_string(),
        };
        let filter = match self.rng.below(2) {
            0 => format!(" WHERE {}", self.boolean()),
            _ => String::new(),
        };
        let group = if keys.is_empty() {
            String::new()
        } else {
            let ns: Vec<String> = (1..=keys.len()).map(|i| i.to_string()).collect();
            format!(" GROUP BY {}", ns.join(", "))
        };
        format!("SELECT {} FROM {from}{filter}{group}", select.join(", "))
    }
}

fn request(sql: &str) -> QueryRequest {
    QueryRequest {
        sql: sql.into(),
        epsilon: 1.0,
        delta: None,
        bounds: BoundsRequest {
            max_groups: Some(128),
            max_rows: Some(1000),
            ..Default::default()
        },
    }
}

/// The outcome of one query on one lake: the rows, or the refusal code (with a note when a
/// refusal charged the ledger).
async fn outcome(engine: &Engine, sql: &str) -> Result<String, String> {
    let before = engine.ledger().spends().unwrap().len();
    match engine.run("fuzz", &request(sql)).await {
        // Rows in a canonical order (no ORDER BY means any order), floats to 9 digits (sums
        // may be added up in another order).
        Ok(answer) => {
            let mut rows: Vec<String> = answer.rows.iter().map(canonical).collect();
            rows.sort();
            Ok(rows.join("\n"))
        }
        Err(e) => {
            let charged = engine.ledger().spends().unwrap().len() != before;
            Err(format!(
                "{}{}",
                e.code(),
                if charged { " (charged)" } else { "" }
            ))
        }
    }
}

fn canonical(row: &serde_json::Map<String, serde_json::Value>) -> String {
    row.iter()
        .map(|(k, v)| match v.as_f64() {
            Some(x) => format!("{k}={x:.9e}"),
            None => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs the fuzzer; returns the failures.
pub async fn run(a: &Engine, b: &Engine) -> (usize, usize, Vec<String>) {
    let seed: u64 = std::env::var("FINGERTIP_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_F1A6);
    let cases: usize = std::env::var("FINGERTIP_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let mut generator = Gen {
        rng: Rng(seed | 1),
        depth: 0,
    };
    let trace = std::env::var("FINGERTIP_FUZZ_TRACE").is_ok();
    let (mut accepted, mut failures) = (0, Vec::new());
    for case in 0..cases {
        let sql = generator.query();
        if trace {
            eprintln!("fuzz case {case}: {sql}");
        }
        let (x, y) = (outcome(a, &sql).await, outcome(b, &sql).await);
        let problem = match (&x, &y) {
            (Ok(rx), Ok(ry)) if rx != ry => {
                Some("the answer depends on pseudonyms or event ids".to_string())
            }
            (Ok(_), Ok(_)) => {
                accepted += 1;
                None
            }
            (Err(code), _) | (_, Err(code))
                if code.contains("charged")
                    || code.starts_with("query_failed")
                    || code.starts_with("internal_error") =>
            {
                Some(format!("failed after acceptance: {code}"))
            }
            (Ok(_), Err(_)) | (Err(_), Ok(_)) => {
                Some(format!("answered on one lake only: {x:?} / {y:?}"))
            }
            (Err(_), Err(_)) => None,
        };
        if let Some(p) = problem {
            failures.push(format!("seed={seed} case={case}: {p}\n  {sql}"));
        }
    }
    (cases, accepted, failures)
}
