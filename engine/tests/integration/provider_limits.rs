//! What a hostile, broken or unlucky server cannot do to a step: keep it alive with keep-alives,
//! hide an invalid byte until the connection ends, make it buffer a giant line, lead a key to
//! another host, or get a key over plain http. And the length limit every request carries.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use stepwise_engine::provider::{
    AnthropicProvider, DemoModel, HttpOptions, OpenAiProvider, Providers, RetryPolicy,
};
use stepwise_engine::{Engine, EngineConfig, ErrorKind, EventKind, ProviderKind};
use stepwise_testkit::{Behavior, Fault, PATIENCE, TestServer};

fn options(idle_secs: u64) -> HttpOptions {
    HttpOptions {
        idle_timeout: Duration::from_secs(idle_secs),
        retry: RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        },
    }
}

fn engine_at(openai_base: &str, anthropic_base: &str, idle_secs: u64) -> Engine {
    Engine::new(EngineConfig {
        tools: Default::default(),
        providers: Providers::demo(DemoModel::default())
            .with(
                ProviderKind::OpenAi,
                Arc::new(OpenAiProvider::new(
                    openai_base,
                    Some("sk-test".into()),
                    options(idle_secs),
                )),
            )
            .with(
                ProviderKind::Anthropic,
                Arc::new(AnthropicProvider::new(
                    anthropic_base,
                    Some("ant-secret".into()),
                    1024,
                    options(idle_secs),
                )),
            ),
        ..EngineConfig::default()
    })
}

const MODELS: [&str; 2] = ["openai:m", "anthropic:m"];

#[tokio::test]
async fn keep_alives_do_not_keep_a_silent_step_alive() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_at(&server.openai_base(), &server.url(), 1);
    for model in MODELS {
        server.reset();
        server.push(Behavior::words(3, 0).with_fault(Fault::KeepAliveAfter {
            tokens: 3,
            interval_ms: 200,
        }));
        let events = run_one(&engine, model).await;
        let (kind, msg) = failure(&events);
        assert_eq!(kind, ErrorKind::Timeout, "{model}: {msg}");
        assert_eq!(deltas_of(&events, "step-1"), "tok0 tok1 tok2 ", "{model}");
        assert!(
            server.wait_for_disconnect(0, PATIENCE).await.is_some(),
            "{model}: the connection was closed"
        );
    }
}

#[tokio::test]
async fn an_invalid_byte_fails_the_step_at_once() {
    let server = TestServer::start().await.unwrap();
    // An idle limit far beyond the test: only a prompt check can end this step as `provider`.
    let engine = engine_at(&server.openai_base(), &server.url(), 3600);
    for model in MODELS {
        server.reset();
        server.push(Behavior::words(2, 0).with_fault(Fault::InvalidUtf8After { tokens: 2 }));
        let events = tokio::time::timeout(Duration::from_secs(60), run_one(&engine, model))
            .await
            .expect("the step ended without waiting for the connection to end");
        let (kind, msg) = failure(&events);
        assert_eq!(kind, ErrorKind::Provider, "{model}: {msg}");
        assert!(msg.contains("not UTF-8"), "{msg}");
        assert!(!msg.contains("caf"), "no model text in the message: {msg}");
        assert_eq!(deltas_of(&events, "step-1"), "tok0 tok1 ", "{model}");
    }
}

#[tokio::test]
async fn a_giant_line_is_refused_not_buffered() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_at(&server.openai_base(), &server.url(), 3600);
    for model in MODELS {
        server.reset();
        server.push(Behavior::words(1, 0).with_fault(Fault::HugeLineAfter {
            tokens: 1,
            bytes: 3 * 1024 * 1024,
        }));
        let events = tokio::time::timeout(Duration::from_secs(60), run_one(&engine, model))
            .await
            .expect("the step ended at the limit");
        let (kind, msg) = failure(&events);
        assert_eq!(kind, ErrorKind::Provider, "{model}: {msg}");
        assert!(msg.contains("longer than 1 MB"), "{msg}");
    }
}

#[tokio::test]
async fn keys_never_follow_a_redirect() {
    let server = TestServer::start().await.unwrap();
    let elsewhere = TestServer::start().await.unwrap();
    let engine = engine_at(&server.openai_base(), &server.url(), 10);
    for (model, path) in [
        ("openai:m", "/v1/chat/completions"),
        ("anthropic:m", "/v1/messages"),
    ] {
        server.reset();
        server.push(Behavior::default().with_fault(Fault::Redirect {
            location: format!("{}{path}", elsewhere.url()),
        }));
        let (kind, msg) = failure(&run_one(&engine, model).await);
        assert_eq!(kind, ErrorKind::Provider, "{model}: {msg}");
        assert!(msg.contains("307"), "{msg}");
        assert_eq!(
            elsewhere.request_count(),
            0,
            "{model}: the redirect was followed"
        );
    }
}

#[tokio::test]
async fn a_key_is_never_sent_over_plain_http_to_another_computer() {
    // Refused before any request: no name is looked up, nothing leaves the machine.
    let engine = engine_at(
        "http://models.example.invalid/v1",
        "http://models.example.invalid",
        10,
    );
    for model in MODELS {
        let (kind, msg) = failure(&run_one(&engine, model).await);
        assert_eq!(kind, ErrorKind::InvalidConfig, "{model}: {msg}");
        assert!(
            msg.contains("plain http") && msg.contains("https://"),
            "{msg}"
        );
    }
    // Loopback over http is this computer: fine (every other test relies on it too).
    let server = TestServer::start().await.unwrap();
    let local = engine_at(
        &server.openai_base().replace("127.0.0.1", "localhost"),
        &server.url(),
        10,
    );
    assert!(matches!(
        assert_well_formed(&run_one(&local, "openai:m").await),
        EventKind::RunCompleted { .. }
    ));
}

#[tokio::test]
async fn base_urls_with_secrets_in_them_are_refused_without_quoting_them() {
    let engine = engine_at("https://me:hunter2@api.example.com/v1?key=abc", "", 10);
    let (kind, msg) = failure(&run_one(&engine, "openai:m").await);
    assert_eq!(kind, ErrorKind::InvalidConfig);
    assert!(
        !msg.contains("hunter2") && !msg.contains("key=abc"),
        "{msg}"
    );
}

#[tokio::test]
async fn every_request_carries_a_length_limit() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_at(&server.openai_base(), &server.url(), 10);
    for model in MODELS {
        run_one(&engine, model).await;
    }
    let reqs = server.requests();
    assert_eq!(reqs[0].json()["max_tokens"], 16_384, "OpenAI-compatible");
    assert_eq!(reqs[1].json()["max_tokens"], 1024, "Anthropic");
}
