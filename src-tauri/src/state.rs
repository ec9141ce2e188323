//! What the app holds while it runs: the engine, the history, the bridge, settings and keys.
//! Commands borrow it; none of them holds run logic.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use stepwise_engine::cluster::{Cluster, ClusterSettings};
use stepwise_engine::control::Endpoint;
use stepwise_engine::provider::{DemoModel, DemoPace, Providers};
use stepwise_engine::settings::{ApiKey, Settings};
use stepwise_engine::store::{Store, Waiting};
use stepwise_engine::{Engine, EngineConfig, ProviderKind};

use crate::attention::{Attention, Desk};
use crate::bridge::{Bridge, DEFAULT_WINDOW, Emit, RunUpdate};
use crate::cluster_runs::ClusterRuns;
use crate::error::AppError;
use crate::others::OtherRuns;
use crate::paths::AppPaths;
use crate::secrets::{Secrets, StoredKey, origin_of};
use crate::workflows::Workflows;

/// Whether history can be used, and if not, why (shown in the UI; runs work either way).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct HistoryStatus {
    pub available: bool,
    pub path: String,
    pub message: Option<String>,
    /// Set while the history cannot save (a full disk): runs go on, but are not being kept.
    pub saving_error: Option<String>,
}

/// How the state is built; the desktop app and the tests differ only here.
pub struct StateOptions {
    pub demo_pace: DemoPace,
    pub secrets: Secrets,
    /// The bridge's coalescing window; zero forwards every delta.
    pub window: Duration,
    /// Where notifications and the window's title go.
    pub desk: Arc<dyn Desk>,
}

impl StateOptions {
    /// The real app: demo pace from the environment, keys in the OS keychain when it answers.
    pub fn desktop(paths: &AppPaths, desk: Arc<dyn Desk>) -> Self {
        let demo_pace = DemoPace::from_env().unwrap_or_else(|e| {
            tracing::warn!("{e}; using the normal demo pace");
            DemoPace::HUMAN
        });
        StateOptions {
            demo_pace,
            secrets: Secrets::open(paths.secrets_file()),
            window: DEFAULT_WINDOW,
            desk,
        }
    }
}

pub struct AppState {
    pub engine: Engine,
    pub store: Option<Arc<Store>>,
    pub history: HistoryStatus,
    pub bridge: Bridge,
    pub attention: Arc<Attention>,
    pub workflows: Workflows,
    pub secrets: Secrets,
    pub paths: AppPaths,
    /// Runs other Stepwise processes own, which the window follows (`others.rs`).
    pub others: OtherRuns,
    /// Runs the window sent to the cluster and follows there (`cluster_runs.rs`).
    pub cluster_runs: ClusterRuns,
    /// Dropped with the state: a task that must end with the app waits on one of its receivers
    /// (`changed()` returns once it is gone; nothing is ever sent).
    pub gone: tokio::sync::watch::Sender<()>,
    /// Where other processes reach this app's runs (`sharing.rs`).
    endpoint: Mutex<Option<Endpoint>>,
    /// Quits the app (set by the shell at start; the mock runtime's tests set their own).
    quit: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    settings: Mutex<Settings>,
    demo: DemoModel,
}

impl AppState {
    pub fn new(paths: AppPaths, emit: Emit, options: StateOptions) -> AppState {
        let path = paths.history_db();
        let (store, history) = match Store::open(&path) {
            Ok(s) => (
                Some(Arc::new(s)),
                HistoryStatus {
                    available: true,
                    path: path.display().to_string(),
                    message: None,
                    saving_error: None,
                },
            ),
            Err(e) => {
                tracing::error!("history unavailable: {e}");
                let status = HistoryStatus {
                    available: false,
                    path: path.display().to_string(),
                    message: Some(e.to_string()),
                    saving_error: None,
                };
                (None, status)
            }
        };
        let settings = Settings::load(&paths.settings_file).unwrap_or_else(|e| {
            tracing::error!("{e}; using the default settings");
            Settings::default()
        });
        let demo = DemoModel::new(options.demo_pace);
        let engine = Engine::new(EngineConfig {
            providers: Providers::demo(demo.clone()),
            tools: settings.tools(paths.settings_file.parent()),
            default_model: None,
            sink: store.as_ref().map(|s| s.sink()),
            max_step_output: settings.max_step_output(),
            prices: settings.price_table(),
        });
        let attention = Arc::new(Attention::new(
            engine.clone(),
            options.desk,
            settings.notifications.enabled,
        ));
        // Every event the window gets also passes by attention (notifications, the title).
        let watch = attention.clone();
        let emit: Emit = Arc::new(move |update: RunUpdate| {
            watch.seen(&update.0);
            emit(update);
        });
        let state = AppState {
            engine,
            store,
            history,
            bridge: Bridge::new(emit, options.window),
            attention,
            workflows: Workflows::new(paths.workflows_dir()),
            secrets: options.secrets,
            paths,
            others: OtherRuns::default(),
            cluster_runs: ClusterRuns::default(),
            gone: tokio::sync::watch::Sender::new(()),
            endpoint: Mutex::new(None),
            quit: Mutex::new(None),
            settings: Mutex::new(settings),
            demo,
        };
        if let Err(e) = state.apply_settings() {
            tracing::error!("{e}; real providers are unavailable until Settings are fixed");
        }
        state
    }

    /// Takes up the runs the history keeps waiting for a review (left so at the last quit, or by
    /// `stepwise run`): each waits again here, ready to answer. One that cannot go on is marked
    /// interrupted (it can be continued). It reads the history: call it on a blocking thread of
    /// the async runtime (`spawn_blocking`), never on an async worker. Returns how many.
    pub fn revive_waiting(&self) -> usize {
        let Some(store) = &self.store else { return 0 };
        let ids = store.waiting_run_ids().unwrap_or_else(|e| {
            tracing::error!("cannot read the waiting runs: {e}");
            Vec::new()
        });
        let mut revived = 0;
        for id in ids {
            match store.take_waiting(id) {
                Ok(Waiting::Ready { snapshot, workflow }) => {
                    match self.engine.revive(*snapshot, *workflow) {
                        Ok((id, sub)) => {
                            self.bridge.follow(id, sub);
                            revived += 1;
                        }
                        Err(e) => {
                            tracing::error!(run_id = %id, "cannot take up a waiting run: {e}")
                        }
                    }
                }
                Ok(Waiting::Elsewhere) => {
                    tracing::info!(run_id = %id, "a waiting run is held by another Stepwise process")
                }
                Ok(Waiting::NotWaiting) => {
                    tracing::info!(run_id = %id, "a run saved as waiting could not go on: interrupted")
                }
                Err(e) => tracing::error!(run_id = %id, "cannot read a waiting run: {e}"),
            }
        }
        revived
    }

    /// Where other processes reach this app's runs (`sharing::share` serves it).
    pub fn serve_at(&self, endpoint: Endpoint) {
        *self.endpoint.lock().unwrap_or_else(PoisonError::into_inner) = Some(endpoint);
    }

    /// How the app quits (`quit_app`, the tray's Quit go through it).
    pub fn on_quit(&self, quit: impl Fn() + Send + Sync + 'static) {
        *self.quit.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(quit));
    }

    /// Quits the app: live runs are cancelled and saved on the way out (`lifecycle.rs`).
    pub fn quit(&self) {
        if let Some(quit) = &*self.quit.lock().unwrap_or_else(PoisonError::into_inner) {
            quit();
        }
    }

    /// Stops serving (at quit, once the runs have ended and their watchers have their last
    /// events).
    pub async fn stop_sharing(&self, limit: Duration) {
        let endpoint = self
            .endpoint
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(endpoint) = endpoint {
            endpoint.close(limit).await;
        }
    }

    pub fn settings(&self) -> MutexGuard<'_, Settings> {
        self.settings.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether history works now, and whether it is saving.
    pub fn history_status(&self) -> HistoryStatus {
        let mut status = self.history.clone();
        status.saving_error = self.store.as_ref().and_then(|s| s.health()).map(|e| {
            format!("Runs are not being saved to the history right now ({e}). Free some disk space; what is waiting is saved as soon as writing works again.")
        });
        status
    }

    /// The settings as providers see them: the file, keys from the keychain (each only for the
    /// address it was saved for), then the environment (`OPENAI_API_KEY`, …), which wins.
    pub fn effective_settings(&self) -> Settings {
        self.keys().effective
    }

    /// The effective settings, and for each provider whose saved key belongs to another address
    /// than its base URL now (not sent; Settings asks for it again), that address. The keychain
    /// is read once for both.
    pub fn keys(&self) -> Keys {
        let mut effective = self.settings().clone();
        let mut saved_elsewhere = Vec::new();
        // Every provider a key was saved for (Settings offer one where the preset takes a key).
        for kind in ProviderKind::CONFIGURABLE {
            let Some(stored) = self.secrets.get(kind) else {
                continue;
            };
            if !key_fits(&stored, &effective, kind) {
                saved_elsewhere.push((kind, stored.origin.unwrap_or_default()));
            } else if let Some(p) = effective.provider_mut(kind) {
                p.api_key = Some(ApiKey::new(stored.key));
            }
        }
        Keys {
            effective: effective.with_env(|k| std::env::var(k).ok()),
            saved_elsewhere,
        }
    }

    /// The Temporal cluster in the settings (file, then `STEPWISE_CLUSTER_*`), if any.
    pub fn cluster(&self) -> Option<Cluster> {
        let settings = self.settings().cluster.clone();
        let settings = ClusterSettings::with_env(settings, |k| std::env::var(k).ok())?;
        Cluster::new(settings)
            .inspect_err(|e| tracing::error!("the cluster in the settings cannot be used: {e}"))
            .ok()
    }

    /// Where the runs the window starts go: the cluster when Settings say so, else `None`
    /// (this computer).
    pub fn cluster_for_runs(&self) -> Option<Cluster> {
        self.cluster().filter(|c| c.settings().send_runs)
    }

    /// The offline demo model as this app runs it.
    pub fn demo(&self) -> &DemoModel {
        &self.demo
    }

    /// Rebuilds the providers for the runs started from now on.
    pub fn apply_settings(&self) -> Result<(), AppError> {
        let effective = self.effective_settings();
        let providers = effective.providers(self.demo.clone());
        let default_model = effective
            .default_model()
            .map_err(|e| AppError::Settings(e.to_string()))?;
        self.engine.reconfigure(
            providers,
            effective.tools(self.paths.settings_file.parent()),
            default_model,
            effective.max_step_output(),
            effective.price_table(),
        );
        self.attention.set_enabled(effective.notifications.enabled);
        Ok(())
    }

    /// Writes the settings file (never with keys: those live in `Secrets`).
    pub fn save_settings(&self, settings: Settings) -> Result<(), AppError> {
        let mut to_file = settings.clone();
        for kind in ProviderKind::CONFIGURABLE {
            if let Some(p) = to_file.provider_mut(kind) {
                p.api_key = None;
            }
        }
        let text =
            toml::to_string_pretty(&to_file).map_err(|e| AppError::Settings(e.to_string()))?;
        let file = self.paths.settings_file.clone();
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(|e| AppError::Io(e.to_string()))?;
        }
        std::fs::write(&file, text)
            .map_err(|e| AppError::Io(format!("{}: {e}", file.display())))?;
        *self.settings() = to_file;
        self.apply_settings()
    }
}

/// What `AppState::keys` found.
pub struct Keys {
    pub effective: Settings,
    pub saved_elsewhere: Vec<(ProviderKind, String)>,
}

/// A key goes only to the address it was saved for (keys from before addresses were kept go
/// wherever the provider points, as they always did).
fn key_fits(stored: &StoredKey, settings: &Settings, kind: ProviderKind) -> bool {
    match &stored.origin {
        None => true,
        Some(o) => origin_of(&settings.base_url(kind)).as_deref() == Some(o.as_str()),
    }
}
