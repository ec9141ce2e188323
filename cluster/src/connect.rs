//! The worker's connection to the Temporal frontend, from `[cluster]`.

use std::time::Duration;

use stepwise_engine::cluster::ClusterSettings;
use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions, TlsOptions, Url};

/// Connects (the frontend must answer now) and opens the namespace.
pub async fn client(c: &ClusterSettings, identity: &str) -> Result<Client, String> {
    let tls = c.tls || c.api_key.is_some();
    let scheme = if tls { "https" } else { "http" };
    let target = Url::parse(&format!("{scheme}://{}", c.address))
        .map_err(|e| format!("[cluster] address “{}”: {e}", c.address))?;
    let options = ConnectionOptions::new(target)
        .identity(identity.to_string())
        .connect_timeout(Duration::from_secs(5))
        .maybe_api_key(c.api_key.as_ref().map(|k| k.expose().to_string()))
        .maybe_tls_options(tls.then(TlsOptions::default))
        .build();
    let connection = Connection::connect(options).await.map_err(|e| {
        format!(
            "cannot reach the Temporal server at {}: {e} (is it running? is the address right?)",
            c.address
        )
    })?;
    Client::new(connection, ClientOptions::new(c.namespace.clone()).build())
        .map_err(|e| e.to_string())
}
