//! The DP SQL engine end to end: golden answers (with the guard fuzzer), the ledger through the
//! CLI, noise calibration, accuracy, the empirical privacy audit, and Arrow Flight SQL with the
//! real Python clients.
//!
//! One test binary with a module per concern (each test binary links DataFusion and OpenDP).

mod accuracy;
mod flight;
mod ledger;
mod noise;
mod query_smoke;
mod sql_fuzz;
