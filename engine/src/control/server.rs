//! The endpoint's socket and connections: bound in the runtime folder, only the owner's user let
//! in, every connection held to [`Limits`]. Requests go to `routes.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::events::DropConnection;
use super::folder::{FolderError, runtime_folder};
use super::peer;
use super::routes::{Owner, Starter, router};
use crate::engine::Engine;
use crate::store::Store;

/// What one endpoint lets its clients cost it.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once; one more is closed at once (a watcher holds one for as long
    /// as it follows a run).
    pub max_connections: usize,
    /// A request line and headers together (hyper answers 431 past it).
    pub max_head_bytes: usize,
    /// A request body (a workflow to start is the largest).
    pub max_body_bytes: usize,
    /// A connection that has not sent its request head in this long is closed.
    pub head_timeout: Duration,
    /// Events a watcher may fall behind by before it is dropped (it can reconnect from the
    /// last event it got): a client that never reads costs at most this much.
    pub max_event_backlog: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            max_head_bytes: 16 * 1024,
            max_body_bytes: 1024 * 1024,
            head_timeout: Duration::from_secs(10),
            max_event_backlog: 4_096,
        }
    }
}

/// A serving endpoint. Closing it (or dropping it) stops accepting, ends its connections and
/// removes its socket.
pub struct Endpoint {
    path: PathBuf,
    stop: CancellationToken,
    connections: TaskTracker,
}

impl Endpoint {
    /// Serves `engine`'s runs at `<runtime folder>/<name>.sock`. `history` gives watchers the
    /// events already saved; `starter` starts runs asked for (`None`: this owner starts none).
    /// Must be called within a Tokio runtime.
    pub fn open(
        name: &str,
        engine: Engine,
        history: Option<&Arc<Store>>,
        starter: Option<Starter>,
    ) -> Result<Endpoint, FolderError> {
        let path = runtime_folder()?.join(format!("{name}.sock"));
        Endpoint::open_at(&path, engine, history, starter, Limits::default()).map_err(|e| {
            FolderError::Io {
                path: path.display().to_string(),
                message: e.to_string(),
            }
        })
    }

    /// Serves at `path` (its folder must exist and be private) with the given limits.
    pub fn open_at(
        path: &Path,
        engine: Engine,
        history: Option<&Arc<Store>>,
        starter: Option<Starter>,
        limits: Limits,
    ) -> std::io::Result<Endpoint> {
        // A socket file left by a process that died with this name is in the way.
        if std::fs::symlink_metadata(path).is_ok() {
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        restrict(path)?;
        let owner = Owner {
            engine,
            history: history.map(Arc::downgrade).unwrap_or_default(),
            starter,
            max_event_backlog: limits.max_event_backlog,
        };
        let endpoint = Endpoint {
            path: path.to_path_buf(),
            stop: CancellationToken::new(),
            connections: TaskTracker::new(),
        };
        let accepting = Accepting {
            router: router(owner, limits.max_body_bytes),
            limits,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            stop: endpoint.stop.clone(),
            connections: endpoint.connections.clone(),
            uid: peer::my_uid(),
        };
        tokio::spawn(accepting.run(listener));
        Ok(endpoint)
    }

    /// The socket's path (what the history records for this owner).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops serving and waits (up to `limit`) for the connections to end.
    pub async fn close(&self, limit: Duration) {
        self.stop.cancel();
        self.connections.close();
        let _ = tokio::time::timeout(limit, self.connections.wait()).await;
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

struct Accepting {
    router: axum::Router,
    limits: Limits,
    slots: Arc<Semaphore>,
    stop: CancellationToken,
    connections: TaskTracker,
    uid: u32,
}

impl Accepting {
    async fn run(self, listener: UnixListener) {
        loop {
            let stream = tokio::select! {
                _ = self.stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    // Out of file descriptors, most likely: let some connections end first
                    // instead of spinning on the error.
                    Err(_) => {
                        tokio::select! {
                            _ = self.stop.cancelled() => return,
                            _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                        }
                    }
                },
            };
            let peer_uid = stream.peer_cred().ok().map(|c| c.uid());
            if !peer::allowed(peer_uid, self.uid) {
                continue; // dropped: closed without a word
            }
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                continue; // too many at once: this one is closed, the served ones go on
            };
            let connection = serve(stream, self.router.clone(), self.limits, self.stop.clone());
            self.connections.spawn(async move {
                connection.await;
                drop(slot);
            });
        }
    }
}

async fn serve(stream: UnixStream, router: axum::Router, limits: Limits, stop: CancellationToken) {
    let kick = CancellationToken::new();
    let service = {
        let kick = kick.clone();
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(DropConnection(kick.clone()));
            router.clone().oneshot(req.map(axum::body::Body::new))
        })
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout)
        .max_buf_size(limits.max_head_bytes)
        .max_headers(100);
    let connection = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = kick.cancelled() => return,
        _ = stop.cancelled() => {}
    }
    // Closing: an idle connection ends now; a response under way (a watcher getting a run's
    // last events) is finished first. `Endpoint::close` bounds the wait.
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection => {}
        _ = kick.cancelled() => {}
    }
}
