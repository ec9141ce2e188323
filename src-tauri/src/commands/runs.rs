//! Starting, cancelling and reading runs; the run history.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stepwise_engine::store::{ExportFormat, RunFilter, matches_search, render};
use stepwise_engine::{CancelReason, RunSnapshot, RunStatus, RunSummary, StartRun, WorkflowDraft};
use tauri::State;

use super::{blocking, parse_run_id};

use crate::error::AppError;
use crate::state::{AppState, HistoryStatus};

/// Starts a run and returns its id. With `run_id` (chosen by the UI) a repeated call — a webview
/// reload re-sending it — returns the run already started instead of starting another.
#[tauri::command]
#[specta::specta]
pub async fn start_run(
    state: State<'_, Arc<AppState>>,
    workflow: WorkflowDraft,
    input: String,
    run_id: Option<String>,
) -> Result<String, AppError> {
    let run_id = run_id.as_deref().map(parse_run_id).transpose()?;
    let workflow = workflow.validate().map_err(AppError::InvalidWorkflow)?;
    // Settings → Where runs go: the cluster.
    if let Some(cluster) = state.cluster_for_runs() {
        let id = crate::cluster::send(&state, cluster, workflow, input, run_id).await?;
        return Ok(id.to_string());
    }
    // Starting may read the history (is this id taken?): off the async workers.
    let id = blocking(&state, move |s| {
        let (id, sub) = s.engine.start_subscribed(StartRun {
            workflow,
            input,
            run_id,
        })?;
        s.bridge.follow(id, sub);
        Ok(id)
    })
    .await?;
    Ok(id.to_string())
}

/// True only when this call stopped a live run; false for an unknown or finished run.
#[tauri::command]
#[specta::specta]
pub async fn cancel_run(state: State<'_, Arc<AppState>>, run_id: String) -> Result<bool, AppError> {
    let id = parse_run_id(&run_id)?;
    let stopped = if let Some(cluster) = state.cluster_runs.cluster_of(id) {
        // A run on the cluster: cancelled both ways, at its worker and through Temporal.
        cluster.cancel(id).await.map_err(AppError::from)?
    } else if let Some(owner) = state.others.client(id) {
        // Another process's run: its owner cancels it (gone, it had ended with its owner).
        owner.cancel(id).await.unwrap_or(false)
    } else {
        state.engine.cancel(id, CancelReason::User)
    };
    tracing::info!(run_id = %id, stopped, "cancel requested");
    Ok(stopped)
}

/// The run as the webview should apply it: for a run this app is forwarding, exactly what has
/// been sent so far (apply `run-update`s with a higher `seq` on top); otherwise from the history.
#[tauri::command]
#[specta::specta]
pub async fn get_run(
    state: State<'_, Arc<AppState>>,
    run_id: String,
) -> Result<Option<RunSnapshot>, AppError> {
    let id = parse_run_id(&run_id)?;
    if let Some(snap) = state.bridge.snapshot(id) {
        return Ok(Some(snap));
    }
    blocking(&state, move |s| {
        // A run that has just ended is still in the engine (the history may be a batch behind);
        // the runs that continue it are the history's to say (a run shows without them if the
        // history cannot be read).
        if let Some(mut snap) = s.engine.get(id) {
            if let Some(store) = &s.store {
                snap.continued_in = store.continued_in(id).unwrap_or_default();
            }
            return Ok(Some(snap));
        }
        match &s.store {
            Some(store) => Ok(store.get_run(id)?),
            None => Ok(None),
        }
    })
    .await
}

/// Runs for a list: live runs of this session first, then the history (newest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RunList {
    pub runs: Vec<RunSummary>,
    pub history: HistoryStatus,
}

#[tauri::command]
#[specta::specta]
pub async fn list_runs(
    state: State<'_, Arc<AppState>>,
    filter: RunFilter,
) -> Result<RunList, AppError> {
    blocking(&state, move |s| list(s, filter)).await
}

fn list(state: &AppState, filter: RunFilter) -> Result<RunList, AppError> {
    let first_page = filter.offset.unwrap_or(0) == 0;
    // The runs this window follows on the cluster are live here too (the history may be a
    // batch behind).
    let on_cluster = state
        .cluster_runs
        .ids()
        .into_iter()
        .filter_map(|id| state.bridge.snapshot(id))
        .map(|s| s.summary());
    let mut runs: Vec<RunSummary> = if first_page {
        state
            .engine
            .list()
            .into_iter()
            .rev()
            .chain(on_cluster)
            .filter(|r| r.status.is_live())
            .filter(|r| filter.status.is_none_or(|s| s == r.status))
            .filter(|r| {
                filter
                    .workflow
                    .as_ref()
                    .is_none_or(|w| *w == r.workflow_name)
            })
            .filter(|r| {
                filter
                    .search
                    .as_deref()
                    .is_none_or(|q| matches_search(q, &r.input))
            })
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
        history: state.history_status(),
    })
}

#[tauri::command]
#[specta::specta]
pub async fn delete_run(state: State<'_, Arc<AppState>>, run_id: String) -> Result<bool, AppError> {
    let id = parse_run_id(&run_id)?;
    blocking(&state, move |s| {
        let store = s.store.as_ref().ok_or_else(|| history_unavailable(s))?;
        let deleted = store.delete_run(id)?;
        s.bridge.forget(id);
        s.engine.forget(id);
        Ok(deleted)
    })
    .await
}

/// The run as Markdown or JSON, from the history (or, without one, from this session).
#[tauri::command]
#[specta::specta]
pub async fn export_run(
    state: State<'_, Arc<AppState>>,
    run_id: String,
    format: ExportFormat,
) -> Result<Option<String>, AppError> {
    let id = parse_run_id(&run_id)?;
    blocking(&state, move |s| export(s, id, format)).await
}

fn export(
    state: &AppState,
    id: stepwise_engine::RunId,
    format: ExportFormat,
) -> Result<Option<String>, AppError> {
    if let Some(store) = &state.store {
        if let Some(s) = store.flush(std::time::Duration::from_secs(2)).err() {
            tracing::warn!("history flush before export: {s}");
        }
        return Ok(store.export(id, format)?);
    }
    // No history: what this session still holds, in the same document form.
    Ok(state
        .engine
        .get(id)
        .map(|run| render(&run, None, &[], format)))
}

fn history_unavailable(state: &AppState) -> AppError {
    AppError::HistoryUnavailable(state.history.message.clone().unwrap_or_default())
}
