//! What can go wrong with the history database, in words that say what still works.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, specta::Type)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum StoreError {
    #[error(
        "The history database {0} is in use by another program, so history is unavailable. Runs still work."
    )]
    Locked(String),
    #[error("The history database {0} is read-only, so history is unavailable. Runs still work.")]
    ReadOnly(String),
    #[error(
        "The history database {0} is damaged and was left as it is. History is unavailable; runs still work. Move the file away to start a new history."
    )]
    Corrupt(String),
    #[error(
        "The history database {path} was written by a newer Stepwise (schema {found}, this one knows {supported}) and was left as it is. History is unavailable; runs still work."
    )]
    TooNew {
        path: String,
        found: u32,
        supported: u32,
    },
    #[error(
        "The disk is full: the latest history could not be saved. Runs go on; free some space."
    )]
    Full,
    #[error("Cannot use the history folder {path}: {message}")]
    Io { path: String, message: String },
    #[error("History database error: {0}")]
    Sqlite(String),
    #[error("The run is still going; cancel it before deleting it.")]
    RunIsLive,
    #[error("History was not saved in time: {0}")]
    NotSaved(String),
}

impl StoreError {
    /// Classifies a SQLite error for the database at `path`.
    pub(super) fn from_sqlite(e: &rusqlite::Error, path: &str) -> StoreError {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy | C::DatabaseLocked) => StoreError::Locked(path.to_string()),
            Some(C::ReadOnly) => StoreError::ReadOnly(path.to_string()),
            Some(C::NotADatabase | C::DatabaseCorrupt) => StoreError::Corrupt(path.to_string()),
            Some(C::DiskFull) => StoreError::Full,
            _ => StoreError::Sqlite(e.to_string()),
        }
    }
}
