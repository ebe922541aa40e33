//! Burden-index pipelines end to end: the API, outputs, duplicate handling, accuracy and exact
//! golden answers.
//!
//! One test binary with a module per concern (each test binary links DataFusion and OpenDP).

mod accuracy;
mod api;
mod bounding;
mod duplicates;
mod golden;
mod outputs;
mod selection;
