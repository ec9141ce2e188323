//! The worker's options; each one overrides `[cluster]` in the settings file.

use std::path::PathBuf;

use clap::Parser;
use stepwise_engine::cluster::ClusterSettings;
use stepwise_engine::settings::ApiKey;

#[derive(Parser, Debug)]
#[command(
    name = "stepwise-worker",
    about = "Host Stepwise runs for a Temporal task queue (stepwise worker)"
)]
pub struct WorkerArgs {
    /// The Temporal frontend (gRPC), HOST:PORT.
    #[arg(long)]
    pub address: Option<String>,
    #[arg(long)]
    pub namespace: Option<String>,
    #[arg(long)]
    pub task_queue: Option<String>,
    /// A Temporal Cloud API key (TLS is then on); better in STEPWISE_CLUSTER_API_KEY.
    #[arg(long)]
    pub api_key: Option<String>,
    /// TLS to the frontend without an API key.
    #[arg(long)]
    pub tls: bool,
    /// The shared secret clients give this worker's endpoint; better in STEPWISE_CLUSTER_TOKEN.
    #[arg(long)]
    pub token: Option<String>,
    /// Where this worker's endpoint listens, HOST:PORT (port 0: any free one).
    #[arg(long)]
    pub listen: Option<String>,
    /// How clients reach the endpoint (`http://HOST:PORT`), if not as it listens.
    #[arg(long)]
    pub advertise: Option<String>,
    /// This worker's history of the runs it drove (default: cluster-worker.db in the data folder).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

impl WorkerArgs {
    /// The settings, with the options given here over them.
    pub fn cluster(&self, mut c: ClusterSettings) -> ClusterSettings {
        let set = |field: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                field.clone_from(v);
            }
        };
        set(&mut c.address, &self.address);
        set(&mut c.namespace, &self.namespace);
        set(&mut c.task_queue, &self.task_queue);
        set(&mut c.listen, &self.listen);
        if let Some(a) = &self.advertise {
            c.advertise = Some(a.clone());
        }
        if let Some(k) = &self.api_key {
            c.api_key = Some(ApiKey::new(k.clone()));
        }
        if let Some(t) = &self.token {
            c.token = Some(ApiKey::new(t.clone()));
        }
        c.tls |= self.tls;
        c
    }
}
