//! fingertip-query
