//! Runs: their shared state, the task that drives one, the step executors, and subscriptions to
//! their events.

mod driver;
mod meter;
mod replayed;
mod state;
pub(crate) mod steps;
mod subscription;
mod waits;

pub(crate) use driver::{DriveContext, drive};
pub(crate) use state::{RunState, now_ms};
pub use subscription::Subscription;
pub use waits::ReviewError;
