//! Every command round-trips through IPC on the mock runtime, with typed errors.

use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};
use stepwise_testkit::{Behavior, TestServer};

#[test]
fn templates_are_listed() {
    let t = app("templates", INSTANT, Duration::ZERO);
    let list: Value = t.ok("list_templates", json!({}));
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"research-and-write") && ids.contains(&"long-story"));
}

#[test]
fn workflows_are_saved_listed_read_and_deleted_with_field_errors() {
    let t = app("workflows", INSTANT, Duration::ZERO);
    let wf = json!({ "name": "My flow", "description": "", "steps": [
        { "name": "Draft", "instructions": "Write a draft." },
        { "name": "Polish", "instructions": "Polish it.", "model": "demo" } ] });
    let id: String = t.ok("save_workflow", json!({ "id": null, "workflow": wf }));
    assert_eq!(id, "my-flow");
    let second: String = t.ok("save_workflow", json!({ "id": null, "workflow": wf }));
    assert_eq!(
        second, "my-flow-2",
        "a new workflow never overwrites another"
    );
    let list: Value = t.ok("list_workflows", json!({}));
    assert_eq!(list.as_array().unwrap().len(), 2);
    let got: Value = t.ok("get_workflow", json!({ "id": "my-flow" }));
    assert_eq!(got["workflow"]["steps"][1]["name"], "Polish");

    let bad = json!({ "name": "Bad", "description": "", "steps": [
        { "name": "A", "instructions": "" }, { "name": "a", "instructions": "x", "model": "gpt" } ] });
    let err = t
        .call("save_workflow", json!({ "id": "my-flow", "workflow": bad }))
        .unwrap_err();
    assert_eq!(err["kind"], "invalid_workflow");
    let issues = err["detail"]["issues"].as_array().unwrap();
    let at: Vec<(&str, &str)> = issues
        .iter()
        .map(|i| (i["step"].as_str().unwrap(), i["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        at,
        [
            ("steps[0]", "instructions"),
            ("steps[1]", "name"),
            ("steps[1]", "model")
        ]
    );
    assert_eq!(
        t.ok::<Value>("get_workflow", json!({ "id": "my-flow" }))["workflow"]["name"],
        "My flow",
        "unchanged"
    );

    // A tree is saved as a file (nested tables) and read back as it was edited.
    let tree = json!({ "name": "Tree", "description": "", "steps": [
        { "name": "Draft", "instructions": "Write." },
        { "name": "Rounds", "kind": "loop", "max_iterations": 3, "until": "output contains \"OK\"",
          "steps": [ { "name": "Check", "kind": "condition", "if": "output contains \"?\"",
                       "then": [ { "name": "Ask", "instructions": "Ask." } ],
                       "else": [ { "name": "Say", "instructions": "Say.", "on_error": "skip" } ] } ] },
        { "name": "Both", "kind": "parallel", "timeout_secs": 30,
          "steps": [ { "name": "X", "instructions": "x" }, { "name": "Y", "instructions": "y" } ] } ] });
    let tree_id: String = t.ok("save_workflow", json!({ "id": null, "workflow": tree }));
    let back: Value = t.ok("get_workflow", json!({ "id": tree_id }));
    let w = &back["workflow"];
    assert_eq!(w["steps"][1]["kind"], "loop");
    assert_eq!(w["steps"][1]["until"], "output contains \"OK\"");
    assert_eq!(w["steps"][1]["steps"][0]["then"][0]["name"], "Ask");
    assert_eq!(w["steps"][1]["steps"][0]["else"][0]["on_error"], "skip");
    assert_eq!(w["steps"][2]["steps"][1]["id"], "y");
    assert_eq!(w["steps"][2]["timeout_secs"], 30);

    assert!(t.ok::<bool>("delete_workflow", json!({ "id": "my-flow" })));
    assert!(!t.ok::<bool>("delete_workflow", json!({ "id": "my-flow" })));
    assert_eq!(
        t.call("get_workflow", json!({ "id": "my-flow" }))
            .unwrap_err()["kind"],
        "workflow_not_found"
    );
    assert_eq!(
        t.call("get_workflow", json!({ "id": "../../etc/passwd" }))
            .unwrap_err()["kind"],
        "workflow_not_found"
    );
}

#[test]
fn bad_starts_are_typed_errors() {
    let t = app("badstart", INSTANT, Duration::ZERO);
    let err = t
        .call("start_run", start_args("long-story", "  "))
        .unwrap_err();
    assert_eq!(err["kind"], "empty_input");
    let mut args = start_args("long-story", "x");
    args["runId"] = json!("not-a-uuid");
    let err = t.call("start_run", args).unwrap_err();
    assert_eq!(err["kind"], "invalid_run_id");
}

#[test]
fn runs_are_read_exported_and_deleted() {
    let t = app("history", INSTANT, Duration::ZERO);
    let id = t.start_template("research-and-write", "tidal energy");
    t.wait_end(&id);
    let md: String = t.ok("export_run", json!({ "runId": id, "format": "markdown" }));
    assert!(md.starts_with("# Research and write"));
    let js: String = t.ok("export_run", json!({ "runId": id, "format": "json" }));
    assert_eq!(
        serde_json::from_str::<Value>(&js).unwrap()["run"]["status"],
        "completed"
    );
    assert!(t.ok::<bool>("delete_run", json!({ "runId": id })));
    assert_eq!(
        t.ok::<Value>("get_run", json!({ "runId": id })),
        Value::Null
    );
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        t.ok::<Value>("get_run", json!({ "runId": unknown })),
        Value::Null
    );
}

#[test]
fn settings_round_trip_and_are_validated() {
    let t = app("settings", INSTANT, Duration::ZERO);
    let s: Value = t.ok("get_settings", json!({}));
    assert_eq!(s["default_model"], "demo");
    assert_eq!(s["key_storage"], "file");
    assert_eq!(openai(&s)["has_key"], false);
    // The presets come from the engine: every provider, its usual address, whether it takes a key.
    let presets: Vec<(&str, &str, bool)> = s["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let p = &p["preset"];
            (
                p["id"].as_str().unwrap(),
                p["default_base_url"].as_str().unwrap(),
                p["takes_key"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        presets,
        [
            ("openai", "https://api.openai.com/v1", true),
            ("anthropic", "https://api.anthropic.com", true),
            ("ollama", "http://localhost:11434/v1", false),
            ("lmstudio", "http://localhost:1234/v1", false),
            ("llamacpp", "http://localhost:8080/v1", false),
            ("vllm", "http://localhost:8000/v1", true),
        ]
    );
    let update = json!({ "update": {
        "default_model": "ollama:llama3.2",
        "providers": [
            { "kind": "open_ai", "base_url": "http://localhost:1234/v1", "default_model": "qwen" },
            { "kind": "ollama", "base_url": "", "default_model": "llama3.2" } ],
        "idle_timeout_secs": 30 } });
    let saved: Value = t.ok("save_settings", update.clone());
    assert_eq!(saved["default_model"], "ollama:llama3.2");
    assert_eq!(openai(&saved)["base_url"], "http://localhost:1234/v1");
    assert_eq!(
        t.ok::<Value>("get_settings", json!({}))["idle_timeout_secs"],
        30
    );
    let mut bad = update.clone();
    bad["update"]["default_model"] = json!("gpt4");
    let err = t.call("save_settings", bad).unwrap_err();
    assert_eq!(err["kind"], "settings");
    assert!(err["detail"].as_str().unwrap().contains("Default model"));
}

#[test]
fn keys_are_set_and_cleared_but_never_shown() {
    let t = app("keys", INSTANT, Duration::ZERO);
    let secret = "sk-test-secret-5f3a9c";
    assert_eq!(
        t.ok::<String>(
            "set_api_key",
            json!({ "provider": "open_ai", "key": secret })
        ),
        "file"
    );
    let mut responses = vec![
        t.call("get_settings", json!({})).unwrap(),
        t.call("list_templates", json!({})).unwrap(),
        t.call("list_workflows", json!({})).unwrap(),
        t.call("list_runs", json!({ "filter": {} })).unwrap(),
    ];
    assert_eq!(openai(&responses[0])["has_key"], true);
    let id = t.start_template("research-and-write", "x");
    t.wait_end(&id);
    responses.push(t.call("get_run", json!({ "runId": id })).unwrap());
    responses.push(
        t.call("export_run", json!({ "runId": id, "format": "json" }))
            .unwrap(),
    );
    responses.push(
        t.call("test_connection", json!({ "provider": "demo" }))
            .unwrap(),
    );
    responses.push(
        t.call(
            "save_workflow",
            json!({ "id": null, "workflow": { "name": "x", "steps": [] } }),
        )
        .unwrap_err(),
    );
    for r in &responses {
        assert!(
            !r.to_string().contains(secret),
            "a response carried the key: {r}"
        );
    }
    assert!(
        t.updates
            .lock()
            .unwrap()
            .iter()
            .all(|u| !u.to_string().contains(secret))
    );
    let settings_file =
        std::fs::read_to_string(t.root.join("config/settings.toml")).unwrap_or_default();
    assert!(!settings_file.contains(secret));
    assert!(
        t.call("set_api_key", json!({ "provider": "demo", "key": "x" }))
            .is_err()
    );
    t.ok::<Value>("clear_api_key", json!({ "provider": "open_ai" }));
    assert_eq!(
        openai(&t.ok::<Value>("get_settings", json!({})))["has_key"],
        false
    );
}

/// The OpenAI-compatible provider's part of a settings view.
fn openai(view: &Value) -> &Value {
    view["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["preset"]["kind"] == "open_ai")
        .unwrap()
}

/// `save_settings` arguments pointing the OpenAI-compatible provider at `base` (model
/// `test-model`), everything else as a fresh install has it.
fn openai_at(base: &str) -> Value {
    json!({ "update": {
        "default_model": "demo",
        "providers": [ { "kind": "open_ai", "base_url": base, "default_model": "test-model" } ],
        "idle_timeout_secs": 10 } })
}

#[test]
fn test_connection_says_plainly_whether_the_provider_answers() {
    let rt = server_runtime();
    let server = rt.block_on(TestServer::start()).unwrap();
    let t = app("connection", INSTANT, Duration::ZERO);
    t.ok::<Value>("save_settings", openai_at(&server.openai_base()));
    t.ok::<String>(
        "set_api_key",
        json!({ "provider": "open_ai", "key": "sk-good" }),
    );
    let ok: Value = t.ok("test_connection", json!({ "provider": "open_ai" }));
    assert_eq!(ok["ok"], true, "{ok}");
    assert!(
        ok["message"]
            .as_str()
            .unwrap()
            .contains("test-model answered")
    );
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer sk-good")
    );

    server.set_default(Behavior::status(401, "bad key"));
    let bad: Value = t.ok("test_connection", json!({ "provider": "open_ai" }));
    assert_eq!(bad["ok"], false);
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("API key was rejected"),
        "{bad}"
    );
    let demo: Value = t.ok("test_connection", json!({ "provider": "demo" }));
    assert_eq!(demo["ok"], true);
}

/// The window's thread must never wait on SQLite: with the history's write lock held by someone
/// else (another Stepwise process, say), deleting a run waits — on a worker, not on the thread
/// that sent the command (in the real app, the window's main thread).
#[test]
fn history_work_never_holds_the_calling_thread() {
    let t = app("never-freezes", INSTANT, Duration::ZERO);
    let id = t.start_template("research-and-write", "tidal energy");
    t.wait_end(&id);
    let store = t.state().store.clone().unwrap();
    store.flush(Duration::from_secs(10)).unwrap();
    let db = t.root.join("data/history.db");
    let other = rusqlite::Connection::open(&db).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let answer = t.send("delete_run", json!({ "runId": id }));
    // The send returned while the lock is still held: nothing could have answered yet.
    assert!(
        answer.try_recv().is_err(),
        "the command ran on the calling thread"
    );
    other.execute_batch("COMMIT").unwrap();
    let deleted = answer.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(deleted, Ok(json!(true)));
}

/// A key goes only to the address it was saved for: pointing the provider somewhere else stops
/// sending it (that server could be anyone's) until the user enters it again for that address.
#[test]
fn a_key_is_not_sent_to_an_address_it_was_not_saved_for() {
    let rt = server_runtime();
    let first = rt.block_on(TestServer::start()).unwrap();
    let other = rt.block_on(TestServer::start()).unwrap();
    let t = app("key-address", INSTANT, Duration::ZERO);
    let point_at = |base: &str| t.ok::<Value>("save_settings", openai_at(base));
    point_at(&first.openai_base());
    t.ok::<String>(
        "set_api_key",
        json!({ "provider": "open_ai", "key": "sk-for-first" }),
    );
    let _: Value = t.ok("test_connection", json!({ "provider": "open_ai" }));
    assert_eq!(
        first.requests()[0].header("authorization"),
        Some("Bearer sk-for-first")
    );

    let view = point_at(&other.openai_base());
    assert_eq!(openai(&view)["has_key"], false);
    assert_eq!(openai(&view)["key_saved_for"], first.url());
    let _: Value = t.ok("test_connection", json!({ "provider": "open_ai" }));
    assert_eq!(other.request_count(), 1);
    assert_eq!(
        other.requests()[0].header("authorization"),
        None,
        "the key stayed home"
    );

    // Entered again for the new address: sent there.
    t.ok::<String>(
        "set_api_key",
        json!({ "provider": "open_ai", "key": "sk-for-other" }),
    );
    let _: Value = t.ok("test_connection", json!({ "provider": "open_ai" }));
    assert_eq!(
        other.requests()[1].header("authorization"),
        Some("Bearer sk-for-other")
    );
}

/// Every preset that takes a key gets it: saved in Settings, it goes with that provider's
/// requests (vLLM's was saved and then never sent).
#[test]
fn every_preset_that_takes_a_key_sends_it() {
    let rt = server_runtime();
    let server = rt.block_on(TestServer::start()).unwrap();
    let t = app("preset-keys", INSTANT, Duration::ZERO);
    let presets: Vec<Value> = t.ok::<Value>("get_settings", json!({}))["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["preset"].clone())
        .filter(|p| p["takes_key"] == true)
        .collect();
    assert!(presets.iter().any(|p| p["kind"] == "vllm"), "{presets:?}");
    for preset in presets {
        let kind = preset["kind"].as_str().unwrap();
        let base = if kind == "anthropic" {
            server.url()
        } else {
            server.openai_base()
        };
        t.ok::<Value>(
            "save_settings",
            json!({ "update": {
                "default_model": "demo",
                "providers": [ { "kind": kind, "base_url": base, "default_model": "test-model" } ],
                "idle_timeout_secs": 10 } }),
        );
        let key = format!("sk-{kind}");
        t.ok::<String>("set_api_key", json!({ "provider": kind, "key": key }));
        let before = server.requests().len();
        let answer: Value = t.ok("test_connection", json!({ "provider": kind }));
        assert_eq!(answer["ok"], true, "{kind}: {answer}");
        let sent = server.requests()[before..].iter().any(|r| {
            r.header("authorization") == Some(format!("Bearer {key}").as_str())
                || r.header("x-api-key") == Some(key.as_str())
        });
        assert!(sent, "{kind}: its key was not sent");
    }
}

/// A limit in the settings file too large for the window's number is shown as the limit in force
/// (a day), not cut to its low 32 bits (4294967297 s read as 1 s).
#[test]
fn a_huge_idle_timeout_is_shown_as_the_limit_in_force() {
    let root = temp_root("huge-idle");
    let file = stepwise_app::paths::AppPaths::under(&root).settings_file;
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "[network]\nidle_timeout_secs = 4294967297\n").unwrap();
    let t = app_in(
        root,
        INSTANT,
        Duration::ZERO,
        std::sync::Arc::new(stepwise_app::attention::Quiet),
    );
    let view: Value = t.ok("get_settings", json!({}));
    assert_eq!(view["idle_timeout_secs"], 24 * 3600, "{view}");
}
