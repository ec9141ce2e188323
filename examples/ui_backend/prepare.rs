//! Makes an app as a test asked for it ([`AppOptions`]): model servers started, settings
//! written, then keys, workflows and past runs put in through the app's own commands.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stepwise_testkit::{PATIENCE, TestServer, eventually};

use crate::options::{AppOptions, SeedEnd, SeedRun};
use crate::session::Session;

/// An app ready for its page, and what lives beside it.
pub struct Prepared {
    pub session: Session,
    /// The model servers, by name; dropping one stops it.
    pub servers: BTreeMap<String, TestServer>,
    /// The connection that holds the history's write lock (`history_locked`).
    pub lock: std::sync::Mutex<Option<rusqlite::Connection>>,
    /// Commands answered late: name → milliseconds.
    pub slow_commands: BTreeMap<String, u64>,
}

/// Why an app could not be made as asked (the test's options are wrong).
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("no server named `{0}` among the options' servers")]
    NoServer(String),
    #[error("no template or given workflow named `{0}`")]
    NoWorkflow(String),
    #[error("`{cmd}` failed: {error}")]
    Command { cmd: String, error: Value },
    #[error("a seeded run did not {0} in time")]
    Timeout(&'static str),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("cannot lock the history: {0}")]
    Lock(#[from] rusqlite::Error),
}

pub async fn prepare(root: &Path, options: AppOptions) -> Result<Prepared, PrepareError> {
    let servers = start_servers(&options).await?;
    if let Some(text) = &options.settings {
        let file = root.join("config/settings.toml");
        std::fs::create_dir_all(root.join("config"))?;
        std::fs::write(file, fill_addresses(text, &servers)?)?;
    }
    let session = tokio::task::spawn_blocking({
        let root = root.to_path_buf();
        let pace = options.demo;
        move || Session::new(root, pace)
    })
    .await
    .map_err(std::io::Error::other)?;
    let prepared = Prepared {
        session,
        servers,
        lock: std::sync::Mutex::default(),
        slow_commands: options.slow_commands.clone(),
    };
    let s = &prepared.session;
    for (provider, key) in &options.keys {
        ok(
            s,
            "set_api_key",
            json!({ "provider": provider, "key": key }),
        )
        .await?;
    }
    for w in &options.workflows {
        ok(s, "save_workflow", json!({ "workflow": w, "id": null })).await?;
    }
    if options.history_locked {
        let conn = rusqlite::Connection::open(s.state().paths.history_db())?;
        conn.execute_batch("BEGIN EXCLUSIVE")?;
        *prepared.lock.lock().unwrap() = Some(conn);
    }
    for run in &options.history {
        seed(&prepared, run, &options.workflows).await?;
    }
    let store = prepared.session.state().store.clone();
    if let Some(store) = store {
        if options.history_locked {
            // The runs' first batch has failed: the history says it is not saving.
            // Nothing announces it: the history's health is looked at until it says so (on a
            // blocking thread, where the checks' pauses hold up nothing else).
            tokio::task::spawn_blocking(move || {
                eventually(PATIENCE, "the history to say it is not saving", || {
                    store.health().is_some()
                })
            })
            .await
            .map_err(std::io::Error::other)?;
        } else if !options.history.is_empty() {
            tokio::task::spawn_blocking(move || store.flush(Duration::from_secs(10)))
                .await
                .map_err(std::io::Error::other)?
                .map_err(std::io::Error::other)?;
        }
    }
    Ok(prepared)
}

/// The model servers the options ask for, each answering as scripted.
async fn start_servers(options: &AppOptions) -> Result<BTreeMap<String, TestServer>, PrepareError> {
    let mut servers = BTreeMap::new();
    for (name, o) in &options.servers {
        let server = TestServer::start().await?;
        if let Some(models) = &o.models {
            server.set_models(models.clone());
        }
        if let Some(default) = &o.default {
            server.set_default(default.clone());
        }
        for b in &o.queue {
            server.push(b.clone());
        }
        for (path, page) in &o.pages {
            server.set_page(path, page.clone());
        }
        servers.insert(name.clone(), server);
    }
    Ok(servers)
}

/// `{{NAME}}` → the address of server `NAME` (`{{remote:NAME}}`: one not counted as this
/// computer's); `{{closed}}` → an address nothing listens on.
fn fill_addresses(
    text: &str,
    servers: &BTreeMap<String, TestServer>,
) -> Result<String, PrepareError> {
    let mut out = text.to_string();
    if out.contains("{{closed}}") {
        // A port that was free a moment ago: a connection there is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        out = out.replace("{{closed}}", &format!("http://127.0.0.1:{port}"));
    }
    while let Some(start) = out.find("{{") {
        let end = out[start..]
            .find("}}")
            .map(|e| start + e)
            .ok_or_else(|| PrepareError::NoServer(out[start..].to_string()))?;
        let name = &out[start + 2..end];
        let (remote, name) = match name.strip_prefix("remote:") {
            Some(name) => (true, name),
            None => (false, name),
        };
        let server = servers
            .get(name)
            .ok_or_else(|| PrepareError::NoServer(name.to_string()))?;
        let url = if remote {
            // The same server under an IPv4-mapped IPv6 address: Stepwise does not count it as
            // this computer's, so its models are priced like a provider's far away.
            format!("http://[::ffff:127.0.0.1]:{}", server.addr().port())
        } else {
            server.url()
        };
        out = format!("{}{url}{}", &out[..start], &out[end + 2..]);
    }
    Ok(out)
}

/// One past run: started as the window starts it, then left to end or cancelled once it has
/// written something.
async fn seed(p: &Prepared, run: &SeedRun, saved: &[Value]) -> Result<(), PrepareError> {
    let s = &p.session;
    let templates = ok(s, "list_templates", json!({})).await?;
    let workflow = templates
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["id"] == run.workflow.as_str())
        .map(|t| t["workflow"].clone())
        .or_else(|| {
            saved
                .iter()
                .find(|w| w["name"] == run.workflow.as_str())
                .cloned()
        })
        .ok_or_else(|| PrepareError::NoWorkflow(run.workflow.clone()))?;
    for (name, behavior) in &run.behaviors {
        let server = p
            .servers
            .get(name)
            .ok_or_else(|| PrepareError::NoServer(name.clone()))?;
        server.push(behavior.clone());
    }
    let mut events = s.subscribe();
    let id = ok(
        s,
        "start_run",
        json!({ "workflow": workflow, "input": run.input, "runId": null }),
    )
    .await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut cancelled = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(msg)) = tokio::time::timeout(left, events.recv()).await else {
            return Err(PrepareError::Timeout("end"));
        };
        let msg: Value = serde_json::from_str(&msg).unwrap_or_default();
        let e = &msg["payload"];
        if e["run_id"] != id {
            continue;
        }
        let kind = e["type"].as_str().unwrap_or("");
        if matches!(kind, "RunCompleted" | "RunCancelled" | "RunFailed") {
            return Ok(());
        }
        if run.then == SeedEnd::Cancel && kind == "TextDelta" && !cancelled {
            cancelled = true;
            ok(s, "cancel_run", json!({ "runId": id })).await?;
        }
    }
}

async fn ok(s: &Session, cmd: &str, args: Value) -> Result<Value, PrepareError> {
    s.call(cmd, args)
        .await
        .map_err(|error| PrepareError::Command {
            cmd: cmd.into(),
            error,
        })
}
