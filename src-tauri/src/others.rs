//! Runs other Stepwise processes own — a `stepwise run` in a terminal, a run in the background —
//! that the window follows (`sharing.rs` finds them): each with the client of its owner, where
//! its Cancel, review and approval answers go.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use stepwise_engine::RunId;
use stepwise_engine::control::Client;

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
    pub fn take(&self, id: RunId, client: &Client) -> bool {
        let mut followed = self.followed();
        if followed.contains_key(&id) {
            return false;
        }
        followed.insert(id, client.clone());
        true
    }

    /// The run is no longer followed (it ended, or its owner went away).
    pub fn done(&self, id: RunId) {
        self.followed().remove(&id);
    }
}
