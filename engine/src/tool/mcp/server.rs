//! One running MCP server: how it starts, what tools it has, how a call goes, what it wrote to
//! stderr, and how it is ended — by [`Server::stop`], or, once nothing holds it any more, by
//! dropping it (a server whose entry changed is ended when the last run using it lets it go).

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use process_wrap::tokio::{CommandWrap, ProcessGroup};
use rmcp::model::{CallToolRequestParams, PaginatedRequestParams};
use rmcp::service::{Peer, RoleClient, RunningService, ServiceError, ServiceExt};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use tokio_util::task::TaskTracker;

use super::answer::answer;
use super::group::Group;
use super::stderr::StderrTail;
use super::{McpServerSettings, env};
use crate::tool::{ToolError, ToolOutput};

/// How long a server may take to start and answer `initialize` (`npx` may first download it).
const START_LIMIT: Duration = Duration::from_secs(60);
/// Listing stops after this many pages, or at a cursor it has seen (a server that always
/// answers "there is more" would otherwise be asked forever).
const MAX_PAGES: usize = 50;
/// And after this many tools.
const MAX_TOOLS: usize = 1000;

/// A tool a server offers, as Stepwise keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerTool {
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    pub input_schema: serde_json::Value,
    /// The server says the tool changes nothing (`readOnlyHint`).
    pub read_only: bool,
}

/// How a server is started.
pub struct Launch {
    /// Listing its tools (every page together) takes at most this long.
    pub list_limit: Duration,
    /// Where a stdio server starts (None: Stepwise's own working folder).
    pub working_dir: Option<PathBuf>,
    /// Where the stop of a dropped server runs, so that a shutdown can wait for it.
    pub stops: TaskTracker,
}

type Service = RunningService<RoleClient, ()>;

pub struct Server {
    pub name: String,
    peer: Peer<RoleClient>,
    pub tools: Vec<ServerTool>,
    stderr: StderrTail,
    /// The process group of a stdio server.
    group: Option<Group>,
    /// The connection, until the server is stopped.
    service: tokio::sync::Mutex<Option<Service>>,
    stops: TaskTracker,
    runtime: tokio::runtime::Handle,
}

impl Server {
    /// Starts the server, says hello and lists its tools, each within its time limit.
    pub async fn start(
        name: &str,
        config: &McpServerSettings,
        launch: Launch,
    ) -> Result<Server, ToolError> {
        if let Some(problem) = config.problem() {
            return Err(fatal(format!(
                "the MCP server “{name}” in Settings: {problem}"
            )));
        }
        let stderr = StderrTail::default();
        let mut group = None;
        let started = match (&config.command, &config.url) {
            (Some(command), _) => {
                let vars = env::for_server(&config.env, |k| std::env::var(k).ok());
                // A folder that is not there (no settings file saved yet) is no place to start.
                let dir = launch.working_dir.as_ref().filter(|d| d.is_dir());
                let mut cmd = CommandWrap::with_new(command, |c| {
                    c.args(&config.args)
                        .env_clear()
                        .envs(vars)
                        .kill_on_drop(true);
                    if let Some(dir) = dir {
                        c.current_dir(dir);
                    }
                });
                cmd.wrap(ProcessGroup::leader());
                let (transport, err) = TokioChildProcess::builder(cmd)
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| fatal(format!("the MCP server “{name}” could not start: {e}")))?;
                group = transport.id().map(Group::led_by);
                if let Some(err) = err {
                    stderr.keep(err);
                }
                tokio::time::timeout(START_LIMIT, ().serve(transport)).await
            }
            (None, Some(url)) => {
                let transport = StreamableHttpClientTransport::from_uri(url.as_str());
                tokio::time::timeout(START_LIMIT, ().serve(transport)).await
            }
            (None, None) => {
                return Err(fatal(format!(
                    "the MCP server “{name}” has no command or url"
                )));
            }
        };
        let service = match started {
            Ok(Ok(service)) => service,
            Ok(Err(e)) => {
                end(group, None).await;
                return Err(fatal(format!(
                    "the MCP server “{name}” did not start: {e}{}",
                    last_words(&stderr)
                )));
            }
            Err(_) => {
                end(group, None).await;
                return Err(fatal(format!(
                    "the MCP server “{name}” did not answer within {} s{}",
                    START_LIMIT.as_secs(),
                    last_words(&stderr)
                )));
            }
        };
        let listed = tokio::time::timeout(launch.list_limit, list_tools(service.peer())).await;
        let problem = match listed {
            Ok(Ok(tools)) => {
                return Ok(Server {
                    name: name.to_string(),
                    peer: service.peer().clone(),
                    tools,
                    stderr,
                    group,
                    service: tokio::sync::Mutex::new(Some(service)),
                    stops: launch.stops,
                    runtime: tokio::runtime::Handle::current(),
                });
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} s", launch.list_limit.as_secs()),
        };
        end(group, Some(service)).await;
        Err(fatal(format!(
            "the MCP server “{name}” did not list its tools: {problem}{}",
            last_words(&stderr)
        )))
    }

    pub fn is_alive(&self) -> bool {
        !self.peer.is_transport_closed()
    }

    /// The last `n` lines the server wrote to stderr.
    pub fn stderr_tail(&self, n: usize) -> Vec<String> {
        self.stderr.last(n)
    }

    /// The process group of a stdio server.
    pub fn process_group(&self) -> Option<u32> {
        self.group.map(|g| g.id())
    }

    /// Calls `tool`; its answer is cut at `max_bytes`. The caller bounds how long it may take.
    /// Dropping the future sends `notifications/cancelled` for the request (the SDK does this
    /// for a request abandoned before its answer).
    pub async fn call(
        &self,
        tool: &str,
        arguments: serde_json::Value,
        max_bytes: usize,
    ) -> Result<ToolOutput, ToolError> {
        let mut params = CallToolRequestParams::new(tool.to_string());
        if let serde_json::Value::Object(args) = arguments {
            params = params.with_arguments(args);
        }
        match self.peer.call_tool(params).await {
            Ok(result) => answer(result, max_bytes),
            Err(ServiceError::McpError(e)) => {
                Err(ToolError::answer(format!("{}: {}", self.name, e.message)))
            }
            Err(e) => {
                // The connection is gone: the server stopped (or was stopped) mid-call. A moment
                // for its last words on stderr to arrive.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(fatal(format!(
                    "the MCP server “{}” stopped while {tool} was running ({e}){}",
                    self.name,
                    last_words(&self.stderr)
                )))
            }
        }
    }

    /// Ends the server: its process group (SIGTERM, then SIGKILL), then its connection, and
    /// waits until they are gone (a second and a half at most).
    pub async fn stop(&self) {
        let service = self.service.lock().await.take();
        end(self.group, service).await;
    }
}

impl Drop for Server {
    /// The last holder let it go without stopping it: it is stopped in the background, on the
    /// tracker a shutdown waits for.
    fn drop(&mut self) {
        let Some(service) = self.service.get_mut().take() else {
            return;
        };
        let group = self.group;
        self.stops
            .spawn_on(end(group, Some(service)), &self.runtime);
    }
}

/// Ends a server's process group while its connection is still held (so its leader has not been
/// reaped and the group is surely ours), then closes the connection.
async fn end(group: Option<Group>, service: Option<Service>) {
    if let Some(group) = group {
        group.end(service.is_some()).await;
    }
    if let Some(service) = service {
        let _ = tokio::time::timeout(Duration::from_millis(300), service.cancel()).await;
    }
}

/// Every page of the server's tools, by hand: stops at a cursor seen before, after
/// [`MAX_PAGES`] pages or [`MAX_TOOLS`] tools. A tool listed twice is kept once.
async fn list_tools(peer: &Peer<RoleClient>) -> Result<Vec<ServerTool>, ServiceError> {
    let mut tools: Vec<ServerTool> = Vec::new();
    let mut names = HashSet::new();
    let mut cursors = HashSet::new();
    let mut cursor = None;
    for _ in 0..MAX_PAGES {
        let page = peer
            .list_tools(Some(PaginatedRequestParams::default().with_cursor(cursor)))
            .await?;
        for t in page.tools {
            if tools.len() < MAX_TOOLS && names.insert(t.name.to_string()) {
                tools.push(ServerTool {
                    name: t.name.to_string(),
                    title: t.title.clone(),
                    description: t.description.as_deref().unwrap_or("").to_string(),
                    input_schema: serde_json::Value::Object((*t.input_schema).clone()),
                    read_only: t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true),
                });
            }
        }
        match page.next_cursor {
            None => return Ok(tools),
            Some(next) if tools.len() < MAX_TOOLS && cursors.insert(next.clone()) => {
                cursor = Some(next);
            }
            Some(_) => break,
        }
    }
    // It kept saying there was more: what it listed so far is what it offers.
    Ok(tools)
}

fn fatal(message: String) -> ToolError {
    ToolError {
        message,
        fatal: true,
    }
}

/// ". Its last words on stderr: …" with its last five lines, or nothing.
fn last_words(stderr: &StderrTail) -> String {
    let tail: Vec<String> = stderr
        .last(5)
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    if tail.is_empty() {
        String::new()
    } else {
        format!(". Its last words on stderr: {}", tail.join(" / "))
    }
}
