//! Runs on a Temporal cluster from the command line (§13): `stepwise run … --on cluster`, and
//! `cancel`, `watch` and `answer` for a run this computer does not know — asked of the cluster
//! in `[cluster]`, through Temporal's HTTP API and the worker's endpoint. `stepwise worker` is
//! the program beside this one, `stepwise-worker`.

use std::io::{self, Write};
use std::process::ExitCode;

use stepwise_engine::cluster::{Cluster, Followed, Follower, RunOrder};
use stepwise_engine::control::ReviewRequest;
use stepwise_engine::store::{ExportFormat, render};
use stepwise_engine::{ReviewAnswer, RunId, RunSnapshot, RunStatus, Workflow};

use crate::follow::{EXIT_FAILED, EXIT_WAITING, runtime};
use crate::watch::View;
use crate::{EXIT_BAD_INPUT, config};

/// The cluster the settings name, if any.
pub fn configured() -> Option<Cluster> {
    let settings = config::settings().ok()?;
    Cluster::new(settings.cluster?).ok()
}

/// `stepwise worker …`: the worker program, found beside this one, then on the PATH.
pub fn worker(args: &[String]) -> ExitCode {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("stepwise-worker")))
        .filter(|p| p.exists());
    let program = beside.unwrap_or_else(|| "stepwise-worker".into());
    match std::process::Command::new(&program).args(args).status() {
        Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(e) => {
            eprintln!(
                "stepwise: cannot start {} ({e}): `stepwise worker` needs the stepwise-worker program installed beside stepwise",
                program.display()
            );
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// `stepwise run … --on cluster`: sends the run, prints its id, and follows it (unless
/// `background`).
pub fn run(workflow: Workflow, input: &str, json: bool, background: bool) -> ExitCode {
    let Some(cluster) = configured() else {
        eprintln!(
            "stepwise: no cluster in the settings: add [cluster] with http_address (or set STEPWISE_CLUSTER_HTTP_ADDRESS)"
        );
        return ExitCode::from(EXIT_BAD_INPUT);
    };
    if input.trim().is_empty() {
        eprintln!("stepwise: the input is empty");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let order = RunOrder {
        run_id: uuid::Uuid::new_v4(),
        workflow,
        input: input.to_string(),
    };
    let Some(rt) = runtime() else {
        return ExitCode::from(EXIT_FAILED);
    };
    rt.block_on(async {
        if let Err(e) = cluster.start(&order).await {
            eprintln!("stepwise: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
        if background || !json {
            println!("{}", order.run_id);
        }
        if background {
            return ExitCode::SUCCESS;
        }
        follow(&cluster, order.run_id, json).await
    })
}

/// `stepwise watch ID` for a cluster run.
pub fn watch(cluster: &Cluster, id: RunId, json: bool) -> ExitCode {
    let Some(rt) = runtime() else {
        return ExitCode::from(EXIT_FAILED);
    };
    rt.block_on(follow(cluster, id, json))
}

/// `stepwise show|export ID` for a run on the cluster in the settings: as it ended, as it waits,
/// or as far as its last checkpoint (the worker's history has its events).
pub fn show(run_id: &str, format: ExportFormat) -> Option<String> {
    let cluster = configured()?;
    let id: RunId = run_id.parse().ok()?;
    let rt = runtime()?;
    let snapshot = rt.block_on(async {
        if let Ok(Some(end)) = cluster.result(id).await {
            return Some(end.snapshot);
        }
        if let Ok(Some(waiting)) = cluster.waiting(id).await {
            return Some(waiting);
        }
        cluster
            .describe(id)
            .await
            .ok()?
            .checkpoint
            .map(|c| c.snapshot)
    })?;
    Some(render(&snapshot, None, &[], format))
}

/// `stepwise cancel ID` for a cluster run: 0 stopped, 1 had ended, 2 unknown.
pub fn cancel(cluster: &Cluster, id: RunId) -> u8 {
    let Some(rt) = runtime() else {
        return 2;
    };
    match rt.block_on(cluster.cancel(id)) {
        Ok(true) => {
            println!("Cancelled run {id} on the cluster; what its steps wrote is kept.");
            0
        }
        Ok(false) => {
            println!("Run {id} had already ended; nothing to stop.");
            1
        }
        Err(e) => {
            eprintln!("stepwise: {e}");
            2
        }
    }
}

/// `stepwise answer ID …` for a cluster run: through the worker that holds it, else through
/// Temporal (a run that waits with no worker).
pub fn answer(cluster: &Cluster, id: RunId, step: Option<&str>, answer: ReviewAnswer) -> ExitCode {
    let Some(rt) = runtime() else {
        return ExitCode::from(EXIT_FAILED);
    };
    rt.block_on(async {
        let run = match cluster.describe(id).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("stepwise: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        };
        // Which review: the one named, or the only one it waits for.
        let waiting = match (&run.checkpoint, cluster.waiting(id).await) {
            (_, Ok(Some(s))) => Some(s),
            (Some(c), _) => Some(c.snapshot.clone()),
            _ => None,
        };
        let paths: Vec<String> = waiting
            .iter()
            .flat_map(|s| s.steps.iter())
            .filter(|s| s.status == stepwise_engine::StepStatus::Waiting)
            .map(|s| s.path.clone())
            .collect();
        let path = match (step, paths.as_slice()) {
            (Some(p), _) => p.to_string(),
            (None, [one]) => one.clone(),
            (None, []) => {
                eprintln!("stepwise: run {id} does not wait for a review");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
            (None, many) => {
                eprintln!(
                    "stepwise: run {id} waits for several reviews; name one with --step: {}",
                    many.join(", ")
                );
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        };
        let req = ReviewRequest { path, answer };
        match cluster.answer_review(id, &req).await {
            Ok(()) => {
                println!("Answered; the run goes on on the cluster (`stepwise watch {id}`).");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("stepwise: {e}");
                ExitCode::from(EXIT_FAILED)
            }
        }
    })
}

/// Follows a cluster run to its end: live from the worker that drives it, across a change of
/// worker, and through waits for a person; exits as `run` does.
async fn follow(cluster: &Cluster, id: RunId, json: bool) -> ExitCode {
    let mut view = View::stdout(json);
    let mut follower = Follower::new(cluster.clone(), id);
    while let Some(heard) = follower.next().await {
        let shown = match heard {
            Ok(Followed::Event(event)) => view.show(&event),
            Ok(Followed::Rewind { to }) => rewind(&mut view, to),
            Ok(Followed::Waiting(_)) => {
                if !view.json {
                    let _ = writeln!(
                        view.out,
                        "\nThe run waits for your review on the cluster: `stepwise answer {id} approve` (or edit, send-back)."
                    );
                }
                let _ = view.out.flush();
                return ExitCode::from(EXIT_WAITING);
            }
            Ok(Followed::Ended { snapshot, status }) => {
                final_state(&mut view, snapshot.as_ref(), &status);
                Ok(())
            }
            Ok(Followed::Joined(_)) => Ok(()),
            Err(e) => {
                eprintln!("stepwise: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        };
        if shown.is_err() {
            return ExitCode::from(EXIT_FAILED);
        }
    }
    let _ = view.out.flush();
    view.exit_code()
}

/// A new worker goes on from its checkpoint: the events after it that came from the worker
/// before are taken back (that worker's step runs again), so the stream goes on with no gap
/// and no duplicate. `--json` says so in a line `{"rewind_to": SEQ}`.
fn rewind<W: Write>(view: &mut View<W>, to: u64) -> io::Result<()> {
    view.last_seq = to;
    if view.json {
        writeln!(view.out, "{}", serde_json::json!({ "rewind_to": to }))
    } else {
        writeln!(
            view.out,
            "\n(Another worker goes on with the run; the step that was cut starts again.)"
        )
    }
}

/// The run ended where its last events cannot be had: its final state as the cluster keeps it.
fn final_state<W: Write>(view: &mut View<W>, end: Option<&RunSnapshot>, status: &str) {
    let Some(s) = end else {
        let _ = writeln!(view.out, "\nThe run ended on the cluster ({status}).");
        view.outcome = Some(RunStatus::Failed);
        return;
    };
    if !view.json && view.last_seq < s.last_seq {
        let _ = writeln!(view.out, "\nThe run is {}.", s.status.word());
        if let Some(output) = &s.final_output {
            let _ = writeln!(view.out, "{output}");
        }
    }
    view.outcome = Some(s.status);
}
