//! `[cluster]` in the settings file: where the Temporal cluster is, for the workers and for the
//! clients that send runs to it (ARCHITECTURE §13).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ApiKey;

/// ```toml
/// [cluster]
/// send_runs = true     # the app starts its runs here (Settings → Where runs go)
/// address = "temporal.example.com:7233"            # gRPC: the workers connect here
/// http_address = "https://temporal.example.com:7243" # Temporal's HTTP API: the app and the CLI
/// namespace = "default"
/// task_queue = "stepwise"
/// api_key = "…"        # a Temporal Cloud key (sent as a bearer token; TLS then)
/// tls = false          # TLS to the gRPC address without a key
/// token = "…"          # the shared secret of the workers' endpoints (live text, fast cancel)
/// listen = "0.0.0.0:7300"  # a worker's endpoint
/// advertise = "https://10.0.0.5:7300"  # how clients reach it, if not the listen address
/// endpoint_cert = "/etc/stepwise/worker.pem"  # TLS on a worker's endpoint: its certificate…
/// endpoint_key = "/etc/stepwise/worker.key"   # …and private key (PKCS #8), both PEM
/// endpoint_ca = "/etc/stepwise/ca.pem"        # clients: the authority that signed them
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// The app sends the runs it starts to this cluster; false: they run on this computer
    /// (the cluster is still used for `stepwise run --on cluster` and for workers).
    pub send_runs: bool,
    pub address: String,
    pub http_address: String,
    pub namespace: String,
    pub task_queue: String,
    pub api_key: Option<ApiKey>,
    pub tls: bool,
    pub token: Option<ApiKey>,
    pub listen: String,
    pub advertise: Option<String>,
    pub endpoint_cert: Option<PathBuf>,
    pub endpoint_key: Option<PathBuf>,
    pub endpoint_ca: Option<PathBuf>,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            send_runs: false,
            address: "127.0.0.1:7233".into(),
            http_address: "http://127.0.0.1:7243".into(),
            namespace: "default".into(),
            task_queue: "stepwise".into(),
            api_key: None,
            tls: false,
            token: None,
            listen: "127.0.0.1:0".into(),
            advertise: None,
            endpoint_cert: None,
            endpoint_key: None,
            endpoint_ca: None,
        }
    }
}

/// An address of Temporal's HTTP API that is not one.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "“{0}” is not an address like http://temporal.example.com:7243 (http:// or https://, then a host)"
)]
pub struct NotAnAddress(pub String);

impl ClusterSettings {
    /// An address of the HTTP API as a person typed it, checked and tidied (no trailing `/`).
    pub fn http_address_from(text: &str) -> Result<String, NotAnAddress> {
        let address = text.trim().trim_end_matches('/');
        let url = reqwest::Url::parse(address).map_err(|_| NotAnAddress(address.into()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(NotAnAddress(address.into()));
        }
        Ok(address.to_string())
    }

    /// `STEPWISE_CLUSTER_*` over the file's (if any): `ADDRESS`, `HTTP_ADDRESS`, `NAMESPACE`,
    /// `TASK_QUEUE`, `API_KEY`, `TOKEN`, `LISTEN`, `ADVERTISE`, `ENDPOINT_CERT`, `ENDPOINT_KEY`,
    /// `ENDPOINT_CA`. Any of them makes a cluster.
    pub fn with_env(
        file: Option<ClusterSettings>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Option<ClusterSettings> {
        let get = |name: &str| var(&format!("STEPWISE_CLUSTER_{name}")).filter(|v| !v.is_empty());
        let names = [
            "ADDRESS",
            "HTTP_ADDRESS",
            "NAMESPACE",
            "TASK_QUEUE",
            "API_KEY",
            "TOKEN",
            "LISTEN",
            "ADVERTISE",
            "ENDPOINT_CERT",
            "ENDPOINT_KEY",
            "ENDPOINT_CA",
        ];
        if file.is_none() && names.iter().all(|n| get(n).is_none()) {
            return None;
        }
        let mut c = file.unwrap_or_default();
        if let Some(v) = get("ADDRESS") {
            c.address = v;
        }
        if let Some(v) = get("HTTP_ADDRESS") {
            c.http_address = v;
        }
        if let Some(v) = get("NAMESPACE") {
            c.namespace = v;
        }
        if let Some(v) = get("TASK_QUEUE") {
            c.task_queue = v;
        }
        if let Some(v) = get("API_KEY") {
            c.api_key = Some(ApiKey::new(v));
        }
        if let Some(v) = get("TOKEN") {
            c.token = Some(ApiKey::new(v));
        }
        if let Some(v) = get("LISTEN") {
            c.listen = v;
        }
        if let Some(v) = get("ADVERTISE") {
            c.advertise = Some(v);
        }
        if let Some(v) = get("ENDPOINT_CERT") {
            c.endpoint_cert = Some(v.into());
        }
        if let Some(v) = get("ENDPOINT_KEY") {
            c.endpoint_key = Some(v.into());
        }
        if let Some(v) = get("ENDPOINT_CA") {
            c.endpoint_ca = Some(v.into());
        }
        Some(c)
    }
}
