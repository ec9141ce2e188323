//! Settings' sites and proxy for tools through the app's commands, and "Allow always" for an
//! address the model put together: it saves the address's host in `[tools] allow_hosts`, so the
//! next run opens it without asking.

use std::time::Duration;

use crate::support::*;
use serde_json::{Value, json};
use stepwise_engine::EventKind;
use stepwise_testkit::{Behavior, PATIENCE, Page, ScriptedCall, TestServer, eventually};

fn tools_view(hosts: Value, proxy: &str, private: bool) -> Value {
    json!({ "update": {
        "web_search_url": "https://html.duckduckgo.com/html/", "allow_private_network": private,
        "allow_hosts": hosts, "proxy": proxy, "timeout_secs": 60, "servers": [],
    } })
}

fn saved(t: &TestApp) -> String {
    std::fs::read_to_string(t.root.join("config/settings.toml")).unwrap()
}

#[test]
fn sites_and_the_proxy_are_saved_as_sites_and_a_bad_proxy_is_refused() {
    let t = app("tool-sites", INSTANT, Duration::ZERO);
    let view: Value = t.ok(
        "save_tools_settings",
        tools_view(
            json!([
                "https://Docs.Example.com/page?x",
                " example.org ",
                "",
                "example.org"
            ]),
            "http://127.0.0.1:3128",
            false,
        ),
    );
    assert_eq!(
        view["allow_hosts"],
        json!(["docs.example.com", "example.org"])
    );
    assert_eq!(view["proxy"], "http://127.0.0.1:3128");
    let file = saved(&t);
    assert!(
        file.contains("allow_hosts = [") && file.contains("proxy = \"http://127.0.0.1:3128\""),
        "{file}"
    );

    for (hosts, proxy, says) in [
        (json!([]), "ftp://proxy:21", "not a proxy address"),
        (json!(["not a site"]), "", "not a site"),
    ] {
        let e = t
            .call("save_tools_settings", tools_view(hosts, proxy, false))
            .unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
    }
    // Emptied: no proxy.
    let view: Value = t.ok("save_tools_settings", tools_view(json!([]), " ", false));
    assert_eq!(view["proxy"], "");
    assert!(!saved(&t).contains("proxy"));
}

#[test]
fn allow_always_for_an_address_saves_its_host() {
    let rt = server_runtime();
    let server = rt.block_on(TestServer::start()).unwrap();
    server.set_page("/collect", Page::html("<p>thanks</p>"));
    let fetch = |id: &str| {
        Behavior::text(&[], 0).with_calls(
            vec![ScriptedCall::new(
                id,
                "fetch_page",
                json!({ "url": format!("{}/collect?d={id}", server.url()) }),
            )],
            0,
        )
    };
    server.push(fetch("first"));
    server.push(Behavior::text(&["ok"], 0));
    server.push(fetch("later"));
    server.push(Behavior::text(&["ok"], 0));
    let t = app("tool-sites-grant", INSTANT, Duration::ZERO);
    t.ok::<Value>(
        "save_settings",
        json!({ "update": {
            "default_model": "demo",
            "providers": [ { "kind": "open_ai", "base_url": server.openai_base(), "default_model": "test-model" } ],
            "idle_timeout_secs": 10 } }),
    );
    t.ok::<Value>("save_tools_settings", tools_view(json!([]), "", true));
    let workflow = stepwise_engine::workflow::parse(
        "name = \"Read\"\n[[steps]]\nname = \"Read\"\ninstructions = \"Read.\"\n\
         model = \"openai:test-model\"\ntools = [\"fetch_page\"]\n",
        None,
    )
    .unwrap();
    let start = |t: &TestApp| -> String {
        t.ok(
            "start_run",
            json!({ "workflow": workflow, "input": "tides", "runId": null }),
        )
    };
    let id = start(&t);
    let (path, call_id) = eventually(PATIENCE, "the run to ask for an approval", || {
        t.events_of(&id).into_iter().find_map(|e| match e.kind {
            EventKind::ToolApprovalRequested { path, call_id } => Some((path, call_id)),
            _ => None,
        })
    });
    assert!(t.ok::<bool>(
        "answer_tool_call",
        json!({ "runId": id, "path": path, "callId": call_id, "answer": "allow_always" }),
    ));
    t.wait_end(&id);
    let file = saved(&t);
    assert!(file.contains("allow_hosts = [\"127.0.0.1\"]"), "{file}");
    assert!(!file.contains("allow = [\"fetch_page\"]"), "{file}");

    // The next run opens that host without asking.
    let id = start(&t);
    let events = t.wait_end(&id);
    assert!(
        !events
            .iter()
            .any(|e| matches!(e.kind, EventKind::ToolApprovalRequested { .. })),
        "it asked again"
    );
    assert_eq!(
        server
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/collect"))
            .count(),
        2
    );
}
