//! The commands the webview may call (each allowed by name in the capabilities). They translate
//! between IPC and the engine; the work happens in the engine, the store and the bridge.

pub mod runs;
pub mod settings;
pub mod workflows;

use stepwise_engine::RunId;

use crate::error::AppError;

/// Run ids cross IPC as strings.
pub(crate) fn parse_run_id(text: &str) -> Result<RunId, AppError> {
    text.trim()
        .parse()
        .map_err(|_| AppError::InvalidRunId(text.to_string()))
}
