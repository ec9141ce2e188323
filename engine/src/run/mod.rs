//! Runs: their shared state, the task that drives one, and subscriptions to their events.

mod driver;
mod state;
mod subscription;

pub(crate) use driver::{DriveContext, drive};
pub(crate) use state::{RunState, now_ms};
pub use subscription::Subscription;
