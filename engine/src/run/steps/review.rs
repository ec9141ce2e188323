//! A step with `review = true`: when it finishes, its output waits for the person, who approves
//! it, edits it, or sends it back with a note (the step then runs again, told the note). The wait
//! races the run's token like every other await, so a cancel ends it at once.

use super::{Halt, Scope};
use crate::event::{EventKind, ReviewAnswer};

/// Shows the step's output for review and waits for the person's answer.
pub(super) async fn ask(scope: &Scope, path: &str, output: &str) -> Result<ReviewAnswer, Halt> {
    // Open before asking: an answer may come as soon as the request is out.
    let answer = scope.run.await_review(path);
    if !scope.run.emit(EventKind::ReviewRequested {
        path: path.to_string(),
        output: output.to_string(),
    }) {
        return Err(Halt::Stopped);
    }
    let answer = tokio::select! {
        biased;
        _ = scope.token.cancelled() => return Err(Halt::Stopped),
        answer = answer => answer.map_err(|_| Halt::Stopped)?,
    };
    if !scope.run.emit(EventKind::ReviewAnswered {
        path: path.to_string(),
        answer: answer.clone(),
    }) {
        return Err(Halt::Stopped);
    }
    Ok(answer)
}
