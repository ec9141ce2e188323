//! Errors that cross to the front end: a typed union in TypeScript (`{ kind, detail }`), each with
//! a message a person can act on.

use serde::Serialize;
use stepwise_engine::cluster::ClusterError;
use stepwise_engine::store::StoreError;
use stepwise_engine::{ResumeError, ReviewError, StartError, WorkflowError};

#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, specta::Type)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum AppError {
    /// A workflow did not validate; every issue names its step and field.
    #[error("{0}")]
    InvalidWorkflow(WorkflowError),
    #[error("the input is empty: type what the workflow should work on")]
    EmptyInput,
    #[error("`{0}` is not a run id")]
    InvalidRunId(String),
    #[error("there is no run `{0}` in the history")]
    RunNotFound(String),
    #[error("there is no workflow `{0}`")]
    WorkflowNotFound(String),
    #[error("{0}")]
    History(StoreError),
    #[error("History is unavailable: {0}")]
    HistoryUnavailable(String),
    #[error("{0}")]
    Settings(String),
    #[error("the API key could not be stored: {0}")]
    Secrets(String),
    #[error("Stepwise is closing and starts no new runs")]
    ShuttingDown,
    #[error("{0}")]
    Io(String),
    /// A start re-sent with the id of a run that is already in the history.
    #[error("a run with this id already exists; start it again as a new run")]
    RunExists,
    /// A review answer that could not be taken (the run no longer waits, an empty edit or note).
    #[error("{0}")]
    Review(ReviewError),
    /// A run that cannot be continued from that step (or at all).
    #[error("{0}")]
    Resume(ResumeError),
    /// The Temporal cluster in Settings did not do what was asked: why, and in words.
    #[error("{message}")]
    Cluster {
        error: ClusterError,
        message: String,
    },
    /// A run another Stepwise process owns could not take the request; its words.
    #[error("{0}")]
    OtherProcess(String),
    /// A bug in Stepwise (a background task failed); the message says what.
    #[error("{0}")]
    Internal(String),
}

impl From<StartError> for AppError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::EmptyInput => AppError::EmptyInput,
            StartError::InvalidWorkflow(w) => AppError::InvalidWorkflow(w),
            StartError::ShuttingDown => AppError::ShuttingDown,
            StartError::RunExists => AppError::RunExists,
            StartError::Resume(e) => AppError::Resume(e),
            StartError::NotWaiting => AppError::Review(ReviewError::NotWaiting),
            StartError::HistoryUnreadable(why) => AppError::HistoryUnavailable(why),
        }
    }
}

impl From<ClusterError> for AppError {
    fn from(error: ClusterError) -> Self {
        AppError::Cluster {
            message: format!("The cluster: {error}"),
            error,
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::History(e)
    }
}
