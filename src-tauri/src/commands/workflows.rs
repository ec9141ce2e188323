//! Templates and the user's own workflows.

use stepwise_engine::WorkflowDraft;
use stepwise_engine::workflow::templates::{self, Template};
use tauri::State;

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
pub fn list_workflows(state: State<'_, AppState>) -> Result<Vec<SavedWorkflow>, AppError> {
    state.workflows.list()
}

#[tauri::command]
#[specta::specta]
pub fn get_workflow(state: State<'_, AppState>, id: String) -> Result<SavedWorkflow, AppError> {
    state.workflows.get(&id)
}

/// Validates and saves; errors name the step and field. Returns the workflow's id.
#[tauri::command]
#[specta::specta]
pub fn save_workflow(
    state: State<'_, AppState>,
    id: Option<String>,
    workflow: WorkflowDraft,
) -> Result<String, AppError> {
    let workflow = workflow.validate().map_err(AppError::InvalidWorkflow)?;
    state.workflows.save(id.as_deref(), &workflow)
}

#[tauri::command]
#[specta::specta]
pub fn delete_workflow(state: State<'_, AppState>, id: String) -> Result<bool, AppError> {
    state.workflows.delete(&id)
}
