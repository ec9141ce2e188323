//! `stepwise run`: start a run, stream its events, cancel it on request, exit with its outcome.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use stepwise_engine::store::Store;
use stepwise_engine::workflow::{self, templates};
use stepwise_engine::{Engine, ModelRef, OwnerKind, StartRun, Workflow};

use crate::args::RunArgs;
use crate::follow::{EXIT_FAILED, Follow, follow, runtime};
use crate::human::HumanView;
use crate::{EXIT_BAD_INPUT, background, config, endpoint, extract, history};

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
    // A run in the background reads its files in the process that runs it.
    if args.background && args.detached_run_id.is_none() && args.on == crate::args::Where::Here {
        return background::start(workflow, &args);
    }
    let mut args = args;
    let input = match &args.input_file {
        // A process `--background` started: its input was read (files and all) before.
        Some(file) => {
            let read =
                std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()));
            let _ = std::fs::remove_file(file);
            read
        }
        None => extract::input_with_files(&args.input, &args.files),
    };
    match input {
        Ok(input) => args.input = input,
        Err(message) => {
            eprintln!("stepwise: {message}; the run did not start");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    if args.on == crate::args::Where::Cluster {
        return crate::cluster::run(workflow, &args.input, args.json, args.background);
    }
    if args.detached_run_id.is_some() {
        background::detach();
    }
    let Some(runtime) = runtime() else {
        return ExitCode::from(EXIT_FAILED);
    };
    // History is kept unless asked not to; a database that cannot be used costs the history,
    // never the run.
    let store = if args.no_history {
        None
    } else {
        match history::open(&args.db) {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                eprintln!("stepwise: {e}");
                None
            }
        }
    };
    config.sink = store.as_deref().map(Store::sink);
    let json = args.json || args.detached_run_id.is_some();
    let code = runtime.block_on(async {
        let engine = Engine::new(config);
        // Others reach this run by its id (`stepwise cancel`, `watch`, the window).
        let kind = match args.detached_run_id {
            Some(_) => OwnerKind::Background,
            None => OwnerKind::Terminal,
        };
        let endpoint = store
            .as_ref()
            .and_then(|s| endpoint::serve(&engine, s, kind));
        let code = stream_run(engine, workflow, args, store.as_deref()).await;
        if let Some(endpoint) = endpoint {
            endpoint.close(Duration::from_secs(2)).await;
        }
        code
    });
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
pub fn load_workflow(name: &str) -> Result<Workflow, String> {
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

async fn stream_run(
    engine: Engine,
    workflow: Workflow,
    args: RunArgs,
    store: Option<&Store>,
) -> ExitCode {
    let start = StartRun {
        workflow,
        input: args.input,
        run_id: args.detached_run_id,
    };
    let (id, events) = match engine.start_subscribed(start) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("stepwise: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    if args.detached_run_id.is_some() {
        // The run is in the history before the command that started us prints its id, so that
        // `stepwise watch ID` right after finds it; then our stdout (its pipe) is done with.
        if let Some(store) = store
            && let Err(e) = store.flush(Duration::from_secs(10))
        {
            eprintln!("stepwise: {e}");
        }
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{id}").and_then(|()| stdout.flush());
    }
    let opts = Follow {
        json: args.json,
        allow_tools: args.allow_tools,
        cancel_after_ms: args.cancel_after_ms,
        history: store.is_some(),
        to_log: args.detached_run_id.is_some(),
    };
    follow(engine, id, events, HumanView::default(), opts).await
}
