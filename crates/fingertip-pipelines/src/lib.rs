//! fingertip-pipelines
