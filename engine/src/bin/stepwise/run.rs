//! `stepwise run`: start a run, stream its events, cancel it on request, exit with its outcome.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use stepwise_engine::workflow::{self, templates};
use stepwise_engine::{
    ApprovalAnswer, CancelReason, Engine, EventKind, ModelRef, RunEvent, RunStatus, StartRun,
    Workflow,
};

use crate::args::RunArgs;
use crate::human::HumanView;
use crate::{EXIT_BAD_INPUT, config, history};
use stepwise_engine::store::Store;

const EXIT_FAILED: u8 = 1;
const EXIT_CANCELLED: u8 = 130;

pub fn run(args: RunArgs) -> ExitCode {
    let prepared = load_workflow(&args.workflow).and_then(|w| match &args.model {
        None => Ok(w),
        Some(m) => m
            .parse::<ModelRef>()
            .map(|m| w.with_model(&m))
            .map_err(|e| format!("--model: {e}")),
    });
    let (workflow, mut config) = match prepared.and_then(|w| Ok((w, config::engine_config()?))) {
        Ok(v) => v,
        Err(message) => {
            eprintln!("stepwise: {message}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stepwise: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    // History is kept unless asked not to; a database that cannot be used costs the history,
    // never the run.
    let store = if args.no_history {
        None
    } else {
        match history::open(&args.db) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("stepwise: {e}");
                None
            }
        }
    };
    config.sink = store.as_ref().map(Store::sink);
    let json = args.json;
    let code = runtime.block_on(stream_run(Engine::new(config), workflow, args));
    if let Some(store) = store {
        match store.flush(Duration::from_secs(10)) {
            Ok(()) if !json => eprintln!("Saved in the history ({}).", store.path().display()),
            Ok(()) => {}
            Err(e) => eprintln!("stepwise: {e}"),
        }
    }
    code
}

/// A path to an existing file, or a template id.
fn load_workflow(name: &str) -> Result<Workflow, String> {
    let path = Path::new(name);
    if path.is_file() {
        return workflow::parse_file(path).map_err(|e| e.to_string());
    }
    if let Some(t) = templates::get(name) {
        return Ok(t.workflow);
    }
    if name.ends_with(".toml") || name.contains(std::path::MAIN_SEPARATOR) {
        return Err(format!("{name}: no such workflow file"));
    }
    let ids: Vec<String> = templates::all().into_iter().map(|t| t.id).collect();
    Err(format!(
        "no workflow file or template named `{name}`; the templates are: {}",
        ids.join(", ")
    ))
}

async fn stream_run(engine: Engine, workflow: Workflow, args: RunArgs) -> ExitCode {
    let start = StartRun {
        workflow,
        input: args.input,
        run_id: None,
    };
    let (id, mut events) = match engine.start_subscribed(start) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("stepwise: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };

    // Ctrl-C and --cancel-after-ms both take the path a user's click takes: Engine::cancel.
    let on_ctrl_c = engine.clone();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel(id, CancelReason::User);
        }
    });
    if let Some(ms) = args.cancel_after_ms {
        let e = engine.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            e.cancel(id, CancelReason::User);
        });
    }

    let mut out = BufWriter::new(io::stdout().lock());
    let mut human = HumanView::default();
    while let Some(first) = events.next().await {
        // Write everything that has piled up, then flush once: fast runs stay fast.
        let mut next = Some(first);
        let mut written = Ok(());
        while let Some(event) = next {
            if let EventKind::ToolApprovalRequested { path, call_id } = &event.kind {
                let answer = if args.allow_tools {
                    ApprovalAnswer::Allow
                } else {
                    ApprovalAnswer::Deny
                };
                engine.answer_tool_call(id, path, call_id, answer);
            }
            written = written.and_then(|()| write_event(&mut out, &mut human, &event, args.json));
            next = events.try_next();
        }
        if written.and_then(|()| out.flush()).is_err() {
            // Nobody is reading any more (a closed pipe): stop the run rather than work unseen.
            engine.cancel(id, CancelReason::User);
        }
    }
    drop(out);
    // The run is over: end the MCP servers it started, with everything they started.
    engine.shutdown(CancelReason::User).await;

    match engine.get(id).map(|s| s.status) {
        Some(RunStatus::Completed) => ExitCode::SUCCESS,
        Some(RunStatus::Cancelled) => ExitCode::from(EXIT_CANCELLED),
        _ => ExitCode::from(EXIT_FAILED),
    }
}

fn write_event(
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
