//! What a run waits on from the person: reviews of steps' outputs, and tool calls to allow. Each
//! is a one-shot channel kept by where it waits, so an answer reaches the step that waits — or,
//! for a revived run, is kept until its step gets back to the review.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::oneshot;

use crate::event::{ApprovalAnswer, ReviewAnswer};
use crate::tool::Grant;

/// Why a review answer was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReviewError {
    #[error("no step of this run waits for a review there (it was answered, or the run ended)")]
    NotWaiting,
    #[error("the edited text is empty: write the text the next steps should get")]
    EmptyEdit,
    #[error("the note is empty: say what the step should change")]
    EmptyNote,
}

/// Steps whose output waits for the person's review, by path.
#[derive(Default)]
pub(crate) struct Reviews {
    open: Mutex<HashMap<String, Review>>,
}

/// A review: the channel its step waits on — its sender until answered, its receiver until the
/// step takes it (a revived run's review can be answered before its step gets back to it).
struct Review {
    tx: Option<oneshot::Sender<ReviewAnswer>>,
    rx: Option<oneshot::Receiver<ReviewAnswer>>,
}

impl Reviews {
    /// Opens the review of the step at `path`; its answer can be given from now on.
    pub fn open(&self, path: &str) {
        let (tx, rx) = oneshot::channel();
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                path.to_string(),
                Review {
                    tx: Some(tx),
                    rx: Some(rx),
                },
            );
    }

    /// The step at `path` waits for its review: the answer arrives on the receiver. (A revived
    /// run's review was opened when it came back, and may already hold its answer.)
    pub fn wait(&self, path: &str) -> oneshot::Receiver<ReviewAnswer> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(review) = open.get_mut(path)
            && let Some(rx) = review.rx.take()
        {
            if review.tx.is_none() {
                open.remove(path);
            }
            return rx;
        }
        let (tx, rx) = oneshot::channel();
        open.insert(
            path.to_string(),
            Review {
                tx: Some(tx),
                rx: None,
            },
        );
        rx
    }

    /// Gives the review of the step at `path` its answer.
    pub fn answer(&self, path: &str, answer: ReviewAnswer) -> Result<(), ReviewError> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let review = open.get_mut(path).ok_or(ReviewError::NotWaiting)?;
        let tx = review.tx.take().ok_or(ReviewError::NotWaiting)?;
        if review.rx.is_none() {
            open.remove(path);
        }
        tx.send(answer).map_err(|_| ReviewError::NotWaiting)
    }
}

/// Tool calls waiting for the person, by step path and call id (ids are the model's, unique
/// only within a step): their answer's channel and what "Allow always" would allow.
#[derive(Default)]
pub(crate) struct Approvals {
    waiting: Mutex<HashMap<(String, String), Waiting>>,
}

/// A call waiting for the person: where the answer goes, and what "Allow always" would allow.
type Waiting = (oneshot::Sender<ApprovalAnswer>, Grant);

impl Approvals {
    /// Registers a call that waits for the person; the answer arrives on the receiver.
    pub fn wait(
        &self,
        path: &str,
        call_id: &str,
        grant: Grant,
    ) -> oneshot::Receiver<ApprovalAnswer> {
        let (tx, rx) = oneshot::channel();
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        // Calls that stopped waiting (a timeout, a cancel) leave their entries: clear them.
        waiting.retain(|_, (tx, _)| !tx.is_closed());
        waiting.insert((path.to_string(), call_id.to_string()), (tx, grant));
        rx
    }

    /// Answers a waiting call; what "Allow always" allows for it if one was waiting (and still
    /// is).
    pub fn answer(&self, path: &str, call_id: &str, answer: ApprovalAnswer) -> Option<Grant> {
        let (tx, grant) = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(path.to_string(), call_id.to_string()))?;
        tx.send(answer).ok().map(|()| grant)
    }
}
