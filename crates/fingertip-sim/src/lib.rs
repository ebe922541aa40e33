//! fingertip-sim
