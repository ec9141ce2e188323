//! The model picker's and Settings' commands, prices, History's totals and the About box, through
//! IPC on the mock runtime against a real local server.

use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};
use stepwise_testkit::{Behavior, Models, TestServer};

/// `save_settings` arguments pointing LM Studio at `base`, everything else as a fresh install.
fn lmstudio_at(base: &str, default_model: &str) -> Value {
    json!({ "update": {
        "default_model": default_model,
        "providers": [ { "kind": "lm_studio", "base_url": base, "default_model": "" } ],
        "idle_timeout_secs": 10 } })
}

#[test]
fn models_are_listed_from_every_provider_and_a_picked_one_runs() {
    let rt = server_runtime();
    let server = rt.block_on(TestServer::start()).unwrap();
    server.set_models(Models {
        ids: vec!["qwen2.5-7b-instruct".into()],
        status: None,
    });
    server.set_default(Behavior::words(5, 0));
    let t = app("models", INSTANT, Duration::ZERO);
    t.ok::<Value>("save_settings", lmstudio_at(&server.openai_base(), "demo"));

    let all: Value = t.ok("list_models", json!({}));
    let by_kind = |kind: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|p| p["kind"] == kind)
            .unwrap()
            .clone()
    };
    let lm = by_kind("lm_studio");
    assert_eq!(lm["state"], "ready", "{lm}");
    assert_eq!(lm["models"][0]["reference"], "lmstudio:qwen2.5-7b-instruct");
    assert_eq!(by_kind("open_ai")["state"], "needs_key");
    assert_eq!(by_kind("anthropic")["state"], "needs_key");
    assert_eq!(
        all.as_array().unwrap().len(),
        6,
        "every provider has its card"
    );

    // The model picked becomes the default, and a step that names none runs on it.
    t.ok::<Value>(
        "save_settings",
        lmstudio_at(&server.openai_base(), "lmstudio:qwen2.5-7b-instruct"),
    );
    let wf = json!({ "name": "Default", "description": "", "steps": [
        { "name": "Answer", "instructions": "Answer." } ] });
    let run: String = t.ok(
        "start_run",
        json!({ "workflow": wf, "input": "hi", "runId": null }),
    );
    let events = t.wait_end(&run);
    assert!(matches!(
        events.last().unwrap().kind,
        stepwise_engine::EventKind::RunCompleted { .. }
    ));
    let asked = server
        .requests()
        .into_iter()
        .rfind(|r| r.path.ends_with("/chat/completions"))
        .unwrap();
    let body: Value = serde_json::from_str(&asked.body).unwrap();
    assert_eq!(body["model"], "qwen2.5-7b-instruct");

    // The card's state again, pointed where nothing listens: said in words, not an error.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    t.ok::<Value>(
        "save_settings",
        lmstudio_at(&format!("http://{free}/v1"), "demo"),
    );
    let again: Value = t.ok("provider_state", json!({ "provider": "lm_studio" }));
    assert_eq!(again["state"], "not_running");
    assert_eq!(again["message"], "Not running on this computer");
    let demo = t.call("provider_state", json!({ "provider": "demo" }));
    assert_eq!(demo.unwrap_err()["kind"], "settings");
}

#[test]
fn prices_are_edited_reset_and_refused_when_wrong() {
    let t = app("prices", INSTANT, Duration::ZERO);
    let view: Value = t.ok("get_prices", json!({}));
    assert_eq!(view["defaults_dated"].as_str().unwrap().len(), 10);
    let row = |v: &Value, model: &str| {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["model"] == model)
            .cloned()
    };
    assert_eq!(
        row(&view, "openai:gpt-5-mini").unwrap()["price"]["input"],
        0.25
    );

    let changed: Value = t.ok(
        "set_price",
        json!({ "model": "openai:gpt-5-mini", "price": { "input": 1.0, "output": 3.0 } }),
    );
    let r = row(&changed, "openai:gpt-5-mini").unwrap();
    assert_eq!(
        (r["price"]["input"].clone(), r["default"]["input"].clone()),
        (json!(1.0), json!(0.25))
    );
    // Kept in the settings file, which the CLI reads too.
    let file = std::fs::read_to_string(t.root.join("config/settings.toml")).unwrap();
    assert!(file.contains("[prices"), "{file}");

    let added: Value = t.ok(
        "set_price",
        json!({ "model": "ollama:my-model", "price": { "input": 0.0, "output": 0.0 } }),
    );
    assert!(row(&added, "ollama:my-model").unwrap()["default"].is_null());
    let reset: Value = t.ok(
        "set_price",
        json!({ "model": "openai:gpt-5-mini", "price": null }),
    );
    assert_eq!(
        row(&reset, "openai:gpt-5-mini").unwrap()["price"]["input"],
        0.25
    );
    let removed: Value = t.ok(
        "set_price",
        json!({ "model": "ollama:my-model", "price": null }),
    );
    assert!(row(&removed, "ollama:my-model").is_none());

    for (model, price) in [
        ("gpt4", json!({ "input": 1.0, "output": 1.0 })),
        ("openai:x", json!({ "input": -1.0, "output": 1.0 })),
    ] {
        let e = t
            .call("set_price", json!({ "model": model, "price": price }))
            .unwrap_err();
        assert_eq!(e["kind"], "settings", "{e}");
    }
}

#[test]
fn history_totals_count_the_runs_of_a_period_and_about_says_the_version() {
    let t = app("spending", INSTANT, Duration::ZERO);
    let run = t.start_template("research-and-write", "tidal energy");
    t.wait_end(&run);
    t.flush_history();
    let spent: Value = t.ok("spending", json!({ "sinceMs": [0.0, 4.0e12] }));
    assert_eq!(spent[0]["runs"], 1);
    assert!(spent[0]["usage"]["output_tokens"].as_u64().unwrap() > 0);
    assert_eq!(spent[0]["usage"]["cost_usd"], 0.0, "the demo model is free");
    assert_eq!(spent[1]["runs"], 0);
    assert!(spent[1]["usage"].is_null());

    let about: Value = t.ok("about", json!({}));
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(about["name"], "Stepwise");
}
