//! Where the app keeps its files. The real app takes them from Tauri; tests pass temp folders.

use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct AppPaths {
    /// History database and the user's workflows.
    pub data_dir: PathBuf,
    /// Without a keychain, the keys file.
    pub config_dir: PathBuf,
    pub log_dir: PathBuf,
    /// The settings file, which the `stepwise` command reads too.
    pub settings_file: PathBuf,
}

impl AppPaths {
    /// All three under one folder (tests).
    pub fn under(root: &Path) -> Self {
        AppPaths {
            data_dir: root.join("data"),
            config_dir: root.join("config"),
            log_dir: root.join("logs"),
            settings_file: root.join("config/settings.toml"),
        }
    }

    pub fn history_db(&self) -> PathBuf {
        self.data_dir.join("history.db")
    }

    pub fn workflows_dir(&self) -> PathBuf {
        self.data_dir.join("workflows")
    }

    pub fn secrets_file(&self) -> PathBuf {
        self.config_dir.join("secrets.toml")
    }
}

/// The settings file the app shares with the `stepwise` command (`~/.config/stepwise/settings.toml`,
/// or `STEPWISE_SETTINGS`). Settings an earlier version kept in the app's own config folder move
/// there once.
pub fn shared_settings_file(app_config_dir: &Path, shared: Option<PathBuf>) -> PathBuf {
    let shared = shared.unwrap_or_else(|| app_config_dir.join("settings.toml"));
    let old = app_config_dir.join("settings.toml");
    if old != shared && old.exists() && !shared.exists() {
        let moved = shared
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::rename(&old, &shared));
        if let Err(e) = moved {
            tracing::warn!("could not move the settings to {}: {e}", shared.display());
            return old;
        }
    }
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_from_the_app_folder_move_to_the_shared_file_once() {
        let root = std::env::temp_dir().join(format!("stepwise-paths-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let app = root.join("org.stepwise.desktop");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("settings.toml"), "default_model = \"demo\"\n").unwrap();
        let shared = root.join("stepwise/settings.toml");
        assert_eq!(shared_settings_file(&app, Some(shared.clone())), shared);
        assert!(!app.join("settings.toml").exists());
        assert_eq!(
            std::fs::read_to_string(&shared).unwrap(),
            "default_model = \"demo\"\n"
        );
        // Once moved, a later start uses it as it is.
        std::fs::write(app.join("settings.toml"), "stale").unwrap();
        assert_eq!(shared_settings_file(&app, Some(shared.clone())), shared);
        assert!(std::fs::read_to_string(&shared).unwrap().contains("demo"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
