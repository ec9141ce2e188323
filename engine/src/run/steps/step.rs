//! What every kind of step shares: it is announced, runs under a child of its parent's token
//! (with its timeout, if it has one), waits for its review if it asks for one (and runs again if
//! sent back), and ends with one event — completed, failed, or set aside by `on_error`. A cancel
//! passes straight through: never into `on_error`. A step the run takes from an earlier run
//! (`replay.rs`) is not run at all.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio_util::task::TaskTracker;

use super::replay::Saved;
use super::{Done, Halt, Scope, StepFailure, execute, review};
use crate::event::{ErrorKind, EventKind, ReviewAnswer, SkipReason};
use crate::prompt::{PreviousStep, ReviewNote};
use crate::workflow::{OnError, Step};

/// Runs one step of any kind: `Ok(Some(output))` when it completed (or failed under
/// `on_error = "continue"`), `Ok(None)` when its failure was set aside (`"skip"`).
pub(crate) fn run_step<'a>(
    scope: &'a Scope,
    step: &'a Step,
    previous: Option<&'a PreviousStep>,
) -> Pin<Box<dyn Future<Output = Result<Option<String>, Halt>> + Send + 'a>> {
    Box::pin(async move {
        let info = scope.info(step);
        let path = info.path.clone();
        // A step this run takes from an earlier one (or had finished before it waited).
        let mut waiting_review = None;
        match scope.cx.replay.take(&path) {
            None => {}
            Some(Saved::Review(output)) => waiting_review = Some(output),
            Some(Saved::Output(output)) => {
                announce_reused(scope, &path)?;
                scope.cx.record(&step.id, &output);
                return Ok(Some(output));
            }
            Some(Saved::Skipped(..)) => {
                announce_reused(scope, &path)?;
                return Ok(None);
            }
        }
        if !scope.run.emit(EventKind::StepStarted { step: info }) {
            return Err(Halt::Stopped);
        }
        let mut duration_ms = 0;
        let mut note = None;
        let result = loop {
            let result = match waiting_review.take() {
                Some(output) => Ok(Done::text(output)),
                None => {
                    let started = Instant::now();
                    let result = attempt(scope, step, &path, previous, note.take()).await;
                    duration_ms += started.elapsed().as_millis() as u64;
                    result
                }
            };
            let done = match result {
                Ok(done) if step.review => done,
                other => break other,
            };
            // The person's time is not the step's: it is outside its timeout and its duration.
            match review::ask(scope, &path, &done.output).await {
                Err(halt) => break Err(halt),
                Ok(ReviewAnswer::Approve) => break Ok(done),
                Ok(ReviewAnswer::Edit { text }) => break Ok(Done::text(text)),
                Ok(ReviewAnswer::SendBack { note: text }) => {
                    // A revived run's saved steps inside it do not stand in for the new run.
                    scope.cx.replay.forget_inside(&path);
                    scope.run.forget_replayed_inside(&path);
                    note = Some(ReviewNote {
                        previous: done.output,
                        note: text,
                    });
                }
            }
        };
        finish_step(scope, step, &path, duration_ms, result)
    })
}

/// One run of the step's kind, under a child of its parent's token, within its timeout.
async fn attempt(
    scope: &Scope,
    step: &Step,
    path: &str,
    previous: Option<&PreviousStep>,
    note: Option<ReviewNote>,
) -> Result<Done, Halt> {
    let started = Instant::now();
    let token = scope.token.child_token();
    // Whatever way this step ends, nothing under it keeps running.
    let _stop_inside = token.clone().drop_guard();
    let tracker = step.timeout_secs.map(|_| TaskTracker::new());
    let inner = scope
        .for_step(token.clone(), tracker.as_ref())
        .with_note(note);

    let work = execute(&inner, step, path, previous);
    let timeout = step
        .timeout_secs
        .map(Duration::from_secs)
        .unwrap_or(Duration::MAX);
    tokio::select! {
        biased;
        _ = scope.token.cancelled() => Err(Halt::Stopped),
        r = work => r,
        _ = sleep_at_most(timeout) => {
            // The cancel path: every stream under this step is closed, every branch task
            // ends; then what was still running is reported as stopped by the timeout.
            token.cancel();
            if let Some(t) = &tracker {
                t.close();
                t.wait().await;
            }
            for inside in scope.run.running_inside(path) {
                if !scope.run.emit(EventKind::StepFailed {
                    usage: scope.run.settle_usage(&inside, &scope.cx.prices),
                    path: inside,
                    error: ErrorKind::Timeout,
                    message: format!("Stopped: “{}” ran out of time.", step.name),
                    duration_ms: started.elapsed().as_millis() as u64,
                }) {
                    return Err(Halt::Stopped);
                }
            }
            Err(Halt::Failed(StepFailure {
                path: path.to_string(),
                kind: ErrorKind::Timeout,
                message: format!(
                    "“{}” did not finish within its time limit ({}); it was stopped and \
                     its text so far is kept. Raise `timeout_secs` if it needs longer.",
                    step.name,
                    human_secs(timeout.as_secs())
                ),
            }))
        }
    }
}

/// The step's last event, by its result and `on_error`.
fn finish_step(
    scope: &Scope,
    step: &Step,
    path: &str,
    duration_ms: u64,
    result: Result<Done, Halt>,
) -> Result<Option<String>, Halt> {
    let run = &scope.run;
    let emit = |kind| {
        if run.emit(kind) {
            Ok(())
        } else {
            Err(Halt::Stopped)
        }
    };
    match result {
        Ok(done) => {
            emit(EventKind::StepCompleted {
                path: path.to_string(),
                output: done.output.clone(),
                duration_ms,
                usage: run.settle_usage(path, &scope.cx.prices),
            })?;
            scope.cx.record(&step.id, &done.output);
            Ok(Some(done.output))
        }
        Err(Halt::Stopped) => Err(Halt::Stopped),
        // A cancel that came while this step was failing wins: no `on_error` after a cancel.
        Err(Halt::Failed(_)) if run.is_decided() => Err(Halt::Stopped),
        Err(Halt::Failed(failure)) => {
            let message = if failure.path == path {
                failure.message.clone()
            } else {
                format!("A step inside it failed: {}", failure.message)
            };
            let usage = run.settle_usage(path, &scope.cx.prices);
            if step.on_error == OnError::Skip {
                emit(EventKind::StepSkipped {
                    path: path.to_string(),
                    reason: SkipReason::OnError,
                    message: Some(message),
                    usage,
                })?;
                return Ok(None);
            }
            emit(EventKind::StepFailed {
                path: path.to_string(),
                error: failure.kind,
                message,
                duration_ms,
                usage,
            })?;
            if step.on_error == OnError::Stop {
                return Err(Halt::Failed(failure));
            }
            // `continue`: the text so far stands as the step's output.
            let text = run.step_text(path);
            scope.cx.record(&step.id, &text);
            Ok(Some(text))
        }
    }
}

async fn sleep_at_most(d: Duration) {
    // Far-off deadlines (no timeout) are never reached rather than overflowing the clock.
    match tokio::time::Instant::now().checked_add(d) {
        Some(at) if d < Duration::from_secs(10 * 365 * 86_400) => {
            tokio::time::sleep_until(at).await
        }
        _ => std::future::pending().await,
    }
}

fn human_secs(s: u64) -> String {
    if s.is_multiple_of(60) && s >= 60 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// Announces a step this run takes from an earlier one, and everything inside it.
fn announce_reused(scope: &Scope, path: &str) -> Result<(), Halt> {
    for event in scope.cx.replay.reused_events(path) {
        if !scope.run.emit(event) {
            return Err(Halt::Stopped);
        }
    }
    Ok(())
}
