//! The write-ahead log: segment files, the group-commit writer, and recovery reads.

pub(crate) mod recover;
pub mod segment;
pub(crate) mod writer;
