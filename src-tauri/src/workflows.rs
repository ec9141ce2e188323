//! The user's own workflows: one TOML file each in the app's data folder, edited in the UI.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stepwise_engine::Workflow;
use stepwise_engine::workflow;

use crate::error::AppError;

/// A workflow the user saved, with the id (file name) it is known by.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SavedWorkflow {
    pub id: String,
    #[specta(type = stepwise_engine::WorkflowDraft)]
    pub workflow: Workflow,
}

pub struct Workflows {
    dir: PathBuf,
}

impl Workflows {
    pub fn new(dir: PathBuf) -> Self {
        Workflows { dir }
    }

    /// Every saved workflow, by name. A file that no longer parses is skipped (it stays on disk
    /// and `get` reports what is wrong with it).
    pub fn list(&self) -> Result<Vec<SavedWorkflow>, AppError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(AppError::Io(e.to_string())),
        };
        let mut out: Vec<SavedWorkflow> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .filter_map(|p| {
                let id = p.file_stem()?.to_str()?.to_string();
                let workflow = workflow::parse_file(&p).ok()?;
                Some(SavedWorkflow { id, workflow })
            })
            .collect();
        out.sort_by(|a, b| {
            a.workflow
                .name
                .to_lowercase()
                .cmp(&b.workflow.name.to_lowercase())
        });
        Ok(out)
    }

    pub fn get(&self, id: &str) -> Result<SavedWorkflow, AppError> {
        let path = self.path(id)?;
        if !path.exists() {
            return Err(AppError::WorkflowNotFound(id.to_string()));
        }
        let workflow = workflow::parse_file(&path).map_err(AppError::InvalidWorkflow)?;
        Ok(SavedWorkflow {
            id: id.to_string(),
            workflow,
        })
    }

    /// Validates and writes; a new workflow gets an id from its name. Returns the id.
    pub fn save(&self, id: Option<&str>, workflow: &Workflow) -> Result<String, AppError> {
        workflow.validate().map_err(AppError::InvalidWorkflow)?;
        let id = match id {
            Some(id) => id.to_string(),
            None => self.fresh_id(&workflow.name),
        };
        let path = self.path(&id)?;
        let text = toml::to_string_pretty(workflow).map_err(|e| AppError::Io(e.to_string()))?;
        std::fs::create_dir_all(&self.dir).map_err(|e| AppError::Io(e.to_string()))?;
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(|e| AppError::Io(e.to_string()))?;
        std::fs::rename(&tmp, &path).map_err(|e| AppError::Io(e.to_string()))?;
        Ok(id)
    }

    pub fn delete(&self, id: &str) -> Result<bool, AppError> {
        match std::fs::remove_file(self.path(id)?) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(AppError::Io(e.to_string())),
        }
    }

    /// Ids are file names: lowercase letters, digits and dashes only, so no id can leave the folder.
    fn path(&self, id: &str) -> Result<PathBuf, AppError> {
        let ok = !id.is_empty()
            && id.len() <= 80
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            return Err(AppError::WorkflowNotFound(id.to_string()));
        }
        Ok(self.dir.join(format!("{id}.toml")))
    }

    /// A file name from the workflow's name (the rule that makes step ids), told apart from the
    /// files already there.
    fn fresh_id(&self, name: &str) -> String {
        let taken = |id: &str| Path::new(&self.dir).join(format!("{id}.toml")).exists();
        stepwise_engine::workflow::unique(stepwise_engine::workflow::slug(name, "workflow"), taken)
    }
}
