//! The runs the window follows on the Temporal cluster, each with the cluster it runs on: where
//! their Cancel and answers go (`cluster.rs` sends and follows them).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use stepwise_engine::RunId;
use stepwise_engine::cluster::Cluster;

/// The cluster runs the window follows, each with the cluster it runs on.
#[derive(Default)]
pub struct ClusterRuns {
    followed: Mutex<HashMap<RunId, Cluster>>,
}

impl ClusterRuns {
    fn followed(&self) -> MutexGuard<'_, HashMap<RunId, Cluster>> {
        self.followed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cluster of a run the window follows there (its Cancel and answers go to it).
    pub fn cluster_of(&self, id: RunId) -> Option<Cluster> {
        self.followed().get(&id).cloned()
    }

    /// The ids of the runs followed now.
    pub fn ids(&self) -> Vec<RunId> {
        self.followed().keys().copied().collect()
    }

    pub(crate) fn take(&self, id: RunId, cluster: &Cluster) -> bool {
        let mut followed = self.followed();
        if followed.contains_key(&id) {
            return false;
        }
        followed.insert(id, cluster.clone());
        true
    }

    pub(crate) fn done(&self, id: RunId) {
        self.followed().remove(&id);
    }
}
