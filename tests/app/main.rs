//! The app's integration tests on Tauri's mock runtime, one module a file, in one test binary:
//! each binary links the whole shell and its GUI stack, so nine of them cost about forty
//! seconds of CPU more than one (what the test command's critical path is made of).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod cluster;
mod commands;
mod costs;
mod exit;
mod mcp;
mod others;
mod review;
mod runs;
mod tool_sites;
