//! Engine settings the CLI takes from its environment.

use std::time::Duration;

use stepwise_engine::EngineConfig;
use stepwise_engine::provider::{DemoModel, DemoPace, Providers};

/// `STEPWISE_DEMO_FIRST_TOKEN_MS` and `STEPWISE_DEMO_WORD_MS` set the demo model's pace
/// (default: 400 ms, then 33 ms a word; `0` for no waiting).
pub fn engine_config() -> Result<EngineConfig, String> {
    let mut pace = DemoPace::HUMAN;
    if let Some(ms) = env_ms("STEPWISE_DEMO_FIRST_TOKEN_MS")? {
        pace.first_token = ms;
    }
    if let Some(ms) = env_ms("STEPWISE_DEMO_WORD_MS")? {
        pace.per_word = ms;
    }
    Ok(EngineConfig {
        providers: Providers::demo(DemoModel::new(pace)),
        default_model: None,
    })
}

fn env_ms(name: &str) -> Result<Option<Duration>, String> {
    match std::env::var(name) {
        Err(_) => Ok(None),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| format!("{name} must be a whole number of milliseconds, not `{v}`")),
    }
}
