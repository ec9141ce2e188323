//! Templates and the user's own workflows.

use std::sync::Arc;

use stepwise_engine::WorkflowDraft;
use stepwise_engine::workflow::templates::{self, Template};
use tauri::State;

use super::blocking;
use crate::error::AppError;
use crate::state::AppState;
use crate::workflows::SavedWorkflow;

/// The built-in templates (all on the offline demo model).
#[tauri::command]
#[specta::specta]
pub fn list_templates() -> Vec<Template> {
    templates::all()
}

#[tauri::command]
#[specta::specta]
pub async fn list_workflows(
    state: State<'_, Arc<AppState>>,
) -> Result<Vec<SavedWorkflow>, AppError> {
    blocking(&state, |s| s.workflows.list()).await
}

#[tauri::command]
#[specta::specta]
pub async fn get_workflow(
    state: State<'_, Arc<AppState>>,
    id: String,
) -> Result<SavedWorkflow, AppError> {
    blocking(&state, move |s| s.workflows.get(&id)).await
}

/// Validates and saves; errors name the step and field. Returns the workflow's id.
#[tauri::command]
#[specta::specta]
pub async fn save_workflow(
    state: State<'_, Arc<AppState>>,
    id: Option<String>,
    workflow: WorkflowDraft,
) -> Result<String, AppError> {
    let workflow = workflow.validate().map_err(AppError::InvalidWorkflow)?;
    blocking(&state, move |s| s.workflows.save(id.as_deref(), &workflow)).await
}

#[tauri::command]
#[specta::specta]
pub async fn delete_workflow(
    state: State<'_, Arc<AppState>>,
    id: String,
) -> Result<bool, AppError> {
    blocking(&state, move |s| s.workflows.delete(&id)).await
}
