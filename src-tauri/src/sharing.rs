//! Sharing runs with the other Stepwise processes on this computer: the app serves its control
//! endpoint (its runs reached by id from any terminal; `stepwise run --background` started here
//! when the window is open), and follows the runs other processes own, so the window shows every
//! run on this computer (`others.rs` keeps which, and their owners).

use std::sync::{Arc, Weak};
use std::time::Duration;

use stepwise_engine::control::{Client, Endpoint, Starter};
use stepwise_engine::{Owner, OwnerKind, RunId, StartError};

use crate::state::AppState;

/// How often the history's owners are looked at for new runs. A run started in a terminal
/// appears in the window within this long.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// Shares this app's runs with the other Stepwise processes on this computer, and theirs
/// with the window: serves the control endpoint (recorded in the history as the app's), which
/// also starts runs for `stepwise run --background`, and follows the other processes' runs.
/// Without a history nobody could find the endpoint, so nothing is served. Call once, with
/// the state managed, from inside the async runtime or the app's setup.
pub fn share(state: &Arc<AppState>) {
    let Some(store) = &state.store else { return };
    let _runtime = tauri::async_runtime::handle().inner().enter();
    let weak = Arc::downgrade(state);
    let starter: Starter = Arc::new(move |req| {
        let state = weak.upgrade().ok_or(StartError::ShuttingDown)?;
        let (id, sub) = state.engine.start_subscribed(req)?;
        state.bridge.follow(id, sub);
        Ok(id)
    });
    match Endpoint::open(
        store.owner_id(),
        state.engine.clone(),
        Some(store),
        Some(starter),
    ) {
        Ok(endpoint) => {
            if let Err(e) = store.announce(OwnerKind::App, endpoint.path()) {
                tracing::error!("{e}; other processes will not find this window's runs");
            }
            tracing::info!(endpoint = %endpoint.path().display(), "serving runs");
            state.serve_at(endpoint);
        }
        Err(e) => tracing::error!("{e}; this window's runs can be stopped only here"),
    }
    keep_looking(Arc::downgrade(state));
}

/// Looks for other processes' runs every [`LOOK_EVERY`] for as long as the app lives.
pub fn keep_looking(state: Weak<AppState>) {
    tauri::async_runtime::spawn(async move {
        loop {
            let Some(app) = state.upgrade() else { return };
            look(&app).await;
            drop(app);
            tokio::time::sleep(LOOK_EVERY).await;
        }
    });
}

/// One look: every live run of every other live owner not followed yet is followed from now.
pub async fn look(state: &Arc<AppState>) {
    let Some(store) = state.store.clone() else {
        return;
    };
    let me = store.owner_id().to_string();
    let owners = tauri::async_runtime::spawn_blocking(move || store.live_owners())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    for owner in owners.into_iter().filter(|o| o.id != me) {
        let Ok(client) = Client::new(&owner.endpoint) else {
            continue;
        };
        let Ok(runs) = client.runs().await else {
            continue; // gone: its runs become interrupted in the history
        };
        for run in runs.into_iter().filter(|r| r.status.is_live()) {
            if state.others.take(run.run_id, &client) {
                follow(state, &owner, &client, run.run_id).await;
            }
        }
    }
}

async fn follow(state: &Arc<AppState>, owner: &Owner, client: &Client, id: RunId) {
    let Ok(events) = client.events(id, 0).await else {
        state.others.done(id);
        return;
    };
    let stream = Box::pin(futures_util::stream::unfold(
        events,
        |mut events| async move {
            match events.next().await {
                Some(Ok(event)) => Some((event, events)),
                _ => None,
            }
        },
    ));
    let weak = Arc::downgrade(state);
    state
        .bridge
        .follow_other(id, owner.kind, stream, move |terminal| {
            let Some(state) = weak.upgrade() else { return };
            state.others.done(id);
            if !terminal {
                // Its owner went away mid-run: the history marks the run interrupted, and the
                // window reads it from there (it asks again about such runs while they show live).
                tauri::async_runtime::spawn_blocking(move || {
                    if let Some(store) = &state.store {
                        let _ = store.recover_interrupted();
                    }
                });
            }
        });
    tracing::info!(run_id = %id, owner = owner.kind.word(), "following a run of another process");
}
