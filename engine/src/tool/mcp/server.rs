//! One running MCP server: how it starts, what tools it has, how a call goes, what it wrote to
//! stderr, and how it is ended.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use process_wrap::tokio::{CommandWrap, ProcessGroup};
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{RoleClient, RunningService, ServiceError, ServiceExt};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::{McpServerSettings, env};
use crate::tool::{ToolError, ToolOutput};

/// Lines of a server's stderr kept (the last ones).
const STDERR_LINES: usize = 200;
/// How long a server may take to start and answer `initialize`.
const START_LIMIT: Duration = Duration::from_secs(60);

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

pub struct Server {
    pub name: String,
    service: tokio::sync::Mutex<Option<RunningService<RoleClient, ()>>>,
    peer: rmcp::service::Peer<RoleClient>,
    pub tools: Vec<ServerTool>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The process group of a stdio server (its leader's pid).
    group: Option<u32>,
    pub timeout: Duration,
}

impl Server {
    /// Starts the server, says hello and lists its tools.
    pub async fn start(
        name: &str,
        config: &McpServerSettings,
        timeout_secs: u64,
    ) -> Result<Server, ToolError> {
        if let Some(problem) = config.problem() {
            return Err(fatal(format!(
                "the MCP server “{name}” in Settings: {problem}"
            )));
        }
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let mut group = None;
        let started = match (&config.command, &config.url) {
            (Some(command), _) => {
                let vars = env::for_server(&config.env, |k| std::env::var(k).ok());
                let mut cmd = CommandWrap::with_new(command, |c| {
                    c.args(&config.args)
                        .env_clear()
                        .envs(vars)
                        .kill_on_drop(true);
                });
                // Its own process group: ending the group ends whatever it started too (npx
                // starts node, which may start more).
                cmd.wrap(ProcessGroup::leader());
                let (transport, err) = TokioChildProcess::builder(cmd)
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| fatal(format!("the MCP server “{name}” could not start: {e}")))?;
                group = transport.id();
                if let Some(err) = err {
                    keep_lines(err, stderr.clone());
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
        let tail = |s: &Arc<Mutex<VecDeque<String>>>| last_lines(s, 5);
        let service = match started {
            Ok(Ok(service)) => service,
            Ok(Err(e)) => {
                kill_group(group).await;
                return Err(fatal(format!(
                    "the MCP server “{name}” did not start: {e}{}",
                    tail(&stderr)
                )));
            }
            Err(_) => {
                kill_group(group).await;
                return Err(fatal(format!(
                    "the MCP server “{name}” did not answer within {} s{}",
                    START_LIMIT.as_secs(),
                    tail(&stderr)
                )));
            }
        };
        let listed = service.peer().list_all_tools().await;
        let tools = match listed {
            Ok(tools) => tools
                .into_iter()
                .map(|t| ServerTool {
                    name: t.name.to_string(),
                    title: t.title.clone(),
                    description: t.description.as_deref().unwrap_or("").to_string(),
                    input_schema: serde_json::Value::Object((*t.input_schema).clone()),
                    read_only: t.annotations.as_ref().and_then(|a| a.read_only_hint) == Some(true),
                })
                .collect(),
            Err(e) => {
                let _ = service.cancel().await;
                kill_group(group).await;
                return Err(fatal(format!(
                    "the MCP server “{name}” did not list its tools: {e}{}",
                    tail(&stderr)
                )));
            }
        };
        Ok(Server {
            name: name.to_string(),
            peer: service.peer().clone(),
            service: tokio::sync::Mutex::new(Some(service)),
            tools,
            stderr,
            group,
            timeout: Duration::from_secs(timeout_secs.clamp(1, 24 * 3600)),
        })
    }

    pub fn is_alive(&self) -> bool {
        !self.peer.is_transport_closed()
    }

    /// The last `n` lines the server wrote to stderr.
    pub fn stderr_tail(&self, n: usize) -> Vec<String> {
        let lines = self.stderr.lock().unwrap_or_else(PoisonError::into_inner);
        lines
            .iter()
            .skip(lines.len().saturating_sub(n))
            .cloned()
            .collect()
    }

    /// The process group of a stdio server.
    pub fn process_group(&self) -> Option<u32> {
        self.group
    }

    /// Calls `tool`. Dropping the future sends `notifications/cancelled` for the request (the
    /// SDK does this for a request abandoned before its answer).
    pub async fn call(
        &self,
        tool: &str,
        arguments: serde_json::Value,
    ) -> Result<ToolOutput, ToolError> {
        let mut params = CallToolRequestParams::new(tool.to_string());
        if let serde_json::Value::Object(args) = arguments {
            params = params.with_arguments(args);
        }
        match self.peer.call_tool(params).await {
            Ok(result) => answer(result),
            Err(ServiceError::McpError(e)) => {
                Err(ToolError::answer(format!("{}: {}", self.name, e.message)))
            }
            Err(e) => {
                // The connection is gone: the server stopped (or was stopped) mid-call.
                tokio::time::sleep(Duration::from_millis(50)).await;
                Err(fatal(format!(
                    "the MCP server “{}” stopped while {tool} was running ({e}){}",
                    self.name,
                    last_lines(&self.stderr, 5)
                )))
            }
        }
    }

    /// Ends the server: closes its connection, then ends its process group and waits until it
    /// has gone (a second at most).
    pub async fn stop(&self) {
        if let Some(service) = self.service.lock().await.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), service.cancel()).await;
        }
        kill_group(self.group).await;
    }
}

/// A server's answer as the model reads it: its text, with other content named.
fn answer(result: CallToolResult) -> Result<ToolOutput, ToolError> {
    let mut parts: Vec<String> = Vec::new();
    for block in &result.content {
        parts.push(match block {
            ContentBlock::Text(t) => t.text.clone(),
            ContentBlock::Image(_) => "[an image]".into(),
            ContentBlock::Audio(_) => "[a sound]".into(),
            ContentBlock::Resource(_) => "[an embedded resource]".into(),
            ContentBlock::ResourceLink(r) => format!("[a link: {}]", r.uri),
            _ => "[content Stepwise cannot show]".into(),
        });
    }
    if parts.is_empty()
        && let Some(structured) = &result.structured_content
    {
        parts.push(structured.to_string());
    }
    let content = parts.join("\n\n");
    if result.is_error == Some(true) {
        return Err(ToolError::answer(content));
    }
    let words = content.split_whitespace().count();
    Ok(ToolOutput {
        preview: if words <= 12 {
            content.split_whitespace().collect::<Vec<_>>().join(" ")
        } else {
            format!("{words} words")
        },
        content,
    })
}

fn fatal(message: String) -> ToolError {
    ToolError {
        message,
        fatal: true,
    }
}

/// Keeps the last lines of a stream (a server's stderr), each cut to 1000 characters.
fn keep_lines(stream: tokio::process::ChildStderr, into: Arc<Mutex<VecDeque<String>>>) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let line: String = line.chars().take(1000).collect();
            let mut kept = into.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.len() == STDERR_LINES {
                kept.pop_front();
            }
            kept.push_back(line);
        }
    });
}

/// ". It said: …" with the last `n` stderr lines, or nothing.
fn last_lines(stderr: &Mutex<VecDeque<String>>, n: usize) -> String {
    let kept = stderr.lock().unwrap_or_else(PoisonError::into_inner);
    let tail: Vec<&str> = kept
        .iter()
        .skip(kept.len().saturating_sub(n))
        .map(String::as_str)
        .filter(|l| !l.trim().is_empty())
        .collect();
    if tail.is_empty() {
        String::new()
    } else {
        format!(". Its last words on stderr: {}", tail.join(" / "))
    }
}

/// Ends a process group: a moment to end by itself (its input is closed), then SIGKILL to every
/// member, then a wait (3 s at most) until no member is left. The SDK ends the child when its
/// connection closes; this makes sure of it, and of whatever the child started.
async fn kill_group(group: Option<u32>) {
    let Some(pgid) = group else { return };
    for _ in 0..20 {
        if !group_alive(pgid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if cfg!(unix) {
        let _ = tokio::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status()
            .await;
    }
    for _ in 0..300 {
        if !group_alive(pgid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether a live (not zombie) process is in the process group `pgid`, by `/proc` (Linux; where
/// there is none, the group counts as gone once signalled).
fn group_alive(pgid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        // After the command's closing bracket: state, ppid, pgrp, …
        let mut fields = stat.rsplit(')').next().unwrap_or("").split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let pgrp = fields.nth(1).and_then(|f| f.parse::<u32>().ok());
        state != "Z" && pgrp == Some(pgid)
    })
}
