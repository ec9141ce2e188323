//! Finding a run on this computer: the history says which process owns a live run and where
//! its endpoint is; a run started a moment ago may not be in the history yet, so the live
//! owners are asked as well.

use stepwise_engine::control::Client;
use stepwise_engine::store::Store;
use stepwise_engine::{Owner, RunId};

/// Where a run is.
pub enum Located {
    /// Live, in the process `owner`, reachable through `client`.
    Live {
        id: RunId,
        owner: Owner,
        client: Client,
    },
    /// In the history and not live (it ended, or its process is gone).
    Ended(RunId),
    Unknown,
}

/// Finds the run `text` (a full id or a unique prefix of one).
pub async fn locate(store: &Store, text: &str) -> Result<Located, String> {
    let saved = store.resolve_id(text).map_err(|e| e.to_string())?;
    if let Some(id) = saved {
        if let Some(owner) = store.owner_of(id).map_err(|e| e.to_string())?
            && let Ok(client) = Client::new(&owner.endpoint)
        {
            return Ok(Located::Live { id, owner, client });
        }
        // (A full id is taken as it is: the run may not be saved yet.)
        if store.get_run(id).map_err(|e| e.to_string())?.is_some() {
            return Ok(Located::Ended(id));
        }
    }
    for owner in store.live_owners().map_err(|e| e.to_string())? {
        let Ok(client) = Client::new(&owner.endpoint) else {
            continue;
        };
        let Ok(runs) = client.runs().await else {
            continue;
        };
        if let Some(run) = runs
            .iter()
            .find(|r| r.run_id.to_string().starts_with(&text.to_ascii_lowercase()))
        {
            return Ok(Located::Live {
                id: run.run_id,
                owner,
                client,
            });
        }
    }
    Ok(Located::Unknown)
}
