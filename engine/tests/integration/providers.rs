//! The HTTP providers against a real local server: content, headers, cancellation through the
//! network (the server sees the connection close), every fault, and retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;
use stepwise_engine::provider::{
    AnthropicProvider, DemoModel, DemoPace, HttpOptions, OpenAiProvider, Providers, RetryPolicy,
};
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, ErrorKind, EventKind, ProviderKind, RunEvent, RunStatus,
};
use stepwise_testkit::{Behavior, Fault, PATIENCE, TestServer, eventually_async};

/// The bound on how long after a cancel the server may see the connection close. Generous on
/// purpose (shared CI machines); the providers benchmark measures the real figure.
const CLOSE_BOUND: Duration = Duration::from_secs(2);

fn options() -> HttpOptions {
    HttpOptions {
        idle_timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(20),
            max_wait: Duration::from_secs(5),
        },
    }
}

fn engine_with(server: &TestServer, options: HttpOptions) -> Engine {
    let openai = OpenAiProvider::new(
        server.openai_base(),
        Some("sk-test-123".into()),
        options.clone(),
    );
    let anthropic =
        AnthropicProvider::new(server.url(), Some("ant-test-456".into()), 1024, options);
    Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT))
            .with(ProviderKind::OpenAi, Arc::new(openai))
            .with(ProviderKind::Anthropic, Arc::new(anthropic)),
        default_model: None,
        sink: None,
        ..EngineConfig::default()
    })
}

#[tokio::test]
async fn both_formats_stream_every_token_in_order_with_usage() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, options());
    for model in ["openai:gpt-test", "anthropic:claude-test"] {
        server.push(Behavior::words(500, 0));
        let events = run_one(&engine, model).await;
        assert!(
            matches!(assert_well_formed(&events), EventKind::RunCompleted { .. }),
            "{model}"
        );
        let expected: String = (0..500).map(|i| format!("tok{i} ")).collect();
        assert_eq!(
            deltas_of(&events, "step-1"),
            expected,
            "{model}: every token, in order"
        );
        let usage = events.iter().find_map(|e| match &e.kind {
            EventKind::StepCompleted { usage, .. } => *usage,
            _ => None,
        });
        assert_eq!(usage.unwrap().output_tokens, Some(500), "{model}");
        assert!(usage.unwrap().input_tokens.unwrap() > 0);
    }
    let reqs = server.requests();
    assert!(reqs.iter().all(|r| r.completed && !r.disconnected));
}

#[tokio::test]
async fn requests_carry_auth_identity_encoding_model_and_messages() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, options());
    let wf = workflow_of(
        "name = \"Mixed\"\n[[steps]]\nname = \"First\"\ninstructions = \"Be brief.\"\nmodel = \"openai:gpt-test\"\n\
         [[steps]]\nname = \"Second\"\ninstructions = \"Expand.\"\nmodel = \"anthropic:claude-test\"\n",
    );
    server.push(Behavior {
        tokens: vec!["from ".into(), "openai".into()],
        ..Behavior::words(0, 0)
    });
    server.push(Behavior::words(3, 0));
    let (id, mut sub) = start(&engine, wf, "the question");
    let events = collect(&mut sub).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    assert_eq!(engine.get(id).unwrap().steps[0].text, "from openai");

    let reqs = server.requests();
    assert_eq!(
        reqs.len(),
        2,
        "step 2 used a different provider than step 1"
    );
    let (o, a) = (&reqs[0], &reqs[1]);
    assert_eq!(o.path, "/v1/chat/completions");
    assert_eq!(o.header("authorization"), Some("Bearer sk-test-123"));
    assert_eq!(o.header("accept-encoding"), Some("identity"));
    assert_eq!(o.header("accept"), Some("text/event-stream"));
    let body = o.json();
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(
        body["messages"][0],
        serde_json::json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(
        body["messages"][1],
        serde_json::json!({"role": "user", "content": "the question"})
    );

    assert_eq!(a.path, "/v1/messages");
    assert_eq!(a.header("x-api-key"), Some("ant-test-456"));
    assert_eq!(a.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(a.header("accept-encoding"), Some("identity"));
    assert_eq!(a.header("authorization"), None);
    let body = a.json();
    assert_eq!(
        (body["model"].as_str(), body["system"].as_str()),
        (Some("claude-test"), Some("Expand."))
    );
    assert_eq!(body["max_tokens"], 1024);
    let user = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        user.contains("the question") && user.contains("from openai"),
        "{user}"
    );
}

/// Starts a run, waits until `ready` says so, cancels, and returns (cancel time, events).
async fn cancel_when(
    engine: &Engine,
    model: &str,
    ready: impl Fn(&RunEvent) -> bool,
    server: &TestServer,
) -> (Instant, Vec<RunEvent>) {
    let (id, mut sub) = start(engine, steps(2, model), "the question");
    if !server.wait_for_requests(1, PATIENCE).await {
        panic!("no request arrived");
    }
    let reached = async {
        let mut events = Vec::new();
        while !events.last().is_some_and(&ready) {
            match sub.next().await {
                Some(e) => events.push(e),
                None => panic!("run ended before the cancel point: {events:?}"),
            }
        }
        events
    };
    let mut events = tokio::time::timeout(PATIENCE, reached)
        .await
        .expect("the run never reached the cancel point");
    let t = Instant::now();
    assert!(engine.cancel(id, CancelReason::User));
    events.extend(collect(&mut sub).await);
    (t, events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_closes_the_connection_while_connecting_waiting_and_streaming() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, options());
    type Case = (&'static str, Behavior, fn(&RunEvent) -> bool);
    let cases: [Case; 3] = [
        (
            "waiting for headers",
            Behavior::words(10, 0).with_fault(Fault::HangBeforeHeaders),
            |e| matches!(e.kind, EventKind::StepStarted { .. }),
        ),
        (
            "waiting for the first token",
            Behavior {
                first_token_delay_ms: 60_000,
                ..Behavior::words(10, 10)
            },
            |e| matches!(e.kind, EventKind::StepStarted { .. }),
        ),
        ("mid-stream", Behavior::words(2_000, 20), |e| {
            matches!(e.kind, EventKind::TextDelta { .. })
        }),
    ];
    for (phase, behavior, ready) in cases {
        for model in ["openai:m", "anthropic:m"] {
            server.reset();
            server.push(behavior.clone());
            let (cancelled_at, events) = cancel_when(&engine, model, ready, &server).await;
            assert_eq!(
                cancelled_during(assert_well_formed(&events)),
                [("step-1".to_string(), deltas_of(&events, "step-1"))],
                "{phase}/{model}"
            );
            let seen = server.wait_for_disconnect(0, Duration::from_secs(2)).await;
            let seen = seen.unwrap_or_else(|| {
                panic!("{phase}/{model}: the server never saw the connection close")
            });
            let after = seen.saturating_duration_since(cancelled_at);
            assert!(
                after < CLOSE_BOUND,
                "{phase}/{model}: closed {after:?} after the cancel"
            );
            let rec = &server.requests()[0];
            assert!(
                rec.chunks_after(cancelled_at) <= 2,
                "{phase}/{model}: {} chunks after the cancel",
                rec.chunks_after(cancelled_at)
            );
            assert!(
                !rec.completed && rec.chunks_sent < 100,
                "{phase}/{model}: not drained to the end"
            );
            assert_eq!(
                server.request_count(),
                1,
                "{phase}/{model}: nothing retried or started after"
            );
        }
    }
}

#[tokio::test]
async fn auth_failures_are_not_retried() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, options());
    for code in [401, 403] {
        server.reset();
        server.set_default(Behavior::status(
            code,
            "Incorrect API key provided: sk-te***123",
        ));
        let (kind, msg) = failure(&run_one(&engine, "openai:m").await);
        assert_eq!(kind, ErrorKind::Auth);
        assert!(
            msg.contains("API key was rejected by 127.0.0.1") && msg.contains("Settings"),
            "{msg}"
        );
        assert!(!msg.contains("sk-"), "{msg}");
        assert_eq!(server.request_count(), 1);
    }
    server.reset();
    server.set_default(Behavior::status(401, "invalid x-api-key"));
    assert_eq!(
        failure(&run_one(&engine, "anthropic:m").await).0,
        ErrorKind::Auth
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_twice_then_fail() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, options());
    for (code, kind) in [
        (429, ErrorKind::RateLimit),
        (500, ErrorKind::Provider),
        (503, ErrorKind::Provider),
    ] {
        server.reset();
        server.set_default(Behavior::status(code, "busy"));
        let (got, msg) = failure(&run_one(&engine, "openai:m").await);
        assert_eq!(got, kind, "{code}: {msg}");
        assert!(
            msg.contains("busy"),
            "the provider's words are quoted: {msg}"
        );
        assert_eq!(
            server.request_count(),
            3,
            "{code}: first try and two retries"
        );
    }
}

#[tokio::test]
async fn a_long_retry_after_is_not_waited_for_and_is_reported() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, options());
    server.set_default(Behavior::default().with_fault(Fault::Status {
        code: 429,
        message: "Rate limit reached".into(),
        retry_after_secs: Some(120),
    }));
    let (kind, msg) = failure(&run_one(&engine, "openai:m").await);
    assert_eq!(kind, ErrorKind::RateLimit);
    assert!(msg.contains("Try again in 120 s"), "{msg}");
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn a_retry_that_succeeds_completes_the_run() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, options());
    server.push(Behavior::status(503, "overloaded"));
    server.push(Behavior::status(429, "slow down"));
    server.push(Behavior::words(5, 0));
    let events = run_one(&engine, "anthropic:m").await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    assert_eq!(deltas_of(&events, "step-1"), "tok0 tok1 tok2 tok3 tok4 ");
    assert_eq!(server.request_count(), 3);
}

#[tokio::test]
async fn cancel_during_a_retry_back_off_stops_at_once() {
    let server = TestServer::start().await.unwrap();
    // A back-off of an hour: a run that ends at all before the deadline below was cut short by
    // the cancel, not by the back-off running out.
    let slow_retry = HttpOptions {
        retry: RetryPolicy {
            base_delay: Duration::from_secs(3600),
            max_wait: Duration::from_secs(7200),
            ..options().retry
        },
        ..options()
    };
    let engine = engine_with(&server, slow_retry);
    server.set_default(Behavior::status(503, "down"));
    let (id, mut sub) = start(&engine, steps(1, "openai:m"), "q");
    // The 503 has been sent in full: the provider reads it and starts its back-off.
    eventually_async(PATIENCE, "the 503 to be sent", async || {
        server.requests().first().is_some_and(|r| r.completed)
    })
    .await;
    assert!(engine.cancel(id, CancelReason::User));
    let events = tokio::time::timeout(PATIENCE, collect(&mut sub))
        .await
        .expect("the cancel did not cut the back-off short");
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCancelled { .. }
    ));
    // Once the engine has shut down, none of its tasks is left to send a retry.
    engine.shutdown(CancelReason::AppExit).await;
    assert_eq!(server.request_count(), 1, "no retry after the cancel");
}

#[tokio::test]
async fn a_drop_mid_stream_fails_as_network_keeps_the_text_and_is_not_retried() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, options());
    for model in ["openai:m", "anthropic:m"] {
        server.reset();
        server.push(Behavior::words(10, 0).with_fault(Fault::DropAfter { tokens: 3 }));
        let (id, mut sub) = start(&engine, steps(1, model), "q");
        let events = collect(&mut sub).await;
        let (kind, msg) = failure(&events);
        assert_eq!(kind, ErrorKind::Network, "{model}: {msg}");
        assert!(msg.contains("127.0.0.1"), "{msg}");
        assert_eq!(
            engine.get(id).unwrap().steps[0].text,
            "tok0 tok1 tok2 ",
            "{model}: partial text kept"
        );
        assert_eq!(engine.get(id).unwrap().status, RunStatus::Failed);
        assert_eq!(
            server.request_count(),
            1,
            "{model}: never retried after text was shown"
        );
    }
}

#[tokio::test]
async fn malformed_chunks_and_error_events_fail_as_provider_errors() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, options());
    for model in ["openai:m", "anthropic:m"] {
        server.reset();
        server.push(Behavior::words(10, 0).with_fault(Fault::MalformedAfter { tokens: 2 }));
        let (kind, msg) = failure(&run_one(&engine, model).await);
        assert_eq!(kind, ErrorKind::Provider, "{model}");
        assert!(
            msg.contains("malformed chunk") && msg.contains("not JSON"),
            "{msg}"
        );
        // What the server sent may be the model's text: it is described, never quoted.
        assert!(!msg.contains("oops"), "{msg}");

        server.push(Behavior::words(10, 0).with_fault(Fault::ErrorEventAfter {
            tokens: 4,
            message: "Overloaded".into(),
        }));
        let events = run_one(&engine, model).await;
        let (kind, msg) = failure(&events);
        assert_eq!(kind, ErrorKind::Provider, "{model}");
        assert!(msg.contains("Overloaded"), "{msg}");
        assert_eq!(deltas_of(&events, "step-1"), "tok0 tok1 tok2 tok3 ");
        assert_eq!(server.request_count(), 2, "{model}: no retries after text");
    }
}

#[tokio::test]
async fn silence_ends_the_step_as_timeout() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(
        &server,
        HttpOptions {
            idle_timeout: Duration::from_millis(300),
            ..options()
        },
    );
    // Silence mid-stream, and silence before the headers.
    for fault in [Fault::StallAfter { tokens: 2 }, Fault::HangBeforeHeaders] {
        server.reset();
        server.push(Behavior::words(10, 0).with_fault(fault.clone()));
        let (kind, msg) = failure(&run_one(&engine, "openai:m").await);
        assert_eq!(kind, ErrorKind::Timeout, "{fault:?}: {msg}");
        assert!(msg.contains("sent nothing for"), "{msg}");
        assert!(
            server
                .wait_for_disconnect(0, Duration::from_secs(2))
                .await
                .is_some(),
            "connection closed"
        );
    }
}

#[tokio::test]
async fn a_refused_connection_fails_as_network() {
    // Bind, learn the port, close: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let openai = OpenAiProvider::new(format!("http://127.0.0.1:{port}/v1"), None, options());
    let engine = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::default())
            .with(ProviderKind::OpenAi, Arc::new(openai)),
        default_model: None,
        sink: None,
        ..EngineConfig::default()
    });
    let (kind, msg) = failure(&run_one(&engine, "openai:m").await);
    assert_eq!(kind, ErrorKind::Network);
    assert!(
        msg.contains(&format!("Could not connect to 127.0.0.1:{port}")) && msg.contains("refused"),
        "{msg}"
    );
}

#[tokio::test]
async fn missing_keys_and_bad_base_urls_are_clear_before_any_request() {
    let openai = OpenAiProvider::new("https://api.openai.com/v1", None, options());
    let anthropic = AnthropicProvider::new("https://api.anthropic.com", None, 1024, options());
    let broken = OpenAiProvider::new("localhost:1234/v1", Some("k".into()), options());
    let engine = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::default())
            .with(ProviderKind::OpenAi, Arc::new(openai))
            .with(ProviderKind::Anthropic, Arc::new(anthropic))
            .with(ProviderKind::Ollama, Arc::new(broken)),
        default_model: None,
        sink: None,
        ..EngineConfig::default()
    });
    let (kind, msg) = failure(&run_one(&engine, "openai:gpt-5-mini").await);
    assert_eq!(kind, ErrorKind::Auth);
    assert!(
        msg.contains("No API key for api.openai.com") && msg.contains("OPENAI_API_KEY"),
        "{msg}"
    );
    let (kind, msg) = failure(&run_one(&engine, "anthropic:claude").await);
    assert_eq!(kind, ErrorKind::Auth);
    assert!(msg.contains("ANTHROPIC_API_KEY"), "{msg}");
    let (kind, msg) = failure(&run_one(&engine, "ollama:llama3.2").await);
    assert_eq!(kind, ErrorKind::InvalidConfig);
    assert!(msg.contains("base URL"), "{msg}");
}

#[tokio::test]
async fn local_servers_need_no_key() {
    let server = TestServer::start().await.unwrap();
    let local = OpenAiProvider::new(server.openai_base(), None, options());
    let engine = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::default())
            .with(ProviderKind::Ollama, Arc::new(local)),
        default_model: None,
        sink: None,
        ..EngineConfig::default()
    });
    let events = run_one(&engine, "ollama:llama3.2").await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    let r = &server.requests()[0];
    assert_eq!(r.header("authorization"), None);
    assert_eq!(r.json()["model"], "llama3.2");
}
