//! Stepwise on a Temporal cluster (ARCHITECTURE §13), with real parts: the Temporal dev server,
//! two `stepwise-worker` processes, the `stepwise` command line in other processes, and the
//! test model server over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::process::Stdio;
use std::time::Instant;

use stepwise_engine::{EventKind, RunStatus, StepStatus};
use stepwise_testkit::temporal::stdout_lines;
use stepwise_testkit::{Behavior, PATIENCE, TestServer, eventually, server_runtime};
use support::{DevServer, Place, assert_whole, events_of, model_env};

/// A run's outcome and its events, as `stepwise run … --json` printed them.
fn run_json(place: &Place, server: &DevServer, args: &[&str]) -> (Option<i32>, Vec<String>) {
    let out = place.stepwise(server).args(args).output().unwrap();
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    (out.status.code(), lines)
}

#[test]
fn a_run_on_a_cluster_of_two_workers_completes_as_it_does_here() {
    let server = DevServer::start();
    let place = Place::new("same");
    let _w1 = place.worker(&server, "w1", &[]);
    let _w2 = place.worker(&server, "w2", &[]);

    let input = "the tides of the moon";
    let (code, lines) = run_json(
        &place,
        &server,
        &[
            "run",
            "research-and-write",
            "--input",
            input,
            "--on",
            "cluster",
            "--json",
        ],
    );
    assert_eq!(code, Some(0), "{lines:?}");
    let events = events_of(&lines);
    assert_whole(&events);
    let (here, local) = run_json(
        &place,
        &server,
        &[
            "run",
            "research-and-write",
            "--input",
            input,
            "--json",
            "--no-history",
        ],
    );
    assert_eq!(here, Some(0));
    let output = |events: &[stepwise_engine::RunEvent]| match &events.last().unwrap().kind {
        EventKind::RunCompleted { output, .. } => output.clone(),
        other => panic!("not completed: {other:?}"),
    };
    assert_eq!(output(&events), output(&events_of(&local)));
    // The history of this computer does not have it; `show` finds it on the cluster.
    let id = events[0].run_id.to_string();
    let shown = place
        .stepwise(&server)
        .args(["show", &id])
        .output()
        .unwrap();
    assert!(
        shown.status.success(),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    let doc = String::from_utf8_lossy(&shown.stdout);
    assert!(doc.contains("# Research and write"), "{doc}");
    let start: String = output(&events).chars().take(40).collect();
    assert!(doc.contains(&start), "{doc}");
}

#[test]
fn a_worker_killed_mid_step_hands_the_run_to_the_other_which_goes_on_from_that_step() {
    let rt = server_runtime();
    let model = rt.block_on(TestServer::start()).unwrap();
    model.push(Behavior::text(&["- The moon ", "pulls the sea."], 0));
    // The step that is cut: long enough never to end by itself.
    model.push(Behavior::words(100_000, 20));
    model.push(Behavior::text(
        &["# Tides\n\n", "The moon pulls the sea."],
        0,
    ));
    let server = DevServer::start();
    let place = Place::new("kill");
    let env = model_env(&model);
    let w1 = place.worker(&server, "w1", &env);
    let w2 = place.worker(&server, "w2", &env);

    // A watcher that follows throughout: the run's own command, in another process.
    let mut watcher = place
        .stepwise(&server)
        .args([
            "run",
            "research-and-write",
            "--input",
            "tides",
            "--on",
            "cluster",
            "--json",
        ])
        .args(["--model", "openai:test-model"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stdout_lines(&mut watcher);
    let first = lines.recv_timeout(2 * PATIENCE).unwrap();
    let id = serde_json::from_str::<stepwise_engine::RunEvent>(&first)
        .unwrap()
        .run_id;
    let mut seen = vec![first];

    // Mid-stream in the second step, with the first one's end in the cluster's checkpoint.
    let cluster = server.cluster(&place.queue);
    let holder = eventually(
        2 * PATIENCE,
        "a checkpoint with Research done, Write streaming",
        || {
            seen.extend(lines.try_iter());
            let run = rt.block_on(cluster.describe(id)).ok()?;
            let c = run.checkpoint?;
            let done = c.snapshot.step("research")?.status == StepStatus::Completed;
            let streaming = seen
                .iter()
                .any(|l| l.contains("\"TextDelta\"") && l.contains("\"write\""));
            (done && streaming && model.request_count() == 2).then_some(c.endpoint)
        },
    );
    let (dead, alive) = if holder == w1.endpoint {
        (w1, w2)
    } else {
        (w2, w1)
    };
    assert_eq!(holder, dead.endpoint);
    let killed_at = Instant::now();
    dead.kill();

    let status = eventually(4 * PATIENCE, "the run to end", || {
        watcher.try_wait().unwrap()
    });
    seen.extend(lines.iter());
    assert!(
        status.success(),
        "the watcher exited with {status}: {seen:?}"
    );
    let events = events_of(&seen);
    assert_whole(&events);
    assert!(matches!(
        events.last().unwrap().kind,
        EventKind::RunCompleted { .. }
    ));
    // (A watcher that had got events past the checkpoint went back to it: `rewind_to`; with
    // the taken-back events or not, what it keeps is whole, as checked above.)
    // The finished step was not asked again; the cut one was, once.
    assert_eq!(model.request_count(), 3);
    let taken = rt.block_on(cluster.result(id)).unwrap().unwrap().snapshot;
    assert_eq!(taken.status, RunStatus::Completed);
    assert_eq!(
        taken.step("write").unwrap().text,
        "# Tides\n\nThe moon pulls the sea."
    );
    println!(
        "worker killed → the run completed on the other worker after {:?}",
        killed_at.elapsed()
    );
    drop(alive);
}

/// Starts a run that streams until stopped, and returns its id once its model streams.
fn streaming_run(place: &Place, server: &DevServer, model: &TestServer) -> stepwise_engine::RunId {
    let id = place.start_in_background(
        server,
        &[
            "research-and-write",
            "--input",
            "tides",
            "--model",
            "openai:test-model",
        ],
    );
    eventually(2 * PATIENCE, "the model to stream", || {
        model.open_connections() == 1 && model.requests().first().is_some_and(|r| r.chunks_sent > 0)
    });
    id
}

/// A model that streams until stopped, a dev server and a place for the test.
fn endless_model(name: &str) -> (tokio::runtime::Runtime, TestServer, DevServer, Place) {
    let rt = server_runtime();
    let model = rt.block_on(TestServer::start()).unwrap();
    model.set_default(Behavior::words(100_000, 5));
    (rt, model, DevServer::start(), Place::new(name))
}

/// `stepwise cancel ID` in another process: it must say it stopped the run; how long until the
/// model's connection closed.
fn cancel_and_time_the_close(
    place: &Place,
    server: &DevServer,
    model: &TestServer,
    rt: &tokio::runtime::Runtime,
    id: stepwise_engine::RunId,
) -> std::time::Duration {
    let asked = Instant::now();
    let cancel = place
        .stepwise(server)
        .args(["cancel", &id.to_string()])
        .output()
        .unwrap();
    assert_eq!(
        cancel.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&cancel.stderr)
    );
    let closed = rt
        .block_on(model.wait_for_disconnect(0, PATIENCE))
        .expect("the model's connection closed");
    closed.saturating_duration_since(asked)
}

#[test]
fn a_cancel_from_another_process_closes_the_model_connection_and_ends_the_run_once() {
    let (rt, model, server, place) = endless_model("cancel");
    let _w1 = place.worker(&server, "w1", &model_env(&model));
    let _w2 = place.worker(&server, "w2", &model_env(&model));
    let id = streaming_run(&place, &server, &model);

    let mut watcher = place
        .stepwise(&server)
        .args(["watch", &id.to_string(), "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stdout_lines(&mut watcher);
    let first = lines.recv_timeout(2 * PATIENCE).unwrap();

    let took = cancel_and_time_the_close(&place, &server, &model, &rt, id);
    println!(
        "cancel → model connection closed: {:?} (through the worker's endpoint)",
        took
    );

    let status = eventually(2 * PATIENCE, "the watcher to end", || {
        watcher.try_wait().unwrap()
    });
    assert_eq!(status.code(), Some(130));
    let seen: Vec<String> = std::iter::once(first).chain(lines.iter()).collect();
    let events = events_of(&seen);
    let cancelled = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::RunCancelled { .. }))
        .count();
    assert_eq!(cancelled, 1);
    let end = eventually(2 * PATIENCE, "the cluster to keep the run's end", || {
        rt.block_on(server.cluster(&place.queue).result(id))
            .ok()
            .flatten()
            .map(|e| e.snapshot)
    });
    assert_eq!(end.status, RunStatus::Cancelled);
    assert!(
        !end.step("research").unwrap().text.is_empty(),
        "the text so far is kept"
    );
    // A second cancel stops nothing.
    let again = place
        .stepwise(&server)
        .args(["cancel", &id.to_string()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
}

#[test]
fn a_cancel_reaches_a_worker_whose_endpoint_cannot_be_reached_through_temporal() {
    let (rt, model, server, place) = endless_model("blocked");
    // The worker says its endpoint is where nothing answers: only Temporal reaches it.
    let mut env = model_env(&model);
    env.push(("--advertise".into(), "http://127.0.0.1:9".into()));
    let _w1 = place.worker(&server, "w1", &env);
    let id = streaming_run(&place, &server, &model);

    let took = cancel_and_time_the_close(&place, &server, &model, &rt, id);
    println!(
        "cancel → model connection closed: {:?} (through Temporal alone; heartbeat timeout 3 s)",
        took
    );
    let end = eventually(2 * PATIENCE, "the run's end", || {
        rt.block_on(server.cluster(&place.queue).result(id))
            .ok()
            .flatten()
            .map(|e| e.snapshot)
    });
    assert_eq!(end.status, RunStatus::Cancelled);
}

#[test]
fn a_review_waits_on_the_cluster_while_every_worker_is_stopped_and_goes_on_when_answered() {
    let server = DevServer::start();
    let place = Place::new("review");
    let file = place.dir.join("reviewed.toml");
    std::fs::write(
        &file,
        "name = \"Reviewed\"\n\n[[steps]]\nname = \"Draft\"\ninstructions = \"Write a draft.\"\nreview = true\n\n[[steps]]\nname = \"Polish\"\ninstructions = \"Polish it.\"\n",
    )
    .unwrap();
    let w1 = place.worker(&server, "w1", &[]);
    let w2 = place.worker(&server, "w2", &[]);
    let id = place.start_in_background(&server, &[file.to_str().unwrap(), "--input", "tides"]);
    let cluster = server.cluster(&place.queue);
    let rt = server_runtime();
    eventually(2 * PATIENCE, "the run to wait on the cluster", || {
        rt.block_on(cluster.waiting(id)).ok().flatten()
    });

    // Nobody holds it: every worker stops, and new ones start.
    w1.stop();
    w2.stop();
    let _w3 = place.worker(&server, "w3", &[]);
    let _w4 = place.worker(&server, "w4", &[]);

    let answer = place
        .stepwise(&server)
        .args(["answer", &id.to_string(), "approve"])
        .output()
        .unwrap();
    assert!(
        answer.status.success(),
        "{}",
        String::from_utf8_lossy(&answer.stderr)
    );
    let watch = place
        .stepwise(&server)
        .args(["watch", &id.to_string()])
        .output()
        .unwrap();
    assert_eq!(
        watch.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&watch.stdout),
        support::history(&server, id)
    );
    let end = rt.block_on(cluster.result(id)).unwrap().unwrap().snapshot;
    assert_eq!(end.status, RunStatus::Completed);
    assert_eq!(
        end.step("draft").unwrap().reviews.len(),
        1,
        "the answer was the person's"
    );
}

#[test]
fn a_hundred_runs_at_once_over_two_workers_all_complete_and_no_step_runs_twice() {
    let rt = server_runtime();
    let model = rt.block_on(TestServer::start()).unwrap();
    model.set_default(Behavior::text(&["Done ", "here."], 0));
    let server = DevServer::start();
    let place = Place::new("hundred");
    let env = model_env(&model);
    let _w1 = place.worker(&server, "w1", &env);
    let _w2 = place.worker(&server, "w2", &env);
    let cluster = server.cluster(&place.queue);
    let workflow =
        support::template("research-and-write").with_model(&"openai:test-model".parse().unwrap());
    let ids: Vec<stepwise_engine::RunId> = (0..100).map(|_| uuid::Uuid::new_v4()).collect();
    rt.block_on(async {
        let starts = ids.iter().map(|id| {
            let order = stepwise_engine::cluster::RunOrder {
                run_id: *id,
                workflow: workflow.clone(),
                input: format!("run {id}"),
            };
            let cluster = cluster.clone();
            async move { cluster.start(&order).await }
        });
        for started in futures::future::join_all(starts).await {
            started.unwrap();
        }
        // The same order sent again (a client that retried) starts nothing more.
        let again = stepwise_engine::cluster::RunOrder {
            run_id: ids[0],
            workflow: workflow.clone(),
            input: format!("run {}", ids[0]),
        };
        cluster.start(&again).await.unwrap();
    });
    for id in &ids {
        let end = eventually(4 * PATIENCE, "every run to end", || {
            rt.block_on(cluster.result(*id)).ok().flatten()
        });
        assert_eq!(end.snapshot.status, RunStatus::Completed, "run {id}");
        assert_eq!(end.snapshot.final_output.as_deref(), Some("Done here."));
    }
    // Two steps a run, each asked once; none started twice.
    assert_eq!(model.request_count(), 200);
    assert_eq!(
        model
            .requests()
            .iter()
            .filter(|r| r.body.contains("Research the topic"))
            .count(),
        100
    );
}

#[test]
fn a_workers_endpoint_on_tls_streams_to_clients_that_trust_its_authority_and_to_no_other() {
    let server = DevServer::start();
    let place = Place::new("tls");
    let (ca, cert, key) = support::certificates(&place.dir);
    let path = |p: &std::path::Path| p.to_str().unwrap().to_string();
    let w = place.worker(
        &server,
        "w1",
        &[
            ("STEPWISE_CLUSTER_ENDPOINT_CERT".into(), path(&cert)),
            ("STEPWISE_CLUSTER_ENDPOINT_KEY".into(), path(&key)),
        ],
    );
    assert!(w.endpoint.starts_with("https://"), "{}", w.endpoint);
    let run = |trusting: bool| {
        let mut c = place.stepwise(&server);
        if trusting {
            c.env("STEPWISE_CLUSTER_ENDPOINT_CA", &ca);
        }
        let args = [
            "run",
            "long-story",
            "--input",
            "a lighthouse",
            "--on",
            "cluster",
        ];
        let out = c.args(args).arg("--json").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // Trusting the authority: the run's events live from the worker, over TLS.
    let events = events_of(&run(true));
    assert_whole(&events);
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::TextDelta { .. }))
    );
    // Not trusting it: the endpoint is not spoken to (its certificate is refused), so no live
    // event comes; the run still ends on the cluster, as Temporal tells.
    let lines = run(false);
    assert!(
        lines.iter().all(|l| !l.contains("TextDelta")),
        "a client that does not trust the worker's certificate got its events: {lines:?}"
    );
}
