//! Where the app keeps its files. The real app takes them from Tauri; tests pass temp folders.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct AppPaths {
    /// History database and the user's workflows.
    pub data_dir: PathBuf,
    /// Settings and, without a keychain, the keys file.
    pub config_dir: PathBuf,
    pub log_dir: PathBuf,
}

impl AppPaths {
    /// All three under one folder (tests).
    pub fn under(root: &Path) -> Self {
        AppPaths {
            data_dir: root.join("data"),
            config_dir: root.join("config"),
            log_dir: root.join("logs"),
        }
    }

    pub fn history_db(&self) -> PathBuf {
        self.data_dir.join("history.db")
    }

    pub fn workflows_dir(&self) -> PathBuf {
        self.data_dir.join("workflows")
    }

    pub fn settings_file(&self) -> PathBuf {
        self.config_dir.join("settings.toml")
    }

    pub fn secrets_file(&self) -> PathBuf {
        self.config_dir.join("secrets.toml")
    }
}
