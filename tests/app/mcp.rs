//! Settings' MCP servers through the app's commands: an entry's variable values never go back
//! to the window once saved (and saving keeps a value it did not replace), and "Show its tools"
//! can be stopped while a server is starting.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};
use stepwise_testkit::{PATIENCE, eventually};

fn hostile(mode: &str, tag: &str) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/hostile-server.mjs");
    json!({
        "name": "slow", "saved_name": null, "command": "node", "url": "", "timeout_secs": 60,
        "args": [script.display().to_string(), mode, tag], "env": [],
    })
}

fn tools_view(servers: Value) -> Value {
    json!({ "update": {
        "web_search_url": "https://html.duckduckgo.com/html/", "allow_private_network": false,
        "allow_hosts": [], "proxy": "", "timeout_secs": 60, "servers": servers,
    } })
}

fn saved_settings(t: &TestApp) -> String {
    std::fs::read_to_string(t.root.join("config/settings.toml")).unwrap()
}

#[test]
fn an_entrys_variable_values_never_go_back_to_the_window() {
    let t = app("mcp-env", INSTANT, Duration::ZERO);
    let mut server = hostile("plain", "unused");
    server["name"] = "files".into();
    server["env"] = json!([{ "name": "TOKEN", "value": "s3cret", "set": false }]);
    let view: Value = t.ok("save_tools_settings", tools_view(json!([server])));
    let env = &view["servers"][0]["env"];
    assert_eq!(env, &json!([{ "name": "TOKEN", "value": "", "set": true }]));
    let read: Value = t.ok("get_tools_settings", json!({}));
    assert!(!read.to_string().contains("s3cret"), "{read}");
    assert!(saved_settings(&t).contains("s3cret"));

    // Saved back as the window has it (no value, `set`): the saved value stays — also when the
    // entry is renamed.
    let mut back = read["servers"][0].clone();
    back["name"] = "documents".into();
    back["env"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "name": "MORE", "value": "m", "set": false }));
    let view: Value = t.ok("save_tools_settings", tools_view(json!([back])));
    assert!(!view.to_string().contains("s3cret"));
    let file = saved_settings(&t);
    assert!(file.contains("[mcp.documents"), "{file}");
    assert!(
        file.contains("TOKEN = \"s3cret\"") && file.contains("MORE = \"m\""),
        "{file}"
    );

    // Replaced: the new value.
    let mut replaced = view["servers"][0].clone();
    replaced["env"][1] = json!({ "name": "TOKEN", "value": "new", "set": true });
    t.ok::<Value>("save_tools_settings", tools_view(json!([replaced])));
    let file = saved_settings(&t);
    assert!(
        file.contains("TOKEN = \"new\"") && !file.contains("s3cret"),
        "{file}"
    );
}

/// Whether a live process has `tag` on its command line.
fn running(tag: &str) -> bool {
    !stepwise_testkit::processes_tagged(tag).is_empty()
}

#[test]
fn show_its_tools_can_be_stopped_while_the_server_starts() {
    let tag = "stepwise-app-inspect-stop";
    let t = app("mcp-inspect-stop", INSTANT, Duration::ZERO);
    t.ok::<Value>(
        "save_tools_settings",
        tools_view(json!([hostile("hang-list", tag)])),
    );
    let answer = t.send("inspect_mcp_server", json!({ "name": "slow" }));
    eventually(PATIENCE, "the server to start", || running(tag));
    assert!(t.ok::<bool>("stop_inspecting_mcp_server", json!({ "name": "slow" })));
    let report = answer
        .recv_timeout(Duration::from_secs(20))
        .expect("the inspection did not stop")
        .unwrap();
    assert_eq!(report["stopped"], true, "{report}");
    assert_eq!(report["message"], "Stopped.");
    eventually(PATIENCE, "the half-started server to end", || !running(tag));
    assert!(!t.ok::<bool>("stop_inspecting_mcp_server", json!({ "name": "slow" })));
}
