//! `stepwise answer` and `stepwise resume`: picking a run up again from the history — one that
//! waits for a review, or one that ended and is continued from a step.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use stepwise_engine::control::ReviewRequest;
use stepwise_engine::store::{Store, Waiting};
use stepwise_engine::{
    Engine, OwnerKind, ResumeError, ResumeRun, ReviewAnswer, RunId, RunSnapshot, StartError,
    StepStatus, Subscription,
};

use crate::args::{AnswerArgs, ResumeArgs};
use crate::follow::{EXIT_FAILED, Follow, follow, runtime};
use crate::human::HumanView;
use crate::locate::{Located, locate};
use crate::run::load_workflow;
use crate::{EXIT_BAD_INPUT, config, endpoint, history};

/// `stepwise answer RUN_ID approve | edit FILE | send-back TEXT`.
pub fn answer(args: AnswerArgs) -> ExitCode {
    let answer = match review_answer(&args.action, args.value.as_deref()) {
        Ok(a) => a,
        Err(e) => return bad_input(e),
    };
    let opts = Follow {
        json: args.json,
        allow_tools: args.allow_tools,
        cancel_after_ms: None,
        history: true,
        to_log: false,
    };
    // A run another process holds (the window, another terminal) is answered through it.
    if let Some(code) = answer_elsewhere(&args, &answer) {
        return code;
    }
    if let Some(code) = answer_on_cluster(&args, &answer) {
        return code;
    }
    with_engine(&args.db, &args.run_id, opts, |store, engine, id| {
        let (snapshot, workflow) = match store.take_waiting(id).map_err(|e| e.to_string())? {
            Waiting::Ready { snapshot, workflow } => (*snapshot, *workflow),
            Waiting::Elsewhere => {
                return Err(
                    "this run is held by another Stepwise process that does not answer; \
                     try again in a moment"
                        .into(),
                );
            }
            Waiting::NotWaiting => {
                return Err(
                    "this run does not wait for a review (`stepwise show` tells its \
                            state; `stepwise resume` continues a run that ended)"
                        .into(),
                );
            }
        };
        let path = waiting_step(&snapshot, args.step.as_deref())?;
        let human = HumanView::resuming(&snapshot);
        let (id, events) = engine
            .revive(snapshot, workflow)
            .map_err(|e| e.to_string())?;
        engine
            .answer_review(id, &path, answer)
            .map_err(|e| e.to_string())?;
        Ok((id, events, human))
    })
}

/// Answers the review of a run another live process holds, through that process's endpoint;
/// `None` when no other process holds it (it is picked up here).
fn answer_elsewhere(args: &AnswerArgs, answer: &ReviewAnswer) -> Option<ExitCode> {
    let store = history::open(&args.db).ok()?;
    let runtime = runtime()?;
    let result = runtime.block_on(async {
        let Ok(Located::Live { id, client, owner }) = locate(&store, &args.run_id).await else {
            return None;
        };
        Some(
            answer_through(&store, &client, id, args, answer.clone())
                .await
                .map(|()| (id, owner.kind)),
        )
    })?;
    Some(match result {
        Ok((id, kind)) => {
            println!(
                "Answered. The run goes on in the process that holds it ({}); \
                 `stepwise watch {id}` follows it.",
                kind.words()
            );
            ExitCode::SUCCESS
        }
        Err(e) => bad_input(e),
    })
}

/// A run this computer does not know, on the cluster the settings name.
fn answer_on_cluster(args: &AnswerArgs, answer: &ReviewAnswer) -> Option<ExitCode> {
    let store = history::open(&args.db).ok()?;
    let unknown = runtime()?
        .block_on(async { matches!(locate(&store, &args.run_id).await, Ok(Located::Unknown)) });
    let cluster = crate::cluster::configured().filter(|_| unknown)?;
    let id = args.run_id.parse().ok()?;
    Some(crate::cluster::answer(
        &cluster,
        id,
        args.step.as_deref(),
        answer.clone(),
    ))
}

async fn answer_through(
    store: &Store,
    client: &stepwise_engine::control::Client,
    id: RunId,
    args: &AnswerArgs,
    answer: ReviewAnswer,
) -> Result<(), String> {
    let snapshot = store
        .get_run(id)
        .map_err(|e| e.to_string())?
        .ok_or("no such run in the history")?;
    let path = waiting_step(&snapshot, args.step.as_deref())?;
    client
        .answer_review(id, &ReviewRequest { path, answer })
        .await
        .map_err(|e| e.to_string())
}

/// `stepwise resume RUN_ID [--from STEP] [--workflow FILE]`.
pub fn resume(args: ResumeArgs) -> ExitCode {
    let today = match args.workflow.as_deref().map(load_workflow).transpose() {
        Ok(w) => w,
        Err(e) => return bad_input(e),
    };
    let opts = Follow {
        json: args.json,
        allow_tools: args.allow_tools,
        cancel_after_ms: args.cancel_after_ms,
        history: true,
        to_log: false,
    };
    with_engine(&args.db, &args.run_id, opts, |store, engine, id| {
        let original = store
            .get_run(id)
            .map_err(|e| e.to_string())?
            .ok_or("no such run in the history")?;
        let workflow = store
            .workflow_of(id)
            .map_err(|e| e.to_string())?
            .ok_or(ResumeError::NoWorkflow.to_string())?;
        let (id, events) = engine
            .resume(ResumeRun {
                original,
                workflow,
                today,
                from: args.from.clone(),
                run_id: None,
            })
            .map_err(|e| match e {
                StartError::Resume(e) => format!("cannot continue this run: {e}"),
                e => e.to_string(),
            })?;
        Ok((id, events, HumanView::default()))
    })
}

/// Opens the history (which both commands need), builds an engine that records into it, lets
/// `pick` start the run, and follows it.
fn with_engine(
    db: &crate::args::DbArg,
    run_id: &str,
    opts: Follow,
    pick: impl FnOnce(&Store, &Engine, RunId) -> Result<(RunId, Subscription, HumanView), String>,
) -> ExitCode {
    let store = match history::open(db) {
        Ok(s) => s,
        Err(e) => return bad_input(e),
    };
    let id = match store.resolve_id(run_id) {
        Ok(Some(id)) => id,
        Ok(None) => {
            return bad_input(format!(
                "no run `{run_id}` in the history (`stepwise history` lists them)"
            ));
        }
        Err(e) => return bad_input(e),
    };
    let mut config = match config::engine_config() {
        Ok(c) => c,
        Err(e) => return bad_input(e),
    };
    config.sink = Some(store.sink());
    let Some(runtime) = runtime() else {
        return ExitCode::from(EXIT_FAILED);
    };
    let json = opts.json;
    let store = Arc::new(store);
    let code = runtime.block_on(async {
        let engine = Engine::new(config);
        let endpoint = endpoint::serve(&engine, &store, OwnerKind::Terminal);
        let code = match pick(&store, &engine, id) {
            Ok((id, events, human)) => follow(engine, id, events, human, opts).await,
            Err(e) => {
                engine.shutdown(stepwise_engine::CancelReason::User).await;
                bad_input(e)
            }
        };
        if let Some(endpoint) = endpoint {
            endpoint.close(Duration::from_secs(2)).await;
        }
        code
    });
    match store.flush(Duration::from_secs(10)) {
        Ok(()) if !json => eprintln!("Saved in the history ({}).", store.path().display()),
        Ok(()) => {}
        Err(e) => eprintln!("stepwise: {e}"),
    }
    code
}

fn review_answer(action: &str, value: Option<&str>) -> Result<ReviewAnswer, String> {
    match (action, value) {
        ("approve", None) => Ok(ReviewAnswer::Approve),
        ("edit", Some(file)) => {
            let text = if file == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(file)
            }
            .map_err(|e| format!("{file}: {e}"))?;
            Ok(ReviewAnswer::Edit { text })
        }
        ("send-back", Some(note)) => Ok(ReviewAnswer::SendBack {
            note: note.to_string(),
        }),
        ("approve", Some(_)) => Err("`approve` takes nothing after it".into()),
        ("edit", None) => Err(
            "`edit` needs the file with the new text (`-` reads it from the \
                               standard input)"
                .into(),
        ),
        ("send-back", None) => Err("`send-back` needs a note: what should the step change?".into()),
        (other, _) => Err(format!(
            "`{other}` is not an answer: use approve, edit FILE or send-back TEXT"
        )),
    }
}

/// The step to answer: `--step`, or the one step that waits.
fn waiting_step(snapshot: &RunSnapshot, chosen: Option<&str>) -> Result<String, String> {
    let waiting: Vec<&str> = snapshot
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Waiting)
        .map(|s| s.path.as_str())
        .collect();
    match (chosen, waiting.as_slice()) {
        (Some(c), w) if w.contains(&c) => Ok(c.to_string()),
        (Some(c), w) => Err(format!(
            "step `{c}` does not wait for a review; these do: {}",
            w.join(", ")
        )),
        (None, [one]) => Ok(one.to_string()),
        (None, w) => Err(format!(
            "several steps wait for a review; name one with --step: {}",
            w.join(", ")
        )),
    }
}

fn bad_input(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("stepwise: {message}");
    ExitCode::from(EXIT_BAD_INPUT)
}
