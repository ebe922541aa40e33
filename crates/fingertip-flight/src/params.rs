//! A statement's privacy parameters come from the call headers (ADBC:
//! `adbc.flight.sql.rpc.call_header.<name>`), the same parameters as the JSON body of
//! `POST /v1/query` and the flags of `fingertip query`:
//!
//! | header | meaning | default |
//! |---|---|---|
//! | `x-fingertip-epsilon` | ε of this statement | `[server] flight_default_epsilon` |
//! | `x-fingertip-delta` | δ of partition selection | `[query] default_delta` |
//! | `x-fingertip-max-groups`, `x-fingertip-max-rows` | contribution bounds | estimated |
//! | `x-fingertip-bounds` | value ranges, `name=low:high[,name=low:high…]` | derived |

use fingertip_query::{BoundsRequest, QueryRequest, code};
use tonic::Status;
use tonic::metadata::MetadataMap;

pub const EPSILON_HEADER: &str = "x-fingertip-epsilon";
pub const DELTA_HEADER: &str = "x-fingertip-delta";
pub const MAX_GROUPS_HEADER: &str = "x-fingertip-max-groups";
pub const MAX_ROWS_HEADER: &str = "x-fingertip-max-rows";
pub const BOUNDS_HEADER: &str = "x-fingertip-bounds";

/// The engine request for `sql` with the parameters of the call's headers.
pub fn query_request(
    sql: String,
    headers: &MetadataMap,
    default_epsilon: f64,
) -> Result<QueryRequest, Status> {
    let epsilon = number(headers, EPSILON_HEADER, code::INVALID_PRIVACY_PARAMETERS)?;
    let delta = number(headers, DELTA_HEADER, code::INVALID_PRIVACY_PARAMETERS)?;
    let bounds = BoundsRequest {
        max_groups: number(headers, MAX_GROUPS_HEADER, code::INVALID_BOUNDS)?,
        max_rows: number(headers, MAX_ROWS_HEADER, code::INVALID_BOUNDS)?,
        columns: match text(headers, BOUNDS_HEADER)? {
            Some(list) => ranges(list)?,
            None => Default::default(),
        },
    };
    Ok(QueryRequest {
        sql,
        epsilon: epsilon.unwrap_or(default_epsilon),
        delta,
        bounds,
    })
}

fn text<'a>(headers: &'a MetadataMap, name: &str) -> Result<Option<&'a str>, Status> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| {
            invalid(
                code::INVALID_PRIVACY_PARAMETERS,
                format!("header {name} is not text"),
            )
        }),
    }
}

fn number<T: std::str::FromStr>(
    headers: &MetadataMap,
    name: &str,
    code: &str,
) -> Result<Option<T>, Status> {
    let Some(value) = text(headers, name)? else {
        return Ok(None);
    };
    value.parse().map(Some).map_err(|_| {
        invalid(
            code,
            format!("header {name} must be a number, not `{value}`"),
        )
    })
}

/// `name=low:high[,name=low:high…]`.
fn ranges(list: &str) -> Result<std::collections::BTreeMap<String, [f64; 2]>, Status> {
    let bad = || {
        invalid(
            code::INVALID_BOUNDS,
            format!("header {BOUNDS_HEADER} must be `name=low:high[,name=low:high…]`"),
        )
    };
    let mut out = std::collections::BTreeMap::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, range) = item.split_once('=').ok_or_else(bad)?;
        let (lo, hi) = range.split_once(':').ok_or_else(bad)?;
        let lo: f64 = lo.trim().parse().map_err(|_| bad())?;
        let hi: f64 = hi.trim().parse().map_err(|_| bad())?;
        out.insert(name.trim().to_string(), [lo, hi]);
    }
    Ok(out)
}

fn invalid(code: &str, message: String) -> Status {
    Status::invalid_argument(format!("{code}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> MetadataMap {
        let mut map = MetadataMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn headers_become_the_request() {
        let h = headers(&[
            (EPSILON_HEADER, "0.5"),
            (DELTA_HEADER, "1e-7"),
            (MAX_GROUPS_HEADER, "2"),
            (BOUNDS_HEADER, "secs=0:600, mins = 0:10"),
        ]);
        let r = query_request("SELECT 1".into(), &h, 0.1).unwrap();
        assert_eq!((r.epsilon, r.delta), (0.5, Some(1e-7)));
        assert_eq!((r.bounds.max_groups, r.bounds.max_rows), (Some(2), None));
        assert_eq!(r.bounds.columns["secs"], [0.0, 600.0]);
        assert_eq!(r.bounds.columns["mins"], [0.0, 10.0]);
        let r = query_request("SELECT 1".into(), &MetadataMap::new(), 0.1).unwrap();
        assert_eq!((r.epsilon, r.delta), (0.1, None));
    }

    #[test]
    fn malformed_headers_are_invalid_arguments() {
        for (k, v) in [
            (EPSILON_HEADER, "lots"),
            (MAX_ROWS_HEADER, "-1"),
            (BOUNDS_HEADER, "secs=0-600"),
        ] {
            let e = query_request("SELECT 1".into(), &headers(&[(k, v)]), 0.1).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{k}: {v}");
        }
    }
}
