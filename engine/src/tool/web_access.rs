//! What the built-in web tools share: the `[tools]` settings they follow and their HTTP clients,
//! built once on first use. The registry makes one per set of settings and hands it to each
//! web tool, so a tool needs nothing else of the registry.

use std::time::Duration;

use super::ToolError;
use super::net_guard::{ClientOptions, GuardedClient};
use super::tool_settings::ToolSettings;

/// A page fetch gives up after this long (connect, redirects and body together).
const FETCH_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Default)]
pub(crate) struct WebAccess {
    settings: ToolSettings,
    clients: tokio::sync::OnceCell<Result<Clients, String>>,
}

/// The search client goes only where the settings say; the page client goes where a model says,
/// so it is the guarded one.
#[derive(Clone)]
pub(super) struct Clients {
    pub search: GuardedClient,
    pub pages: GuardedClient,
}

impl WebAccess {
    pub fn new(settings: ToolSettings) -> Self {
        WebAccess {
            settings,
            clients: tokio::sync::OnceCell::new(),
        }
    }

    pub fn settings(&self) -> &ToolSettings {
        &self.settings
    }

    /// The tools' HTTP clients, built on first use on a blocking thread: building one reads the
    /// system's certificates (tens of milliseconds), and a cancel pressed meanwhile must not
    /// wait for that.
    pub(super) async fn clients(&self) -> Result<Clients, ToolError> {
        let settings = &self.settings;
        let options = |allow_private| ClientOptions {
            allow_private,
            timeout: FETCH_TIMEOUT,
            proxy: settings.proxy.clone(),
        };
        let (search, pages) = (options(true), options(settings.allow_private_network));
        self.clients
            .get_or_init(|| async move {
                tokio::task::spawn_blocking(move || {
                    Ok(Clients {
                        search: GuardedClient::build(&search)?,
                        pages: GuardedClient::build(&pages)?,
                    })
                })
                .await
                .unwrap_or_else(|e| Err(e.to_string()))
            })
            .await
            .clone()
            .map_err(|e| ToolError {
                message: format!("cannot set up HTTP for tools: {e}"),
                fatal: true,
            })
    }
}
