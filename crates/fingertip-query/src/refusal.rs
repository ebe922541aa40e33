//! Why a query was refused: a stable code and a sentence a researcher understands.
//! The codes are listed, with examples, in `docs/sql.md`.

/// A refused query. Messages never contain data values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

macro_rules! codes {
    ($($name:ident = $code:literal;)*) => {
        /// Every refusal code.
        pub mod code {
            $(pub const $name: &str = $code;)*
            /// All codes, for documentation tests.
            pub const ALL: &[&str] = &[$($code),*];
        }
    };
}

codes! {
    SYNTAX_ERROR = "syntax_error";
    MULTIPLE_STATEMENTS = "multiple_statements";
    NOT_A_QUERY = "not_a_query";
    PLAN_ERROR = "plan_error";
    RAW_ROWS = "raw_rows";
    PERSON_COLUMN = "person_column";
    WINDOW_FUNCTION = "window_function";
    NESTED_AGGREGATION = "nested_aggregation";
    SUBQUERY_EXPRESSION = "subquery_expression";
    SET_OPERATION = "set_operation";
    DISTINCT_ROWS = "distinct_rows";
    ROW_SELECTION = "row_selection";
    JOIN_NOT_ALLOWED = "join_not_allowed";
    TABLE_NOT_ALLOWED = "table_not_allowed";
    NO_EVENTS_TABLE = "no_events_table";
    UNSUPPORTED_AGGREGATE = "unsupported_aggregate";
    UNSUPPORTED_EXPRESSION = "unsupported_expression";
    UNSUPPORTED_PLAN = "unsupported_plan";
    GROUPING_SETS = "grouping_sets";
    EXPRESSION_TOO_DEEP = "expression_too_deep";
    MISSING_BOUNDS = "missing_bounds";
    INVALID_BOUNDS = "invalid_bounds";
    INVALID_PRIVACY_PARAMETERS = "invalid_privacy_parameters";
    EPSILON_OUT_OF_RANGE = "epsilon_out_of_range";
    UNSUPPORTED_FUNCTION = "unsupported_function";
    RESERVED_NAME = "reserved_name";
    INTERNAL_ERROR = "internal_error";
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// `return Err(Refusal)` with a formatted message.
macro_rules! refuse {
    ($code:expr, $($arg:tt)*) => {
        return Err($crate::refusal::Refusal::new($code, format!($($arg)*)))
    };
}
pub(crate) use refuse;
