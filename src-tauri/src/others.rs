//! Runs other Stepwise processes own — a `stepwise run` in a terminal, a run in the background:
//! the window finds them through the history's owners, follows each through its owner's
//! endpoint (its events reach the webview as the app's own runs' do), and sends its Cancel,
//! review and approval answers there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use stepwise_engine::control::Client;
use stepwise_engine::{Owner, RunId};

use crate::state::AppState;

/// How often the history's owners are looked at for new runs. A run started in a terminal
/// appears in the window within this long.
const LOOK_EVERY: Duration = Duration::from_millis(500);

/// The runs of other processes the window follows, each with the client of its owner.
#[derive(Default)]
pub struct OtherRuns {
    followed: Mutex<HashMap<RunId, Client>>,
}

impl OtherRuns {
    fn followed(&self) -> MutexGuard<'_, HashMap<RunId, Client>> {
        self.followed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The owner's client, for a run another process owns that the window follows.
    pub fn client(&self, id: RunId) -> Option<Client> {
        self.followed().get(&id).cloned()
    }

    /// Takes a run to follow; false if it is followed already.
    fn take(&self, id: RunId, client: &Client) -> bool {
        let mut followed = self.followed();
        if followed.contains_key(&id) {
            return false;
        }
        followed.insert(id, client.clone());
        true
    }

    fn done(&self, id: RunId) {
        self.followed().remove(&id);
    }
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
