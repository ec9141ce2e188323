//! `stepwise-worker` (also `stepwise worker`): hosts Stepwise runs for a Temporal task queue
//! (§13). It serves its runs' live events and fast cancel on a TCP endpoint that takes the
//! cluster's shared token, and keeps its own history of the runs it drove.
//!
//! Stopping it (Ctrl-C, SIGTERM) cancels no run: the legs it drives go back to Temporal, which
//! gives them to another worker; they go on from their last checkpoint.

mod args;
mod connect;
mod legs;
mod workflow;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use stepwise_engine::Engine;
use stepwise_engine::control::{Endpoint, Limits, tls};
use stepwise_engine::store::Store;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

use args::WorkerArgs;
use legs::Legs;
use workflow::StepwiseRun;

fn main() -> ExitCode {
    let args = WorkerArgs::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start: {e}")),
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("stepwise-worker: {message}");
    ExitCode::from(2)
}

async fn serve(args: WorkerArgs) -> Result<(), String> {
    let (settings, mut config) =
        stepwise_engine::user_config::from_user_settings().map_err(|e| e.to_string())?;
    let cluster = args.cluster(settings.cluster.unwrap_or_default());
    let token = cluster
        .token
        .as_ref()
        .map(|t| t.expose().to_string())
        .ok_or("the workers' endpoints need a shared token: set [cluster] token, STEPWISE_CLUSTER_TOKEN or --token")?;

    let db = args
        .db
        .clone()
        .or_else(|| Store::default_path().map(|p| p.with_file_name("cluster-worker.db")))
        .ok_or("no data folder for this user; pass --db PATH")?;
    let store = Arc::new(Store::open(&db).map_err(|e| e.to_string())?);
    config.sink = Some(store.sink());
    let engine = Engine::new(config);

    let listener = std::net::TcpListener::bind(&cluster.listen)
        .map_err(|e| format!("cannot listen on {}: {e}", cluster.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // TLS on the endpoint when a certificate and its key are given (both, or neither).
    let tls = match (&cluster.endpoint_cert, &cluster.endpoint_key) {
        (Some(cert), Some(key)) => Some(tls::acceptor(cert, key).map_err(|e| e.to_string())?),
        (None, None) => None,
        _ => return Err("TLS on the endpoint needs both endpoint_cert and endpoint_key".into()),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let advertised = cluster
        .advertise
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{local}"));
    let endpoint = Endpoint::open_tcp(
        listener,
        advertised.clone(),
        token,
        tls,
        engine.clone(),
        Some(&store),
        Limits::default(),
    )
    .map_err(|e| format!("cannot serve on {local}: {e}"))?;

    let identity = format!("stepwise-worker {advertised} pid {}", std::process::id());
    let client = connect::client(&cluster, &identity).await?;
    let stopping = Arc::new(AtomicBool::new(false));
    let temporal = Runtime::from_current_tokio(Default::default()).map_err(|e| e.to_string())?;
    let options = WorkerOptions::new(cluster.task_queue.clone())
        .register_workflow::<StepwiseRun>()
        .map_err(|e| e.to_string())?
        .register_activities(Legs {
            engine: engine.clone(),
            endpoint: advertised.clone(),
            stopping: stopping.clone(),
        })
        // At a stop, legs under way are handed back after this long (see `Legs::stopping`).
        .graceful_shutdown_period(std::time::Duration::from_millis(500))
        // Checkpoints reach Temporal within a second of being made, and so does a cancel.
        .max_heartbeat_throttle_interval(std::time::Duration::from_secs(1))
        .build();
    let mut worker = Worker::new(&temporal, client, options).map_err(|e| e.to_string())?;
    let stop = worker.shutdown_handle();
    // The one line a script waits for: the worker polls and its endpoint answers.
    println!(
        "stepwise-worker: serving task queue “{}” on {}; endpoint {advertised}",
        cluster.task_queue, cluster.address
    );
    let (ran, ()) = tokio::join!(worker.run(), async {
        stop_signal().await;
        stopping.store(true, Ordering::Release);
        stop();
    });
    endpoint.close(std::time::Duration::from_millis(200)).await;
    let _ = store.flush(std::time::Duration::from_secs(5));
    ran.map_err(|e| e.to_string())?;
    // The runs still in this engine were handed back to Temporal: leave them as they are (no
    // RunCancelled), another worker goes on with them.
    std::process::exit(0)
}

async fn stop_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
