//! The scalar functions a query may call on rows: default-deny.
//!
//! Every function here produces output bounded by a small multiple of its inputs (and of the
//! query text), so no row value can make it allocate without bound. Failures are not this
//! list's concern: [`super::total`] makes every call total whatever the function. Functions
//! that build values from a count taken from the data (`repeat`, `lpad`, `rpad`, `range`,
//! `generate_series`, `array_repeat`, …), and anything not listed, are refused before
//! anything is charged.

use crate::refusal::{Refusal, code};

/// Allowed scalar functions (DataFusion names, lower case).
const ALLOWED: &[&str] = &[
    // numbers
    "abs",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "cbrt",
    "ceil",
    "cos",
    "cosh",
    "cot",
    "degrees",
    "exp",
    "factorial",
    "floor",
    "gcd",
    "isnan",
    "iszero",
    "lcm",
    "ln",
    "log",
    "log10",
    "log2",
    "nanvl",
    "pi",
    "pow",
    "power",
    "radians",
    "random",
    "round",
    "signum",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "trunc",
    // conditionals
    "coalesce",
    "greatest",
    "least",
    "nullif",
    "nvl",
    "nvl2",
    "ifnull",
    // strings
    "ascii",
    "bit_length",
    "btrim",
    "char_length",
    "character_length",
    "chr",
    "concat",
    "concat_ws",
    "contains",
    "ends_with",
    "initcap",
    "instr",
    "left",
    "length",
    "levenshtein",
    "lower",
    "ltrim",
    "octet_length",
    "position",
    "replace",
    "reverse",
    "right",
    "rtrim",
    "split_part",
    "starts_with",
    "strpos",
    "substr",
    "substring",
    "substr_index",
    "substring_index",
    "translate",
    "trim",
    "upper",
    "uuid",
    // regular expressions
    "regexp_count",
    "regexp_instr",
    "regexp_like",
    "regexp_match",
    "regexp_replace",
    // time
    "current_date",
    "current_time",
    "date_bin",
    "date_part",
    "date_trunc",
    "datepart",
    "datetrunc",
    "extract",
    "from_unixtime",
    "make_date",
    "now",
    "to_char",
    "to_date",
    "to_local_time",
    "to_timestamp",
    "to_timestamp_micros",
    "to_timestamp_millis",
    "to_timestamp_nanos",
    "to_timestamp_seconds",
    "to_unixtime",
    // lists (data_elements)
    "array_element",
    "array_has",
    "array_has_all",
    "array_has_any",
    "array_length",
    "array_position",
    "cardinality",
    "list_element",
    "list_has",
    "list_has_all",
    "list_has_any",
    "list_length",
    "make_array",
    "make_list",
    // types
    "arrow_cast",
    "arrow_typeof",
    "get_field",
];

/// Refuses a scalar function that is not on the allowlist.
pub(crate) fn check_function(name: &str) -> Result<(), Refusal> {
    let lower = name.to_ascii_lowercase();
    if ALLOWED.contains(&lower.as_str()) {
        return Ok(());
    }
    Err(Refusal::new(
        code::UNSUPPORTED_FUNCTION,
        format!(
            "the function `{name}` is not available in queries; see docs/sql.md for the functions that are"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocating_functions_are_refused() {
        for f in [
            "repeat",
            "lpad",
            "rpad",
            "range",
            "generate_series",
            "array_repeat",
        ] {
            assert_eq!(
                check_function(f).unwrap_err().code,
                code::UNSUPPORTED_FUNCTION
            );
        }
        assert!(check_function("ABS").is_ok());
    }
}
