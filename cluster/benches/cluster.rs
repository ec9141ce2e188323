//! Stepwise on a Temporal cluster, measured (BENCHMARKS.md): a cancel → the model's connection
//! closed, through the worker's endpoint and through Temporal alone; a worker killed → the run's
//! next request from another worker; the cost of a step on the cluster against one here; runs a
//! minute on two workers. Real parts: the Temporal dev server, two `stepwise-worker` processes,
//! the test model server.
//!
//! `cargo bench -p stepwise-cluster --bench cluster` (needs target/temporal, which
//! `scripts/test.sh` installs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use stepwise_engine::cluster::{Cluster, RunOrder};
use stepwise_engine::provider::{DemoModel, DemoPace, Providers};
use stepwise_engine::{Engine, EngineConfig, RunId, StartRun, Workflow};
use stepwise_testkit::{Behavior, PATIENCE, TestServer, eventually, server_runtime};
use support::{DevServer, Place};

fn main() {
    let rt = server_runtime();
    let model = rt.block_on(TestServer::start()).unwrap();
    let server = DevServer::start();
    let env = support::model_env(&model);

    // Through the worker's endpoint: the same call `stepwise cancel` makes after finding it.
    let place = Place::new("bench-cancel");
    let w1 = place.worker(&server, "w1", &env);
    let w2 = place.worker(&server, "w2", &env);
    let cluster = server.cluster(&place.queue);
    let mut endpoint = Vec::new();
    for _ in 0..30 {
        let (id, index) = streaming(&rt, &cluster, &model);
        let c = eventually(PATIENCE, "a checkpoint", || {
            rt.block_on(cluster.describe(id)).ok()?.checkpoint
        });
        let worker = cluster.worker(&c.endpoint).unwrap();
        let asked = Instant::now();
        assert!(rt.block_on(worker.cancel(id)).unwrap());
        let closed = rt
            .block_on(model.wait_for_disconnect(index, PATIENCE))
            .unwrap();
        endpoint.push(closed.saturating_duration_since(asked));
        rt.block_on(cluster.cancel(id)).unwrap();
    }
    report(
        "cancel → connection closed, through the worker's endpoint",
        &mut endpoint,
    );

    // The workers' endpoints unreachable: Temporal alone carries the cancel.
    let blocked = Place::new("bench-blocked");
    let mut unreachable = env.clone();
    unreachable.push(("--advertise".into(), "http://127.0.0.1:9".into()));
    let b1 = blocked.worker(&server, "b1", &unreachable);
    let cluster_b = server.cluster(&blocked.queue);
    let mut temporal = Vec::new();
    for _ in 0..5 {
        let (id, index) = streaming(&rt, &cluster_b, &model);
        let asked = Instant::now();
        assert!(rt.block_on(cluster_b.cancel(id)).unwrap());
        let closed = rt
            .block_on(model.wait_for_disconnect(index, PATIENCE))
            .unwrap();
        temporal.push(closed.saturating_duration_since(asked));
    }
    report(
        "cancel → connection closed, through Temporal alone (heartbeat timeout 3 s)",
        &mut temporal,
    );
    drop(b1);

    // A worker killed mid-stream: the next request for the run, from the other worker.
    let mut handover = Vec::new();
    let mut workers = vec![w1, w2];
    for round in 0..3 {
        let (id, _) = streaming(&rt, &cluster, &model);
        let c = eventually(PATIENCE, "a checkpoint", || {
            rt.block_on(cluster.describe(id)).ok()?.checkpoint
        });
        let before = model.request_count();
        let at = workers
            .iter()
            .position(|w| w.endpoint == c.endpoint)
            .unwrap();
        let dead = workers.remove(at);
        let killed = Instant::now();
        dead.kill();
        eventually(4 * PATIENCE, "the run's next request", || {
            model.request_count() > before
        });
        let next = model.requests()[before].received_at;
        handover.push(next.saturating_duration_since(killed));
        rt.block_on(cluster.cancel(id)).unwrap();
        workers.push(place.worker(&server, &format!("w{}", round + 3), &env));
    }
    report(
        "worker killed → the run's next request from another worker",
        &mut handover,
    );

    // A step's cost on the cluster against here: runs of one and of ten instant steps, from
    // the start sent to the result seen by a client; the difference is what steps cost.
    let engine = Engine::new(EngineConfig {
        providers: Providers::demo(DemoModel::new(DemoPace::INSTANT)),
        ..EngineConfig::default()
    });
    let here = |workflow: &Workflow| {
        let mut times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            rt.block_on(async {
                let id = engine
                    .start(StartRun {
                        workflow: workflow.clone(),
                        input: "x".into(),
                        run_id: None,
                    })
                    .unwrap();
                engine.wait(id).await.unwrap();
            });
            times.push(started.elapsed());
        }
        median(&mut times)
    };
    // On the cluster, as Temporal's own history times it (workflow started → completed), so
    // that no client's polling is counted.
    let there = |workflow: &Workflow| {
        let mut times = Vec::new();
        for _ in 0..5 {
            let id = start(&rt, &cluster, workflow);
            wait_end(&rt, &cluster, id);
            times.push(rt.block_on(span(&server, id)));
        }
        median(&mut times)
    };
    let (one, ten) = (steps(1), steps(10));
    let (here1, here10, there1, there10) = (here(&one), here(&ten), there(&one), there(&ten));
    println!(
        "runs of 1 and 10 instant steps: here {here1:?} / {here10:?}, on the cluster (Temporal's clock, start → completed) {there1:?} / {there10:?} → a run costs {:?} more, a step {:?} more",
        there1.saturating_sub(here1),
        (there10.saturating_sub(there1)).saturating_sub(here10.saturating_sub(here1)) / 9
    );

    // Runs a minute on two workers: 50 at once, two instant steps each.
    let two = support::template("research-and-write");
    let started = Instant::now();
    let ids: Vec<RunId> = (0..50).map(|_| start(&rt, &cluster, &two)).collect();
    for id in ids {
        wait_end(&rt, &cluster, id);
    }
    let took = started.elapsed();
    println!(
        "50 runs at once on two workers: {took:?} → {:.0} runs a minute",
        50.0 / took.as_secs_f64() * 60.0
    );
}

/// A run whose model streams until stopped; its id and its request's index.
fn streaming(
    rt: &tokio::runtime::Runtime,
    cluster: &Cluster,
    model: &TestServer,
) -> (RunId, usize) {
    model.set_default(Behavior::words(100_000, 5));
    let index = model.request_count();
    let workflow =
        support::template("research-and-write").with_model(&"openai:test-model".parse().unwrap());
    let id = start(rt, cluster, &workflow);
    eventually(PATIENCE, "the model to stream", || {
        model
            .requests()
            .get(index)
            .is_some_and(|r| r.chunks_sent > 0)
    });
    (id, index)
}

fn start(rt: &tokio::runtime::Runtime, cluster: &Cluster, workflow: &Workflow) -> RunId {
    let order = RunOrder {
        run_id: uuid::Uuid::new_v4(),
        workflow: workflow.clone(),
        input: "bench".into(),
    };
    rt.block_on(cluster.start(&order)).unwrap();
    order.run_id
}

fn wait_end(rt: &tokio::runtime::Runtime, cluster: &Cluster, id: RunId) {
    eventually(4 * PATIENCE, "the run to end", || {
        rt.block_on(cluster.result(id)).ok().flatten()
    });
}

fn steps(n: usize) -> Workflow {
    let steps: String = (1..=n)
        .map(|i| {
            format!(
                "[[steps]]\nname = \"Step {i}\"\ninstructions = \"Go on.\"\nmodel = \"demo\"\n\n"
            )
        })
        .collect();
    stepwise_engine::workflow::parse(&format!("name = \"Steps\"\n\n{steps}"), None).unwrap()
}

/// From the workflow's first event to its last, by Temporal's clock.
async fn span(server: &DevServer, id: RunId) -> Duration {
    let url = format!(
        "{}/api/v1/namespaces/default/workflows/{id}/history",
        server.http
    );
    let v: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    let events = v["history"]["events"].as_array().unwrap();
    let at = |e: &serde_json::Value| seconds_of_day(e["eventTime"].as_str().unwrap());
    Duration::from_secs_f64(at(events.last().unwrap()) - at(&events[0]))
}

/// `…THH:MM:SS.fffffffffZ` → seconds since midnight (a bench run never spans one).
fn seconds_of_day(rfc3339: &str) -> f64 {
    let time = rfc3339.split('T').nth(1).unwrap().trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next().unwrap().parse().unwrap();
    let m: f64 = parts.next().unwrap().parse().unwrap();
    let s: f64 = parts.next().unwrap().parse().unwrap();
    h * 3600.0 + m * 60.0 + s
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{what}: n={} p50 {:?} p99 {:?} max {:?}",
        times.len(),
        at(0.5),
        at(0.99),
        times[times.len() - 1]
    );
}
