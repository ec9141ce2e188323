//! The Stepwise workflow engine: workflows, runs and their events, cancellation, model providers.
//!
//! It knows nothing of Tauri or of any UI. A front end starts runs through [`Engine`], follows
//! them with [`Engine::subscribe`] (a snapshot, then every later [`RunEvent`]) and stops them with
//! [`Engine::cancel`].
//!
//! ```text
//! Engine::start ──▶ driver task ──▶ provider stream ──▶ RunState::emit ──▶ subscribers
//!        cancel ──▶ RunState::decide (one outcome, atomically) ──▶ token ──▶ stream dropped
//! ```

/// The app's identifier: its data folder (history) and config are named after it.
pub const APP_IDENTIFIER: &str = "org.stepwise.desktop";

pub mod cluster;
pub mod control;
pub mod engine;
pub mod event;
pub mod failure;
pub mod files;
pub mod model_ref;
pub mod owner;
mod prompt;
pub mod provider;
pub mod resume;
mod run;
pub mod settings;
pub mod sink;
pub mod snapshot;
pub mod status;
pub mod store;
pub mod tool;
pub mod usage;
pub mod user_config;
pub mod workflow;

pub use engine::{Engine, EngineConfig, StartError, StartRun};
pub use event::{
    ApprovalAnswer, CancelReason, ErrorKind, EventKind, ResumedFrom, ReviewAnswer, RunEvent, RunId,
    StepInfo, Usage,
};
pub use model_ref::{ModelRef, ModelRefError, ProviderKind};
pub use owner::{OWNER_KINDS, Owner, OwnerKind, OwnerKindInfo};
pub use resume::{ResumeError, ResumeRun};
pub use run::ReviewError;
pub use run::Subscription;
pub use sink::RunSink;
pub use snapshot::{
    ReviewRound, RunError, RunSnapshot, RunSummary, StepSnapshot, ToolCallStatus, ToolCallView,
};
pub use status::{RunStatus, StepStatus};
pub use workflow::{Step, StepDraft, Workflow, WorkflowDraft, WorkflowError, WorkflowIssue};
