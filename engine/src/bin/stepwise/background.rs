//! `stepwise run … --background`: print the run's id and return at once. The run goes on in the
//! Stepwise window if it is open; else in a `stepwise` process of its own, detached from the
//! terminal, which owns the run until it ends and then exits. Its output goes to the history
//! and to a log file beside it, never to a terminal that may be closed.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use stepwise_engine::control::{Client, StartRequest};
use stepwise_engine::store::Store;
use stepwise_engine::{OwnerKind, RunId, Workflow};

use crate::args::RunArgs;
use crate::follow::{EXIT_FAILED, runtime};
use crate::{EXIT_BAD_INPUT, history};

/// How long the process started for the run may take to say it has started it.
const STARTED_WITHIN: Duration = Duration::from_secs(20);

/// Starts the run away from this terminal and prints its id.
pub fn start(workflow: Workflow, args: &RunArgs) -> ExitCode {
    let store = match history::open(&args.db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stepwise: {e}; a run in the background needs the history");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    // The files are read once, here: a file that cannot be read is said in this terminal, and
    // the run (the window's, or a process's of its own) gets their text with the input.
    let input = match crate::extract::input_with_files(&args.input, &args.files) {
        Ok(input) => input,
        Err(message) => {
            eprintln!("stepwise: {message}; the run did not start");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    if let Some(id) = in_the_window(&store, workflow, &input) {
        println!("{id}");
        eprintln!("Running in the Stepwise window. Follow it: stepwise watch {id}");
        return ExitCode::SUCCESS;
    }
    match in_a_process_of_its_own(&store, args, &input) {
        Ok((id, log)) => {
            println!("{id}");
            eprintln!(
                "Running in the background. Follow it: stepwise watch {id} · stop it: \
                 stepwise cancel {id} · its log: {}",
                log.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("stepwise: the run did not start in the background: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The window's endpoint starts it, if the window is open and takes it.
fn in_the_window(store: &Store, workflow: Workflow, input: &str) -> Option<RunId> {
    let app = store
        .live_owners()
        .ok()?
        .into_iter()
        .find(|o| o.kind == OwnerKind::App)?;
    let client = Client::new(&app.endpoint).ok()?;
    let request = StartRequest {
        workflow,
        input: input.to_string(),
        run_id: None,
    };
    runtime()?.block_on(client.start(&request)).ok()
}

/// Starts `stepwise run … --detached-run-id ID` and waits for its line saying the run started.
fn in_a_process_of_its_own(
    store: &Store,
    args: &RunArgs,
    input: &str,
) -> Result<(RunId, PathBuf), String> {
    let id = uuid::Uuid::new_v4();
    let folder = store
        .path()
        .parent()
        .map(|p| p.join("background"))
        .ok_or("the history has no folder")?;
    std::fs::create_dir_all(&folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    let log_path = folder.join(format!("{id}.log"));
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    // The input with the files' text can be longer than a command line may be: it goes in a
    // file of its own, which the run's process reads and removes.
    let input_path = folder.join(format!("{id}.input"));
    std::fs::write(&input_path, input).map_err(|e| format!("{}: {e}", input_path.display()))?;
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(me);
    command
        .arg("run")
        .arg(&args.workflow)
        .arg("--input")
        .arg(&args.input)
        .arg("--input-file")
        .arg(&input_path)
        .arg("--detached-run-id")
        .arg(id.to_string())
        .arg("--db")
        .arg(store.path());
    if let Some(model) = &args.model {
        command.arg("--model").arg(model);
    }
    if args.allow_tools {
        command.arg("--allow-tools");
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no pipe to the run's process")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(STARTED_WITHIN) {
        Ok(line) if line.trim() == id.to_string() => Ok((id, log_path)),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(&input_path);
            let said = std::fs::read_to_string(&log_path).unwrap_or_default();
            Err(said
                .trim()
                .lines()
                .last()
                .unwrap_or("it ended without a word")
                .to_string())
        }
    }
}

/// In the process started for the run: leave the terminal's session, so that closing the
/// terminal (or Ctrl-C in it) does not reach the run.
pub fn detach() {
    #[cfg(unix)]
    let _ = rustix::process::setsid();
}
