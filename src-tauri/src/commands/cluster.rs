//! Settings → Where runs go: this computer, or a Temporal cluster (§13), and its connection
//! test. Like a provider's key, the cluster's API key and the workers' token are write-only:
//! no response carries them, only whether they are set.

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use stepwise_engine::cluster::{Cluster, ClusterError, ClusterSettings};
use stepwise_engine::settings::ApiKey;
use tauri::State;

use super::blocking;
use super::settings::ConnectionReport;
use crate::error::AppError;
use crate::state::AppState;

/// Where runs go, as Settings shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ClusterView {
    /// The runs the window starts go to the cluster (false: they run on this computer).
    pub send_runs: bool,
    /// Temporal's HTTP API, e.g. `http://temporal.example.com:7243`.
    pub http_address: String,
    pub namespace: String,
    pub task_queue: String,
    pub has_api_key: bool,
    pub has_token: bool,
    /// `STEPWISE_CLUSTER_*` variables are set; they win over what Settings save.
    pub from_environment: bool,
}

/// What Settings change of where runs go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ClusterUpdate {
    pub send_runs: bool,
    pub http_address: String,
    pub namespace: String,
    pub task_queue: String,
    /// A new API key (`""` removes it); absent keeps the one saved.
    #[serde(default)]
    pub api_key: Option<String>,
    /// A new token of the workers' endpoints (`""` removes it); absent keeps the one saved.
    #[serde(default)]
    pub token: Option<String>,
}

#[tauri::command]
#[specta::specta]
pub async fn get_cluster_settings(
    state: State<'_, Arc<AppState>>,
) -> Result<ClusterView, AppError> {
    blocking(&state, |s| Ok(view(s))).await
}

#[tauri::command]
#[specta::specta]
pub async fn save_cluster_settings(
    state: State<'_, Arc<AppState>>,
    update: ClusterUpdate,
) -> Result<ClusterView, AppError> {
    blocking(&state, move |s| {
        let cluster = merged(s, &update)?;
        let mut settings = s.settings().clone();
        // Nothing set and runs here: no [cluster] section is written at all.
        settings.cluster = (cluster != ClusterSettings::default()).then_some(cluster);
        s.save_settings(settings)?;
        tracing::info!(send_runs = update.send_runs, "where runs go saved");
        Ok(view(s))
    })
    .await
}

/// Reaches the cluster with these settings (not saved yet) and says, in words, what works and
/// what does not: the address, the key, the namespace, and whether any worker serves the queue.
#[tauri::command]
#[specta::specta]
pub async fn test_cluster(
    state: State<'_, Arc<AppState>>,
    update: ClusterUpdate,
) -> Result<ConnectionReport, AppError> {
    let settings = blocking(&state, move |s| merged(s, &update)).await?;
    let (namespace, queue) = (settings.namespace.clone(), settings.task_queue.clone());
    let cluster = Cluster::new(settings).map_err(AppError::from)?;
    let started = Instant::now();
    let reached = async {
        cluster.test_connection().await?;
        cluster.workers().await
    }
    .await;
    let latency_ms = Some(started.elapsed().as_millis() as u64);
    Ok(match reached {
        Ok(0) => ConnectionReport {
            ok: false,
            message: format!(
                "Connected to the namespace “{namespace}”, but no worker serves the task queue “{queue}”: runs sent there would wait. Start one with `stepwise worker` on a server."
            ),
            latency_ms,
        },
        Ok(n) => ConnectionReport {
            ok: true,
            message: format!(
                "Connected: {n} worker{} serve{} the task queue “{queue}”.",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" }
            ),
            latency_ms,
        },
        Err(e) => ConnectionReport {
            ok: false,
            message: words(&e),
            latency_ms: None,
        },
    })
}

/// A failed test in a sentence that starts with what to look at.
fn words(e: &ClusterError) -> String {
    let mut text = e.to_string();
    if let Some(first) = text.get(..1) {
        text.replace_range(..1, &first.to_uppercase());
    }
    text
}

/// The saved cluster settings with the update on top, checked.
fn merged(state: &AppState, update: &ClusterUpdate) -> Result<ClusterSettings, AppError> {
    let address = ClusterSettings::http_address_from(&update.http_address)
        .map_err(|e| AppError::Settings(format!("Cluster address: {e}")))?;
    let namespace = update.namespace.trim();
    let queue = update.task_queue.trim();
    if namespace.is_empty() || queue.is_empty() {
        return Err(AppError::Settings(
            "The cluster's namespace and task queue cannot be empty".into(),
        ));
    }
    let mut c = state.settings().cluster.clone().unwrap_or_default();
    c.send_runs = update.send_runs;
    c.http_address = address;
    c.namespace = namespace.to_string();
    c.task_queue = queue.to_string();
    let secret = |new: &Option<String>, old: Option<ApiKey>| match new.as_deref().map(str::trim) {
        None => old,
        Some("") => None,
        Some(v) => Some(ApiKey::new(v.to_string())),
    };
    c.api_key = secret(&update.api_key, c.api_key.take());
    c.token = secret(&update.token, c.token.take());
    Ok(c)
}

fn view(state: &AppState) -> ClusterView {
    let c = state.settings().cluster.clone().unwrap_or_default();
    let from_environment =
        std::env::vars().any(|(k, v)| k.starts_with("STEPWISE_CLUSTER_") && !v.trim().is_empty());
    ClusterView {
        send_runs: c.send_runs,
        http_address: c.http_address,
        namespace: c.namespace,
        task_queue: c.task_queue,
        has_api_key: c.api_key.is_some(),
        has_token: c.token.is_some(),
        from_environment,
    }
}
