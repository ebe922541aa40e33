//! fingertip-dp
