//! The engine's integration tests, one module a file, in one test binary (each binary linked the
//! engine, the test server and the MCP client again: about a minute of CPU for 27 of them).
//! Tests that start processes tag them with names of their own, so the files' tests can share
//! one process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod cancel;
mod cli;
mod cli_control;
mod cli_review;
mod cli_tools;
mod event_logs;
mod files;
mod hardening;
mod http_client;
mod lifecycle;
mod mcp;
mod mcp_hostile;
mod mcp_stderr_flood;
mod module_circles;
mod outside_numbers;
mod provider_limits;
mod providers;
mod races;
mod review;
mod step_tree;
mod store;
mod store_cli;
mod tool_call_fuzz;
mod tool_guard;
mod tool_limits;
mod tools;
mod usage;
mod workflow_files;
