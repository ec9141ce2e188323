//! The endpoint's socket and connections, every connection held to [`Limits`]: on this computer a
//! Unix socket in the runtime folder, only the owner's user let in; a cluster worker's on TCP,
//! every request carrying the cluster's shared token (§13). Requests go to `routes.rs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::Semaphore;
use tokio_native_tls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::events::DropConnection;
use super::folder::{FolderError, runtime_folder};
use super::peer;
use super::routes::{Owner, Starter, router, with_token};
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
    /// The socket file (a Unix socket's), removed at the end.
    path: Option<PathBuf>,
    /// Where clients reach it: the socket's path, or `http://HOST:PORT` for TCP.
    address: String,
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
            path: Some(path.to_path_buf()),
            address: path.display().to_string(),
            stop: CancellationToken::new(),
            connections: TaskTracker::new(),
        };
        let accepting = endpoint.accepting(router(owner, limits.max_body_bytes), limits);
        tokio::spawn(accepting.run(Listener::Unix(listener, peer::my_uid())));
        Ok(endpoint)
    }

    /// Serves `engine`'s runs on TCP at `listener` (a cluster worker's endpoint, §13): every
    /// request must carry `Authorization: Bearer <token>`; one without it is refused with 401.
    /// With `tls`, every connection is TLS first (`tls::acceptor`). `advertised` is the address
    /// clients are told to use (`http://HOST:PORT`, `https://…` with TLS).
    pub fn open_tcp(
        listener: std::net::TcpListener,
        advertised: String,
        token: String,
        tls: Option<TlsAcceptor>,
        engine: Engine,
        history: Option<&Arc<Store>>,
        limits: Limits,
    ) -> std::io::Result<Endpoint> {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let owner = Owner {
            engine,
            history: history.map(Arc::downgrade).unwrap_or_default(),
            starter: None,
            max_event_backlog: limits.max_event_backlog,
        };
        let endpoint = Endpoint {
            path: None,
            address: advertised,
            stop: CancellationToken::new(),
            connections: TaskTracker::new(),
        };
        let routes = with_token(router(owner, limits.max_body_bytes), token);
        let mut accepting = endpoint.accepting(routes, limits);
        accepting.tls = tls;
        tokio::spawn(accepting.run(Listener::Tcp(listener)));
        Ok(endpoint)
    }

    fn accepting(&self, router: axum::Router, limits: Limits) -> Accepting {
        Accepting {
            router,
            limits,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            tls: None,
            stop: self.stop.clone(),
            connections: self.connections.clone(),
        }
    }

    /// The socket's path (what the history records for this owner); the TCP address for a
    /// worker's endpoint.
    pub fn path(&self) -> &Path {
        Path::new(&self.address)
    }

    /// Where clients reach it: a socket's path, or `http://HOST:PORT`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Stops serving and waits (up to `limit`) for the connections to end.
    pub async fn close(&self, limit: Duration) {
        self.stop.cancel();
        self.connections.close();
        let _ = tokio::time::timeout(limit, self.connections.wait()).await;
        self.remove_socket();
    }

    fn remove_socket(&self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stop.cancel();
        self.remove_socket();
    }
}

#[cfg(unix)]
fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

/// What an endpoint listens on.
enum Listener {
    /// A Unix socket, and the only user let in.
    Unix(UnixListener, u32),
    /// TCP: who may is decided per request, by the token.
    Tcp(TcpListener),
}

/// A connection of either kind.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

impl Listener {
    /// The next connection let in; `Ok(None)` for one turned away (another user's).
    async fn accept(&self) -> std::io::Result<Option<Box<dyn Stream>>> {
        match self {
            Listener::Unix(listener, uid) => {
                let (stream, _) = listener.accept().await?;
                let peer_uid = stream.peer_cred().ok().map(|c| c.uid());
                // Another user's is closed without a word.
                Ok(peer::allowed(peer_uid, *uid).then(|| Box::new(stream) as Box<dyn Stream>))
            }
            Listener::Tcp(listener) => {
                let (stream, _) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                Ok(Some(Box::new(stream)))
            }
        }
    }
}

struct Accepting {
    router: axum::Router,
    limits: Limits,
    slots: Arc<Semaphore>,
    /// Every connection is TLS first (a worker's endpoint where configured).
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
    connections: TaskTracker,
}

impl Accepting {
    async fn run(self, listener: Listener) {
        loop {
            let stream = tokio::select! {
                _ = self.stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok(Some(stream)) => stream,
                    Ok(None) => continue,
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
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                continue; // too many at once: this one is closed, the served ones go on
            };
            let (router, limits, stop) = (self.router.clone(), self.limits, self.stop.clone());
            let tls = self.tls.clone();
            self.connections.spawn(async move {
                // The handshake in the connection's own task, held to the head's time limit:
                // a client that stalls in it holds only its own slot.
                let stream = match tls {
                    None => stream,
                    Some(tls) => {
                        match tokio::time::timeout(limits.head_timeout, tls.accept(stream)).await {
                            Ok(Ok(secured)) => Box::new(secured) as Box<dyn Stream>,
                            _ => return,
                        }
                    }
                };
                serve(stream, router, limits, stop).await;
                drop(slot);
            });
        }
    }
}

async fn serve(
    stream: Box<dyn Stream>,
    router: axum::Router,
    limits: Limits,
    stop: CancellationToken,
) {
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
