//! What every generation of the MCP settings shares: each server started (to end them all at
//! shutdown, whichever settings started them), the stops of servers let go, and the inspections
//! Settings may cancel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Server;

#[derive(Default)]
pub(super) struct Fleet {
    started: Mutex<Vec<Weak<Server>>>,
    pub(super) stops: TaskTracker,
    inspections: Mutex<HashMap<String, (u64, CancellationToken)>>,
    next_inspection: AtomicU64,
}

impl Fleet {
    pub(super) fn enlist(&self, server: &Arc<Server>) {
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        started.retain(|w| w.strong_count() > 0);
        started.push(Arc::downgrade(server));
    }

    fn lock_inspections(&self) -> MutexGuard<'_, HashMap<String, (u64, CancellationToken)>> {
        self.inspections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the inspection of `name` under way, if any; true when there was one.
    pub(super) fn stop_inspection(&self, name: &str) -> bool {
        let found = self.lock_inspections().remove(name);
        found.inspect(|(_, token)| token.cancel()).is_some()
    }

    /// A new inspection of `name` (one that was under way for it is stopped: the newer wins).
    pub(super) fn inspection(&self, name: &str) -> (u64, CancellationToken) {
        let id = self.next_inspection.fetch_add(1, Ordering::Relaxed);
        let token = CancellationToken::new();
        if let Some((_, old)) = self
            .lock_inspections()
            .insert(name.to_string(), (id, token.clone()))
        {
            old.cancel();
        }
        (id, token)
    }

    pub(super) fn inspected(&self, name: &str, id: u64) {
        let mut all = self.lock_inspections();
        if all.get(name).is_some_and(|(i, _)| *i == id) {
            all.remove(name);
        }
    }

    pub(super) async fn shutdown(&self) {
        let live: Vec<Arc<Server>> = self
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .filter_map(|w| w.upgrade())
            .collect();
        futures_util::future::join_all(live.iter().map(|s| s.stop())).await;
        drop(live);
        self.stops.close();
        self.stops.wait().await;
        self.stops.reopen();
    }
}
