//! Starting, cancelling and reading runs; the run history.

use serde::{Deserialize, Serialize};
use stepwise_engine::store::{ExportFormat, RunFilter, markdown};
use stepwise_engine::{CancelReason, RunSnapshot, RunStatus, RunSummary, StartRun, WorkflowDraft};
use tauri::State;

use super::parse_run_id;
use crate::error::AppError;
use crate::state::{AppState, HistoryStatus};

/// Starts a run and returns its id. With `run_id` (chosen by the UI) a repeated call — a webview
/// reload re-sending it — returns the run already started instead of starting another.
#[tauri::command]
#[specta::specta]
pub async fn start_run(
    state: State<'_, AppState>,
    workflow: WorkflowDraft,
    input: String,
    run_id: Option<String>,
) -> Result<String, AppError> {
    let run_id = run_id.as_deref().map(parse_run_id).transpose()?;
    let workflow = workflow.validate().map_err(AppError::InvalidWorkflow)?;
    let (id, sub) = state.engine.start_subscribed(StartRun {
        workflow,
        input,
        run_id,
    })?;
    state.bridge.follow(id, sub);
    Ok(id.to_string())
}

/// True only when this call stopped a live run; false for an unknown or finished run.
#[tauri::command]
#[specta::specta]
pub fn cancel_run(state: State<'_, AppState>, run_id: String) -> Result<bool, AppError> {
    let id = parse_run_id(&run_id)?;
    let stopped = state.engine.cancel(id, CancelReason::User);
    tracing::info!(run_id = %id, stopped, "cancel requested");
    Ok(stopped)
}

/// The run as the webview should apply it: for a run this app is forwarding, exactly what has
/// been sent so far (apply `run-update`s with a higher `seq` on top); otherwise from the history.
#[tauri::command]
#[specta::specta]
pub fn get_run(
    state: State<'_, AppState>,
    run_id: String,
) -> Result<Option<RunSnapshot>, AppError> {
    let id = parse_run_id(&run_id)?;
    if let Some(snap) = state.bridge.snapshot(id) {
        return Ok(Some(snap));
    }
    match &state.store {
        Some(store) => Ok(store.get_run(id)?),
        None => Ok(state.engine.get(id)),
    }
}

/// Runs for a list: live runs of this session first, then the history (newest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunList {
    pub runs: Vec<RunSummary>,
    pub history: HistoryStatus,
}

#[tauri::command]
#[specta::specta]
pub fn list_runs(state: State<'_, AppState>, filter: RunFilter) -> Result<RunList, AppError> {
    let first_page = filter.offset.unwrap_or(0) == 0;
    let mut runs: Vec<RunSummary> = if first_page {
        let words: Vec<String> = filter
            .search
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        state
            .engine
            .list()
            .into_iter()
            .rev()
            .filter(|r| r.status.is_live())
            .filter(|r| filter.status.is_none_or(|s| s == r.status))
            .filter(|r| {
                filter
                    .workflow
                    .as_ref()
                    .is_none_or(|w| *w == r.workflow_name)
            })
            .filter(|r| words.iter().all(|w| r.input.to_lowercase().contains(w)))
            .collect()
    } else {
        Vec::new()
    };
    if let Some(store) = &state.store {
        let live_only = filter.status.is_some_and(RunStatus::is_live);
        if !live_only {
            for r in store.list_runs(&filter)? {
                if !runs.iter().any(|l| l.run_id == r.run_id) {
                    runs.push(r);
                }
            }
        }
    }
    Ok(RunList {
        runs,
        history: state.history.clone(),
    })
}

#[tauri::command]
#[specta::specta]
pub fn delete_run(state: State<'_, AppState>, run_id: String) -> Result<bool, AppError> {
    let id = parse_run_id(&run_id)?;
    let store = state
        .store
        .as_ref()
        .ok_or_else(|| history_unavailable(&state))?;
    let deleted = store.delete_run(id)?;
    state.bridge.forget(id);
    Ok(deleted)
}

/// The run as Markdown or JSON, from the history (or, without one, from this session).
#[tauri::command]
#[specta::specta]
pub fn export_run(
    state: State<'_, AppState>,
    run_id: String,
    format: ExportFormat,
) -> Result<Option<String>, AppError> {
    let id = parse_run_id(&run_id)?;
    if let Some(store) = &state.store {
        if let Some(s) = store.flush(std::time::Duration::from_secs(2)).err() {
            tracing::warn!("history flush before export: {s}");
        }
        return Ok(store.export(id, format)?);
    }
    Ok(state.engine.get(id).map(|run| match format {
        ExportFormat::Markdown => markdown(&run),
        ExportFormat::Json => serde_json::to_string_pretty(&run).unwrap_or_default(),
    }))
}

fn history_unavailable(state: &AppState) -> AppError {
    AppError::HistoryUnavailable(state.history.message.clone().unwrap_or_default())
}
