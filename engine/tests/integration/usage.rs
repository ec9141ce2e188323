//! Tokens and cost against a real local server: what both wire formats report, what a stream
//! cut short is estimated at (and marked so), what the prices make of it, what the history
//! keeps and adds up; and the model lists Settings and the picker show.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::support::*;
use stepwise_engine::event::PartialStep;
use stepwise_engine::provider::models::{ProviderState, provider_models};
use stepwise_engine::provider::{DemoModel, DemoPace, OpenAiProvider, Providers};
use stepwise_engine::settings::{ApiKey, Settings};
use stepwise_engine::store::Store;
use stepwise_engine::usage::{Price, PriceTable, count_tokens};
use stepwise_engine::{
    CancelReason, Engine, EngineConfig, EventKind, ModelRef, ProviderKind, RunEvent, Usage,
};
use stepwise_testkit::{Behavior, Fault, Models, PATIENCE, TestServer};

fn engine_with(server: &TestServer, prices: PriceTable, sink: Option<&Store>) -> Engine {
    Engine::new(EngineConfig {
        providers: server_providers(server),
        sink: sink.map(|s| s.sink()),
        prices,
        ..EngineConfig::default()
    })
}

fn completed_usage(events: &[RunEvent]) -> Usage {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::StepCompleted { usage, .. } => *usage,
            _ => None,
        })
        .expect("the step reported usage")
}

/// Runs one step on `model`, cancels it once `marker` has streamed, and gives the steps its
/// `RunCancelled` says were running.
async fn cancelled_after(
    engine: &Engine,
    model: &str,
    marker: &str,
) -> (stepwise_engine::RunId, Vec<PartialStep>) {
    let (id, mut sub) = start(engine, steps(1, model), "tidal energy");
    let mut events = events_until(
        &mut sub,
        |k| matches!(k, EventKind::TextDelta { text, .. } if text.contains(marker)),
    )
    .await;
    assert!(engine.cancel(id, CancelReason::User));
    events.extend(collect(&mut sub).await);
    let EventKind::RunCancelled { running, .. } = assert_well_formed(&events) else {
        panic!("not cancelled")
    };
    (id, running.clone())
}

/// Runs one step to its end on `model` and gives its events.
async fn one_step(engine: &Engine, model: &str) -> Vec<RunEvent> {
    let events = run_one(engine, model).await;
    assert!(matches!(
        assert_well_formed(&events),
        EventKind::RunCompleted { .. }
    ));
    events
}

#[tokio::test]
async fn both_wire_formats_report_usage_and_it_is_priced() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, PriceTable::default(), None);
    for model in ["openai:gpt-5-mini", "anthropic:claude-sonnet-4-5"] {
        server.push(Behavior::words(40, 0));
        let u = completed_usage(&one_step(&engine, model).await);
        // The server reports a quarter of the request's bytes as input, one per word as output.
        let body = server.requests().last().unwrap().body.len() as u32;
        assert_eq!(u.input_tokens, Some(body / 4), "{model}");
        assert_eq!(u.output_tokens, Some(40), "{model}");
        assert!(!u.estimated, "{model}: reported, not estimated");
        let price = PriceTable::default()
            .price_of(&model.parse().unwrap())
            .unwrap();
        let expected = (f64::from(body / 4) * price.input + 40.0 * price.output) / 1e6;
        assert!((u.cost_usd.unwrap() - expected).abs() < 1e-12, "{model}");
    }
}

#[tokio::test]
async fn a_cancelled_openai_stream_is_estimated_and_marked() {
    let server = TestServer::start().await.unwrap();
    let db = scratch_db("usage-cancelled");
    let store = Store::open(&db).unwrap();
    let engine = engine_with(&server, PriceTable::default(), Some(&store));
    server.push(Behavior::words(10_000, 5));
    let (id, running) = cancelled_after(&engine, "openai:gpt-5-mini", "tok20 ").await;
    let step = &running[0];
    let u = step.usage.expect("a cancelled step says what it used");
    assert!(u.estimated, "the provider never said: estimated");
    let model: ModelRef = "openai:gpt-5-mini".parse().unwrap();
    // The output is the text it wrote, counted with the model's own tokenizer (o200k).
    assert_eq!(u.output_tokens, Some(count_tokens(&model, &step.text)));
    assert!(u.output_tokens.unwrap() >= 21);
    // The input is what it sent, estimated the same way: close to what the server would say.
    let body = server.requests()[0].body.len() as u32;
    let input = u.input_tokens.unwrap();
    assert!(
        input > 5 && input < body,
        "{input} tokens for a {body}-byte request"
    );
    assert!(u.cost_usd.unwrap() > 0.0);

    // The history keeps the estimate, marked, and adds it up.
    store.flush(PATIENCE).unwrap();
    let saved = store.get_run(id).unwrap().unwrap();
    assert_eq!(saved.steps[0].usage, Some(u));
    assert_eq!(saved.usage, Some(u));
    let listed = store.list_runs(&Default::default()).unwrap();
    assert_eq!(
        listed[0].usage.map(|l| (l.input_tokens, l.estimated)),
        Some((u.input_tokens, true))
    );
    let spent = store.spending(0).unwrap();
    assert_eq!(
        (spent.runs, spent.usage.unwrap().output_tokens),
        (1, u.output_tokens)
    );
    let md = store
        .export(id, stepwise_engine::store::ExportFormat::Markdown)
        .unwrap()
        .unwrap();
    assert!(md.contains("*Tokens and cost: ≈ "), "{md}");
    let later = store.spending(u64::MAX / 2).unwrap();
    assert_eq!((later.runs, later.usage), (0, None));
}

#[tokio::test]
async fn a_cut_anthropic_stream_keeps_its_reported_input() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, PriceTable::default(), None);
    server.push(Behavior::words(10_000, 5));
    let (_, running) = cancelled_after(&engine, "anthropic:claude-haiku-4-5", "tok5 ").await;
    let u = running[0].usage.unwrap();
    let body = server.requests()[0].body.len() as u32;
    assert_eq!(
        u.input_tokens,
        Some(body / 4),
        "message_start said it: exact"
    );
    assert!(u.estimated, "the output was estimated");
    assert_eq!(
        u.output_tokens,
        Some(running[0].text.len().div_ceil(4) as u32)
    );
}

#[tokio::test]
async fn a_dropped_stream_and_a_refused_key_fail_with_what_they_used() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, PriceTable::default(), None);
    server.push(Behavior::words(10, 0).with_fault(Fault::DropAfter { tokens: 3 }));
    let events = run_one(&engine, "openai:gpt-5-mini").await;
    let usage = events.iter().find_map(|e| match &e.kind {
        EventKind::StepFailed { usage, .. } => Some(*usage),
        _ => None,
    });
    let u = usage
        .unwrap()
        .expect("a step cut off mid-answer is estimated");
    assert!(u.estimated && u.output_tokens.unwrap() > 0);

    server.push(Behavior::status(401, "bad key"));
    let events = run_one(&engine, "openai:gpt-5-mini").await;
    let usage = events.iter().find_map(|e| match &e.kind {
        EventKind::StepFailed { usage, .. } => Some(*usage),
        _ => None,
    });
    assert_eq!(usage, Some(None), "a refused request costs nothing");
}

#[tokio::test]
async fn a_changed_price_changes_the_cost() {
    let server = TestServer::start().await.unwrap();
    let engine = engine_with(&server, PriceTable::default(), None);
    server.push(Behavior::words(100, 0));
    let before = completed_usage(&one_step(&engine, "openai:gpt-5-mini").await);
    let own = BTreeMap::from([(
        "openai:gpt-5-mini".to_string(),
        Price {
            input: 10.0,
            output: 100.0,
        },
    )]);
    engine.reconfigure(
        Providers::demo(DemoModel::new(DemoPace::INSTANT)).with(
            ProviderKind::OpenAi,
            Arc::new(OpenAiProvider::new(
                server.openai_base(),
                Some("k".into()),
                no_retries(),
            )),
        ),
        Default::default(),
        None,
        usize::MAX,
        PriceTable::new(&own, Vec::new()),
    );
    server.push(Behavior::words(100, 0));
    let after = completed_usage(&one_step(&engine, "openai:gpt-5-mini").await);
    let expected = (f64::from(after.input_tokens.unwrap()) * 10.0 + 100.0 * 100.0) / 1e6;
    assert!((after.cost_usd.unwrap() - expected).abs() < 1e-12);
    assert!(after.cost_usd.unwrap() > before.cost_usd.unwrap() * 10.0);
}

#[tokio::test]
async fn the_demo_model_and_local_servers_cost_nothing() {
    let engine = instant_engine();
    let events = one_step(&engine, "demo").await;
    assert_eq!(completed_usage(&events).cost_usd, Some(0.0));
    let mut s = Settings::default();
    s.ollama.base_url = Some("http://127.0.0.1:11434/v1".into());
    s.openai.base_url = Some("http://localhost:1234/v1".into());
    let t = s.price_table();
    for m in ["ollama:llama3.2", "openai:gpt-5-mini", "lmstudio:qwen"] {
        assert_eq!(t.price_of(&m.parse().unwrap()), Some(Price::FREE), "{m}");
    }
    assert!(
        Settings::default()
            .price_table()
            .price_of(&"openai:gpt-5-mini".parse().unwrap())
            .unwrap()
            .input
            > 0.0
    );
}

#[tokio::test]
async fn models_are_listed_from_the_server_and_nothing_running_is_a_state() {
    let server = TestServer::start().await.unwrap();
    server.set_models(Models {
        ids: vec!["qwen2.5-7b".into(), "llama-3.1-8b".into()],
        status: None,
    });
    // A port with nothing on it: bound, then freed.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut s = Settings::default();
    s.lmstudio.base_url = Some(server.openai_base());
    s.llamacpp.base_url = Some(format!("http://{free}/v1"));
    s.anthropic.base_url = Some(server.url());
    s.anthropic.api_key = Some(ApiKey::new("ant-key"));

    let lm = provider_models(&s, ProviderKind::LmStudio).await;
    assert_eq!(lm.state, ProviderState::Ready, "{}", lm.message);
    let refs: Vec<&str> = lm.models.iter().map(|m| m.reference.as_str()).collect();
    assert_eq!(refs, ["lmstudio:llama-3.1-8b", "lmstudio:qwen2.5-7b"]);
    assert!(
        lm.message.contains("Running on this computer — 2 models"),
        "{}",
        lm.message
    );

    let ant = provider_models(&s, ProviderKind::Anthropic).await;
    assert_eq!(ant.state, ProviderState::Ready, "{}", ant.message);
    assert_eq!(ant.models[0].label.as_deref(), Some("Test llama-3.1-8b"));
    let req = server
        .requests()
        .into_iter()
        .find(|r| r.headers.iter().any(|(h, _)| h == "x-api-key"))
        .unwrap();
    assert!(req.path.starts_with("/v1/models"));

    let llama = provider_models(&s, ProviderKind::LlamaCpp).await;
    assert_eq!(llama.state, ProviderState::NotRunning);
    assert_eq!(llama.message, "Not running on this computer");
    assert!(llama.models.is_empty());

    // No key for OpenAI's own address: said without asking anyone.
    let before = server.request_count();
    let openai = provider_models(&Settings::default(), ProviderKind::OpenAi).await;
    assert_eq!(openai.state, ProviderState::NeedsKey);
    assert_eq!(server.request_count(), before);

    server.set_models(Models {
        ids: vec![],
        status: Some(401),
    });
    let rejected = provider_models(&s, ProviderKind::Anthropic).await;
    assert_eq!(rejected.state, ProviderState::KeyRejected);
}
