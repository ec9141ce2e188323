//! Following a run in the terminal until it ends — or until it waits for a review with nothing
//! else to do, when the run is parked in the history and the command says how to answer it.
//! `run`, `answer` and `resume` all end here.

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::time::Duration;

use stepwise_engine::{
    ApprovalAnswer, CancelReason, Engine, EventKind, RunEvent, RunId, RunStatus, Subscription,
};

use crate::human::HumanView;

pub const EXIT_FAILED: u8 = 1;
/// The run waits for a review (`stepwise answer`).
pub const EXIT_WAITING: u8 = 3;
pub const EXIT_CANCELLED: u8 = 130;

/// The async runtime the commands run on (`None`, said why, if it cannot start).
pub fn runtime() -> Option<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .inspect_err(|e| eprintln!("stepwise: cannot start the async runtime: {e}"))
        .ok()
}

pub struct Follow {
    pub json: bool,
    pub allow_tools: bool,
    pub cancel_after_ms: Option<u64>,
    /// Whether the run is recorded, so that it can wait for a review after this command ends.
    pub history: bool,
    /// Write to the standard error (a background run's log) instead of the standard output.
    pub to_log: bool,
}

pub async fn follow(
    engine: Engine,
    id: RunId,
    mut events: Subscription,
    mut human: HumanView,
    opts: Follow,
) -> ExitCode {
    // Ctrl-C and --cancel-after-ms both take the path a user's click takes: Engine::cancel.
    let on_ctrl_c = engine.clone();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel(id, CancelReason::User);
        }
    });
    if let Some(ms) = opts.cancel_after_ms {
        let e = engine.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            e.cancel(id, CancelReason::User);
        });
    }

    let mut out: BufWriter<Box<dyn Write>> = BufWriter::new(if opts.to_log {
        Box::new(io::stderr().lock())
    } else {
        Box::new(io::stdout().lock())
    });
    // Reviews asked for and not yet answered.
    let mut reviews = 0usize;
    let mut parked = false;
    while let Some(first) = events.next().await {
        // Write everything that has piled up, then flush once: fast runs stay fast.
        let mut next = Some(first);
        let mut written = Ok(());
        while let Some(event) = next {
            match &event.kind {
                EventKind::ToolApprovalRequested { path, call_id } => {
                    let answer = if opts.allow_tools {
                        ApprovalAnswer::Allow
                    } else {
                        ApprovalAnswer::Deny
                    };
                    engine.answer_tool_call(id, path, call_id, answer);
                }
                EventKind::ReviewRequested { .. } => reviews += 1,
                EventKind::ReviewAnswered { .. } => reviews = reviews.saturating_sub(1),
                _ => {}
            }
            written = written.and_then(|()| write_event(&mut out, &mut human, &event, opts.json));
            next = events.try_next();
        }
        if written.and_then(|()| out.flush()).is_err() {
            // Nobody is reading any more (a closed pipe): stop the run rather than work unseen.
            engine.cancel(id, CancelReason::User);
        }
        if reviews > 0 && engine.get(id).is_some_and(|s| s.can_wait_across_restart()) {
            if !opts.history {
                let _ = writeln!(
                    out,
                    "\nThis run waits for your review, but --no-history keeps nothing to answer \
                     later: it is cancelled."
                );
                engine.cancel(id, CancelReason::User);
                continue;
            }
            // Nothing else to do until someone answers: leave the run waiting in the history.
            parked = true;
            break;
        }
    }
    // The run is over (or parked): end the MCP servers it started, with everything they started.
    engine.shutdown(CancelReason::User).await;
    let snapshot = engine.get(id);
    if parked && let Some(s) = &snapshot {
        let _ = human.write_waiting(&mut out, s, opts.json);
    }
    let _ = out.flush();
    match snapshot.map(|s| s.status) {
        Some(RunStatus::Completed) => ExitCode::SUCCESS,
        Some(RunStatus::Cancelled) => ExitCode::from(EXIT_CANCELLED),
        Some(RunStatus::Waiting) => ExitCode::from(EXIT_WAITING),
        _ => ExitCode::from(EXIT_FAILED),
    }
}

pub fn write_event(
    out: &mut impl Write,
    human: &mut HumanView,
    event: &RunEvent,
    json: bool,
) -> io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, event)?;
        out.write_all(b"\n")
    } else {
        human.write(out, event)
    }
}
