//! Start-up does no work it may never need: building providers (every CLI run does) and running
//! on the offline demo model build no HTTP client — building one parses the system's certificate
//! bundle — and every HTTP provider then shares the one client. Its own test binary: the count is
//! per process.

use crate::support::*;
use stepwise_engine::provider::{DemoModel, DemoPace, clients_built};
use stepwise_engine::settings::Settings;
use stepwise_engine::{Engine, EngineConfig, EventKind};
use stepwise_testkit::TestServer;

#[tokio::test]
async fn one_http_client_built_only_when_a_request_needs_it() {
    let server = TestServer::start().await.unwrap();
    let settings: Settings = toml::from_str(&format!(
        "[openai]\nbase_url = \"{0}/v1\"\n[ollama]\nbase_url = \"{0}/v1\"\n[anthropic]\nbase_url = \"{0}\"\napi_key = \"k\"\n",
        server.url()
    ))
    .unwrap();
    let engine = Engine::new(EngineConfig {
        providers: settings.providers(DemoModel::new(DemoPace::INSTANT)),
        ..EngineConfig::default()
    });
    assert_eq!(clients_built(), 0, "setting providers up builds no client");
    let done = |events: &[stepwise_engine::RunEvent]| {
        matches!(assert_well_formed(events), EventKind::RunCompleted { .. })
    };
    assert!(done(&run_one(&engine, "demo").await));
    assert_eq!(clients_built(), 0, "an offline run builds none");
    for model in ["openai:m", "ollama:m", "anthropic:m", "openai:m"] {
        assert!(done(&run_one(&engine, model).await), "{model}");
    }
    assert_eq!(clients_built(), 1, "every provider shares one client");
    assert_eq!(server.request_count(), 4);
}
