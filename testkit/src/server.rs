//! The listener, one task per connection, the behavior queue and the request log.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::behavior::{Behavior, Fault};
use crate::http::{self, Request};
use crate::record::RequestRecord;
use crate::wire::{self, Format, Item};

/// A running server. Dropping it stops accepting connections.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    open_connections: AtomicUsize,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Behavior>,
    default: Behavior,
    records: Vec<RequestRecord>,
    /// Web pages by path (without the query), for tools to fetch.
    pages: HashMap<String, Page>,
    models: Models,
}

/// What `GET /v1/models` answers: the models (in OpenAI's form, or Anthropic's when the request
/// carries `anthropic-version`), or an error status (401 for a rejected key).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Models {
    pub ids: Vec<String>,
    pub status: Option<u16>,
}

impl Default for Models {
    fn default() -> Self {
        Models {
            ids: vec!["test-model".into(), "test-model-large".into()],
            status: None,
        }
    }
}

/// A web page the server answers a GET with (a search page, an article, a slow page).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Page {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    /// Send the headers, then nothing more until the client closes.
    pub stall: bool,
    /// Answer `302 Found` to here.
    pub location: Option<String>,
}

impl Page {
    pub fn html(body: &str) -> Self {
        Page {
            status: 200,
            content_type: "text/html; charset=utf-8".into(),
            body: body.into(),
            ..Page::default()
        }
    }

    /// Headers, then silence until the client gives up.
    pub fn stalling() -> Self {
        Page {
            stall: true,
            ..Page::html("")
        }
    }

    pub fn redirect(location: &str) -> Self {
        Page {
            status: 302,
            location: Some(location.into()),
            ..Page::html("")
        }
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes a request as it arrives; its index in the log.
    fn record(&self, req: &Request) -> usize {
        let mut s = self.state();
        s.records.push(RequestRecord {
            method: req.method.clone(),
            path: req.path.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            received_at: Instant::now(),
            chunk_times: Vec::new(),
            chunks_sent: 0,
            disconnected_at: None,
            disconnected: false,
            completed: false,
        });
        s.records.len() - 1
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut RequestRecord)) {
        if let Some(r) = self.state().records.get_mut(index) {
            f(r);
        }
    }
}

impl TestServer {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start() -> io::Result<TestServer> {
        TestServer::start_on("127.0.0.1:0".parse().map_err(io::Error::other)?).await
    }

    pub async fn start_on(addr: SocketAddr) -> io::Result<TestServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(TestServer {
            addr,
            shared,
            accept,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`: Anthropic's base URL form.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://127.0.0.1:PORT/v1`: the OpenAI-compatible base URL form.
    pub fn openai_base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The next request gets this behavior (queued in order).
    /// Serves `page` for GET requests to `path` (any query).
    pub fn set_page(&self, path: &str, page: Page) {
        self.shared.state().pages.insert(path.to_string(), page);
    }

    /// What `GET /v1/models` answers from now on.
    pub fn set_models(&self, models: Models) {
        self.shared.state().models = models;
    }

    pub fn push(&self, b: Behavior) {
        self.shared.state().queue.push_back(b);
    }

    /// What requests get when the queue is empty.
    pub fn set_default(&self, b: Behavior) {
        self.shared.state().default = b;
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.state().records.clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.state().records.len()
    }

    /// Connections the server has open now.
    pub fn open_connections(&self) -> usize {
        self.shared.open_connections.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        *self.shared.state() = State::default();
    }

    /// Waits (up to `limit`) until request `index` has been seen to disconnect, and returns when.
    pub async fn wait_for_disconnect(&self, index: usize, limit: Duration) -> Option<Instant> {
        self.wait_for(limit, |s| {
            s.records.get(index).and_then(|r| r.disconnected_at)
        })
        .await
    }

    /// Waits (up to `limit`) until at least `n` requests have arrived.
    pub async fn wait_for_requests(&self, n: usize, limit: Duration) -> bool {
        self.wait_for(limit, |s| (s.records.len() >= n).then_some(()))
            .await
            .is_some()
    }

    /// Polls the state; the times it reports were taken by the server itself, so polling adds
    /// nothing to them.
    async fn wait_for<T>(&self, limit: Duration, f: impl Fn(&State) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = f(&self.shared.state()) {
                return Some(v);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, shared.clone()));
    }
}

/// Counts a connection as open for as long as its task lives.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    shared.open_connections.fetch_add(1, Ordering::SeqCst);
    let _open = OpenGuard(shared.clone());
    let (mut rd, mut wr) = stream.into_split();
    let mut buf = Vec::new();
    // Keep-alive: serve requests until the client closes or a response ends the connection.
    while let Ok(Some(req)) = http::read_request(&mut rd, &mut buf).await {
        let keep_open = if req.path.starts_with("/_control/") {
            control(&shared, &req, &mut wr).await.is_ok()
        } else {
            serve(&shared, req, &rd, &mut wr).await
        };
        if !keep_open {
            return;
        }
    }
}

/// Answers one model request. Returns whether the connection can serve another request.
async fn serve(shared: &Shared, req: Request, rd: &OwnedReadHalf, wr: &mut OwnedWriteHalf) -> bool {
    if req.method == "GET" && req.path.split('?').next() == Some("/v1/models") {
        return serve_models(shared, &req, wr).await;
    }
    if Format::of_path(&req.path).is_none() && req.method == "GET" {
        return serve_page(shared, req, rd, wr).await;
    }
    let behavior = {
        let mut s = shared.state();
        s.queue.pop_front().unwrap_or_else(|| s.default.clone())
    };
    let index = shared.record(&req);
    let disconnected = |shared: &Shared| {
        let now = Instant::now();
        shared.update(index, |r| {
            r.disconnected_at.get_or_insert(now);
            r.disconnected = true;
        });
    };

    let Some(format) = Format::of_path(&req.path) else {
        let body = r#"{"error":{"message":"no such endpoint"}}"#;
        return http::write_full(wr, 404, &[], "application/json", body)
            .await
            .is_ok();
    };
    let json: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
    let model = json
        .get("model")
        .and_then(|m| m.as_str())
        .unwrap_or("test-model")
        .to_string();

    match &behavior.fault {
        Fault::Status {
            code,
            message,
            retry_after_secs,
        } => {
            let extra: Vec<(&str, String)> = retry_after_secs
                .iter()
                .map(|s| ("Retry-After", s.to_string()))
                .collect();
            let body = wire::error_body(format, *code, message);
            let ok = http::write_full(wr, *code, &extra, "application/json", &body)
                .await
                .is_ok();
            shared.update(index, |r| r.completed = ok);
            return ok;
        }
        Fault::HangBeforeHeaders => {
            closed(rd).await;
            disconnected(shared);
            return false;
        }
        Fault::Redirect { location } => {
            let extra = [("Location", location.clone())];
            let ok = http::write_full(wr, 307, &extra, "text/plain", "moved")
                .await
                .is_ok();
            shared.update(index, |r| r.completed = ok);
            return ok;
        }
        _ => {}
    }

    if http::write_stream_head(wr).await.is_err() {
        disconnected(shared);
        return false;
    }
    let prompt_tokens = req.body.len() / 4;
    let items: Box<dyn Iterator<Item = Item> + Send + '_> = match &behavior.raw {
        Some(raw) => Box::new(wire::raw_items(raw)),
        None => Box::new(wire::stream_items(format, &behavior, &model, prompt_tokens)),
    };
    for item in items {
        match item {
            Item::Event { sse, wait_ms, .. } => {
                if wait_ms > 0 {
                    tokio::select! {
                        _ = closed(rd) => {
                            disconnected(shared);
                            return false;
                        }
                        _ = tokio::time::sleep(Duration::from_millis(wait_ms)) => {}
                    }
                } else if is_closed_now(rd) {
                    disconnected(shared);
                    return false;
                }
                let written = if behavior.split_utf8 {
                    write_split(wr, &sse).await
                } else {
                    http::write_chunk(wr, &sse).await
                };
                if written.is_err() {
                    disconnected(shared);
                    return false;
                }
                let now = Instant::now();
                shared.update(index, |r| {
                    r.chunk_times.push(now);
                    r.chunks_sent += 1;
                });
            }
            Item::Drop => {
                // Close mid-body, as a crashed server or proxy would: the chunked body never
                // gets its last chunk.
                return false;
            }
            Item::Stall => {
                closed(rd).await;
                disconnected(shared);
                return false;
            }
            Item::RawThenStall(bytes) => {
                // In pieces, as a long line would arrive.
                for piece in bytes.chunks(64 * 1024) {
                    if http::write_chunk_bytes(wr, piece).await.is_err() {
                        disconnected(shared);
                        return false;
                    }
                }
                closed(rd).await;
                disconnected(shared);
                return false;
            }
            Item::Repeat(sse) => loop {
                // Yield between writes, so a client that closes is seen at once.
                tokio::task::yield_now().await;
                if is_closed_now(rd) || http::write_chunk(wr, &sse).await.is_err() {
                    disconnected(shared);
                    return false;
                }
            },
            Item::KeepAlive { interval_ms } => loop {
                tokio::select! {
                    _ = closed(rd) => {
                        disconnected(shared);
                        return false;
                    }
                    _ = tokio::time::sleep(Duration::from_millis(interval_ms)) => {}
                }
                if http::write_chunk(wr, ": keep-alive\n\ndata:\n\n")
                    .await
                    .is_err()
                {
                    disconnected(shared);
                    return false;
                }
            },
        }
    }
    let ok = http::write_chunk(wr, "").await.is_ok();
    shared.update(index, |r| r.completed = ok);
    ok
}

/// Sends an event in two chunks split inside its first multi-byte character (or in its middle),
/// so the client reads half a character at the end of one read.
async fn write_split(wr: &mut OwnedWriteHalf, sse: &str) -> io::Result<()> {
    let bytes = sse.as_bytes();
    let at = sse
        .char_indices()
        .find(|(_, c)| c.len_utf8() > 1)
        .map_or(bytes.len() / 2, |(i, _)| i + 1);
    http::write_chunk_bytes(wr, &bytes[..at]).await?;
    tokio::time::sleep(Duration::from_millis(3)).await;
    http::write_chunk_bytes(wr, &bytes[at..]).await
}

/// Answers a model list, in the form the request's headers ask for; recorded like the rest.
async fn serve_models(shared: &Shared, req: &Request, wr: &mut OwnedWriteHalf) -> bool {
    let models = shared.state().models.clone();
    let index = shared.record(req);
    let anthropic = req
        .headers
        .iter()
        .any(|(h, _)| h.eq_ignore_ascii_case("anthropic-version"));
    let format = if anthropic {
        Format::Anthropic
    } else {
        Format::OpenAi
    };
    let (code, body) = match models.status {
        Some(code) => (code, wire::error_body(format, code, "the key was rejected")),
        None => (200, wire::model_list(format, &models.ids)),
    };
    let ok = http::write_full(wr, code, &[], "application/json", &body)
        .await
        .is_ok();
    shared.update(index, |r| r.completed = ok);
    ok
}

/// Answers a GET for a page; records it like a model request.
async fn serve_page(
    shared: &Shared,
    req: Request,
    rd: &OwnedReadHalf,
    wr: &mut OwnedWriteHalf,
) -> bool {
    let key = req.path.split('?').next().unwrap_or("").to_string();
    let page = shared.state().pages.get(&key).cloned();
    let index = shared.record(&req);
    let Some(page) = page else {
        return http::write_full(wr, 404, &[], "text/plain", "no such page")
            .await
            .is_ok();
    };
    if page.stall {
        if http::write_stream_head(wr).await.is_err() {
            return false;
        }
        closed(rd).await;
        let now = Instant::now();
        shared.update(index, |r| {
            r.disconnected_at.get_or_insert(now);
            r.disconnected = true;
        });
        return false;
    }
    let extra: Vec<(&str, String)> = page
        .location
        .iter()
        .map(|l| ("Location", l.clone()))
        .collect();
    let ok = http::write_full(wr, page.status, &extra, &page.content_type, &page.body)
        .await
        .is_ok();
    shared.update(index, |r| r.completed = ok);
    ok
}

/// Resolves when the client has closed its side (EOF or error on read).
async fn closed(rd: &OwnedReadHalf) {
    loop {
        if rd.readable().await.is_err() {
            return;
        }
        if is_closed_now(rd) {
            return;
        }
        // Readable but not closed: the client sent something unexpected; ignore it and wait on.
        tokio::task::yield_now().await;
    }
}

fn is_closed_now(rd: &OwnedReadHalf) -> bool {
    let mut scratch = [0u8; 256];
    match rd.try_read(&mut scratch) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

/// `/_control/…`: lets a separate process (the E2E tests) script the server over HTTP.
async fn control(shared: &Shared, req: &Request, wr: &mut OwnedWriteHalf) -> io::Result<()> {
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/_control/behaviors") => match serde_json::from_str::<Vec<Behavior>>(&req.body) {
            Ok(list) => {
                shared.state().queue.extend(list);
                http::write_full(wr, 200, &[], "application/json", "{}").await
            }
            Err(e) => http::write_full(wr, 400, &[], "text/plain", &e.to_string()).await,
        },
        ("PUT", "/_control/default") => match serde_json::from_str::<Behavior>(&req.body) {
            Ok(b) => {
                shared.state().default = b;
                http::write_full(wr, 200, &[], "application/json", "{}").await
            }
            Err(e) => http::write_full(wr, 400, &[], "text/plain", &e.to_string()).await,
        },
        ("PUT", "/_control/pages") => {
            match serde_json::from_str::<HashMap<String, Page>>(&req.body) {
                Ok(pages) => {
                    shared.state().pages.extend(pages);
                    http::write_full(wr, 200, &[], "application/json", "{}").await
                }
                Err(e) => http::write_full(wr, 400, &[], "text/plain", &e.to_string()).await,
            }
        }
        ("PUT", "/_control/models") => match serde_json::from_str::<Models>(&req.body) {
            Ok(models) => {
                shared.state().models = models;
                http::write_full(wr, 200, &[], "application/json", "{}").await
            }
            Err(e) => http::write_full(wr, 400, &[], "text/plain", &e.to_string()).await,
        },
        ("GET", "/_control/requests") => {
            let records = shared.state().records.clone();
            let body = serde_json::to_string(&records).unwrap_or_default();
            http::write_full(wr, 200, &[], "application/json", &body).await
        }
        ("POST", "/_control/reset") => {
            *shared.state() = State::default();
            http::write_full(wr, 200, &[], "application/json", "{}").await
        }
        _ => http::write_full(wr, 404, &[], "text/plain", "unknown control endpoint").await,
    }
}

/// A runtime of one worker for a test server beside what a test runs (which has its own runtime,
/// or is the app on its own): the server goes on answering while the test blocks.
#[allow(clippy::expect_used)] // Only tests call it; a machine that cannot start one cannot test.
pub fn server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime for the test server")
}
