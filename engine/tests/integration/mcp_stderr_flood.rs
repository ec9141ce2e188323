//! A server that writes megabytes to stderr with no newline (`tests/mcp/hostile-server.mjs`
//! `flood`): the line is cut while it is read, so Stepwise's memory stays bounded. A test binary
//! of its own, so that the process's peak memory is this test's alone.

use std::collections::BTreeMap;

use crate::support::shim;
use serde_json::json;
use stepwise_engine::tool::mcp::McpServerSettings;
use stepwise_engine::tool::{ToolSettings, Tools};
use stepwise_testkit::{PATIENCE, eventually_async};

/// The most memory this process has held (its peak resident set), in MB.
fn peak_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        / 1024
}

#[tokio::test]
async fn stderr_without_a_newline_is_cut_while_read_and_memory_stays_bounded() {
    let entry = McpServerSettings {
        command: Some("node".into()),
        args: vec![
            shim()
                .with_file_name("hostile-server.mjs")
                .display()
                .to_string(),
            "flood".into(),
            "stepwise-hostile-flood".into(),
        ],
        ..McpServerSettings::default()
    };
    let tools = Tools::with_mcp(
        ToolSettings::default(),
        BTreeMap::from([("noisy".to_string(), entry)]),
    );
    let server = tools.mcp().server("noisy", 60).await.unwrap();

    // 8 MB of one line, not ended: written (the writes to a pipe wait for the reader), so all
    // but the pipe's last 64 kB has been read — and the line's start is already kept, cut.
    server
        .call("flood", json!({"mb": 8, "end": false}), 1000)
        .await
        .unwrap();
    let cut = format!("{} …", "x".repeat(1000));
    assert_eq!(
        server.stderr_tail(5),
        vec![cut.clone()],
        "cut while it is read"
    );

    // 200 MB more of the same line, then its end and one more line.
    let before = peak_mb();
    server
        .call("flood", json!({"mb": 200, "end": true}), 1000)
        .await
        .unwrap();
    eventually_async(PATIENCE, "the line after the flood", async || {
        let tail = server.stderr_tail(5);
        if tail.last().map(String::as_str) == Some("after the flood") {
            Ok(())
        } else {
            Err(tail)
        }
    })
    .await;
    assert_eq!(server.stderr_tail(5), [cut, "after the flood".to_string()]);
    let after = peak_mb();
    assert!(
        after < before + 50,
        "reading 208 MB of stderr raised the peak memory from {before} MB to {after} MB"
    );
    assert!(server.is_alive());
    tools.shutdown().await;
}
