//! The control endpoint of a `stepwise` process that runs runs: while it goes, `stepwise
//! cancel`, `watch`, `answer` and the window reach its runs by id.

use std::sync::Arc;

use stepwise_engine::control::Endpoint;
use stepwise_engine::store::Store;
use stepwise_engine::{Engine, OwnerKind};

/// Serves `engine`'s runs and records where in the history. A process that cannot serve (no
/// private folder for the socket) still runs; it says that its runs can be stopped only here.
pub fn serve(engine: &Engine, store: &Arc<Store>, kind: OwnerKind) -> Option<Endpoint> {
    let endpoint = match Endpoint::open(store.owner_id(), engine.clone(), Some(store), None) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("stepwise: {e}; this run can be followed and stopped only from here");
            return None;
        }
    };
    if let Err(e) = store.announce(kind, endpoint.path()) {
        eprintln!("stepwise: {e}; other terminals will not find this run");
    }
    Some(endpoint)
}
