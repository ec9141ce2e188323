//! Answering a step's review, and continuing a run that ended from one of its steps.

use std::sync::Arc;

use stepwise_engine::control::ReviewRequest;
use stepwise_engine::workflow::templates;
use stepwise_engine::{ResumeError, ResumeRun, ReviewAnswer, Workflow};
use tauri::State;

use super::{blocking, parse_run_id};
use crate::error::AppError;
use crate::state::AppState;

/// Approves, edits or sends back the output of the step at `path`, which waits for review.
#[tauri::command]
#[specta::specta]
pub async fn answer_review(
    state: State<'_, Arc<AppState>>,
    run_id: String,
    path: String,
    answer: ReviewAnswer,
) -> Result<(), AppError> {
    let id = parse_run_id(&run_id)?;
    if let Some(cluster) = state.cluster_runs.cluster_of(id) {
        // A run on the cluster: answered where it waits (its worker, or Temporal).
        return cluster
            .answer_review(id, &ReviewRequest { path, answer })
            .await
            .map_err(AppError::from);
    }
    match state.others.client(id) {
        // Another process's run: answered there.
        Some(owner) => owner
            .answer_review(id, &ReviewRequest { path, answer })
            .await
            .map_err(|e| AppError::OtherProcess(e.to_string())),
        None => state
            .engine
            .answer_review(id, &path, answer)
            .map_err(AppError::Review),
    }
}

/// Continues a run that ended, as a new run linked to it, from the top-level step `from` (the
/// first that did not finish when `None`), reusing the outputs of the steps before it. With
/// `use_today`, the workflow runs as it is saved today (its steps before `from` must be the same
/// as the run's). Returns the new run's id.
#[tauri::command]
#[specta::specta]
pub async fn resume_run(
    state: State<'_, Arc<AppState>>,
    run_id: String,
    from: Option<String>,
    use_today: bool,
) -> Result<String, AppError> {
    let id = parse_run_id(&run_id)?;
    blocking(&state, move |s| {
        let store = s.store.as_ref().ok_or_else(|| {
            AppError::HistoryUnavailable(s.history.message.clone().unwrap_or_default())
        })?;
        // What this session shows is what the history has, once it is written.
        if let Err(e) = store.flush(std::time::Duration::from_secs(2)) {
            tracing::warn!("history flush before continuing a run: {e}");
        }
        let original = store
            .get_run(id)?
            .ok_or_else(|| AppError::RunNotFound(id.to_string()))?;
        let workflow = store
            .workflow_of(id)?
            .ok_or(AppError::Resume(ResumeError::NoWorkflow))?;
        let today = if use_today {
            Some(todays_version(s, &workflow)?)
        } else {
            None
        };
        let (new_id, sub) = s.engine.resume(ResumeRun {
            original,
            workflow,
            today,
            from,
            run_id: None,
        })?;
        s.bridge.follow(new_id, sub);
        // The earlier run learns of this one from the history (`continued_in`), and the window
        // asks for it as soon as this answers: the new run is written first.
        if let Err(e) = store.flush(std::time::Duration::from_secs(2)) {
            tracing::warn!("history flush after continuing a run: {e}");
        }
        Ok(new_id.to_string())
    })
    .await
}

/// The workflow of that name as it is today: the person's saved one, else the template.
fn todays_version(state: &AppState, ran: &Workflow) -> Result<Workflow, AppError> {
    let saved = state
        .workflows
        .list()?
        .into_iter()
        .find(|w| w.workflow.name == ran.name)
        .map(|w| w.workflow);
    saved
        .or_else(|| {
            templates::all()
                .into_iter()
                .find(|t| t.workflow.name == ran.name)
                .map(|t| t.workflow)
        })
        .ok_or_else(|| AppError::WorkflowNotFound(ran.name.clone()))
}
