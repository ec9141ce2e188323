//! Tool settings: where web search asks, whether tools may open this computer and the local
//! network, how long a call may take, and the MCP servers — each with its tools (and what it
//! wrote to stderr) on request. The values of an entry's variables never go back to the window
//! once saved (a token is a secret): it gets their names, and saving keeps a value it did not
//! replace.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stepwise_engine::ApprovalAnswer;
use stepwise_engine::control::ApprovalRequest;
use stepwise_engine::tool::Grant;
use stepwise_engine::tool::mcp::{McpServerSettings, valid_server_name};
use stepwise_engine::tool::net_guard::proxy_problem;
use stepwise_engine::tool::sites::site_of;
use tauri::State;

use super::{blocking, parse_run_id};
use crate::error::AppError;
use crate::state::AppState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ToolsView {
    pub web_search_url: String,
    pub allow_private_network: bool,
    /// Sites `fetch_page` opens without asking even at an address the model put together
    /// (`[tools] allow_hosts`; a site covers its subdomains).
    pub allow_hosts: Vec<String>,
    /// The tools' proxy (`http://host:port`); empty: none.
    pub proxy: String,
    pub timeout_secs: u32,
    pub servers: Vec<McpServerView>,
}

/// One MCP server as Settings edits it: a command (with arguments and environment) or a url.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct McpServerView {
    pub name: String,
    /// The name it was saved under (None: a new one), so that a renamed entry keeps its
    /// variables' values.
    pub saved_name: Option<String>,
    pub command: String,
    pub args: Vec<String>,
    pub env: Vec<EnvVar>,
    pub url: String,
    /// Empty: the tools' timeout.
    pub timeout_secs: Option<u32>,
}

/// A variable of an entry. From the app: its name, and whether a value is saved (`set`), never
/// the value (`value` is empty). To the app: a new value, or an empty one with `set` to keep the
/// saved value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
    pub set: bool,
}

/// A server started (or found running) and asked for its tools.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct McpServerReport {
    pub ok: bool,
    /// What went wrong, in words, when it did not start.
    pub message: Option<String>,
    pub tools: Vec<McpToolView>,
    /// The last lines it wrote to stderr.
    pub stderr: Vec<String>,
    /// The person stopped it before it had started (`stop_inspecting_mcp_server`).
    pub stopped: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct McpToolView {
    pub name: String,
    pub title: Option<String>,
    pub description: String,
    pub read_only: bool,
}

#[tauri::command]
#[specta::specta]
pub async fn get_tools_settings(state: State<'_, Arc<AppState>>) -> Result<ToolsView, AppError> {
    blocking(&state, |s| Ok(view(s))).await
}

fn view(state: &AppState) -> ToolsView {
    let s = state.settings().clone();
    ToolsView {
        web_search_url: s.tools.web_search_url.clone(),
        allow_private_network: s.tools.allow_private_network,
        allow_hosts: s.tools.allow_hosts.clone(),
        proxy: s.tools.proxy.clone().unwrap_or_default(),
        timeout_secs: s.tools.timeout_secs.min(u64::from(u32::MAX)) as u32,
        servers: s
            .mcp
            .iter()
            .map(|(name, m)| McpServerView {
                name: name.clone(),
                saved_name: Some(name.clone()),
                command: m.command.clone().unwrap_or_default(),
                args: m.args.clone(),
                env: m
                    .env
                    .keys()
                    .map(|k| EnvVar {
                        name: k.clone(),
                        value: String::new(),
                        set: true,
                    })
                    .collect(),
                url: m.url.clone().unwrap_or_default(),
                timeout_secs: m.timeout_secs.map(|t| t.min(u64::from(u32::MAX)) as u32),
            })
            .collect(),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn save_tools_settings(
    state: State<'_, Arc<AppState>>,
    update: ToolsView,
) -> Result<ToolsView, AppError> {
    blocking(&state, move |s| save(s, update)).await
}

fn save(state: &AppState, update: ToolsView) -> Result<ToolsView, AppError> {
    let url = update.web_search_url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(AppError::Settings(
            "The web search address must start with http:// or https://".into(),
        ));
    }
    if update.timeout_secs == 0 {
        return Err(AppError::Settings(
            "A tool call must be allowed at least 1 second".into(),
        ));
    }
    let proxy = update.proxy.trim().to_string();
    if let Some(problem) = Some(&proxy)
        .filter(|p| !p.is_empty())
        .and_then(|p| proxy_problem(p))
    {
        return Err(AppError::Settings(problem));
    }
    let mut allow_hosts = Vec::new();
    for entry in &update.allow_hosts {
        let Some(host) = site_of(entry) else {
            return Err(AppError::Settings(format!(
                "“{}” is not a site: write its name, such as example.com",
                entry.trim()
            )));
        };
        if !host.is_empty() && !allow_hosts.contains(&host) {
            allow_hosts.push(host);
        }
    }
    let saved = state.settings().mcp.clone();
    let mut servers = BTreeMap::new();
    for v in update.servers {
        let before = saved.get(v.saved_name.as_deref().unwrap_or(v.name.trim()));
        let name = v.name.trim().to_string();
        if !valid_server_name(&name) {
            return Err(AppError::Settings(format!(
                "“{name}” cannot name an MCP server: use letters, digits, - and _ (a step names \
                 its tools as NAME.TOOL)"
            )));
        }
        let entry = McpServerSettings {
            command: Some(v.command.trim().to_string()).filter(|c| !c.is_empty()),
            args: v.args.into_iter().filter(|a| !a.is_empty()).collect(),
            env: v
                .env
                .into_iter()
                .filter(|e| !e.name.trim().is_empty())
                .map(|e| {
                    let name = e.name.trim().to_string();
                    let kept = before.and_then(|b| b.env.get(&name));
                    let value = match kept {
                        Some(old) if e.set && e.value.is_empty() => old.clone(),
                        _ => e.value,
                    };
                    (name, value)
                })
                .collect(),
            url: Some(v.url.trim().to_string()).filter(|u| !u.is_empty()),
            timeout_secs: v.timeout_secs.filter(|t| *t > 0).map(u64::from),
        };
        if let Some(problem) = entry.problem() {
            return Err(AppError::Settings(format!(
                "MCP server “{name}”: {problem}"
            )));
        }
        if servers.insert(name.clone(), entry).is_some() {
            return Err(AppError::Settings(format!(
                "Two MCP servers are named “{name}”"
            )));
        }
    }
    let mut s = state.settings().clone();
    s.tools.web_search_url = url.to_string();
    s.tools.allow_private_network = update.allow_private_network;
    s.tools.allow_hosts = allow_hosts;
    s.tools.proxy = Some(proxy).filter(|p| !p.is_empty());
    s.tools.timeout_secs = u64::from(update.timeout_secs);
    s.mcp = servers;
    state.save_settings(s)?;
    Ok(view(state))
}

/// Starts the server if it is not running and lists its tools, or says why it did not start.
/// Bounded by the server's own limits (a minute to start, its calls' timeout to list its tools);
/// `stop_inspecting_mcp_server` ends it sooner.
#[tauri::command]
#[specta::specta]
pub async fn inspect_mcp_server(
    state: State<'_, Arc<AppState>>,
    name: String,
) -> Result<McpServerReport, AppError> {
    let tools = state.engine.tools();
    let timeout = tools.settings().timeout_secs;
    let report = |ok, message, stopped| McpServerReport {
        ok,
        message,
        tools: Vec::new(),
        stderr: Vec::new(),
        stopped,
    };
    Ok(match tools.mcp().inspect(&name, timeout).await {
        Ok(Some(server)) => McpServerReport {
            tools: server
                .tools
                .iter()
                .map(|t| McpToolView {
                    name: t.name.clone(),
                    title: t.title.clone(),
                    description: t.description.clone(),
                    read_only: t.read_only,
                })
                .collect(),
            stderr: server.stderr_tail(50),
            ..report(true, None, false)
        },
        Ok(None) => report(false, Some("Stopped.".into()), true),
        Err(e) => report(false, Some(e.message), false),
    })
}

/// Stops the inspection of the server `name` under way (Settings' Cancel): the inspection
/// answers "stopped" and a start it had begun is ended. True when one was under way.
#[tauri::command]
#[specta::specta]
pub async fn stop_inspecting_mcp_server(
    state: State<'_, Arc<AppState>>,
    name: String,
) -> Result<bool, AppError> {
    Ok(state.engine.tools().mcp().stop_inspecting(&name))
}

/// The person's answer to the call `call_id` of the step at `path`, which asked first. True when
/// that call was waiting for it.
/// "Allow always" is saved in Settings (`[tools] allow`, or `allow_hosts` for an address
/// `fetch_page` asked about), so it runs without asking in later runs too.
#[tauri::command]
#[specta::specta]
pub async fn answer_tool_call(
    state: State<'_, Arc<AppState>>,
    run_id: String,
    path: String,
    call_id: String,
    answer: ApprovalAnswer,
) -> Result<bool, AppError> {
    let id = parse_run_id(&run_id)?;
    // A run on the cluster: the worker that drives it has the call (a tool call that waits
    // keeps its leg running there).
    let holder = match state.cluster_runs.cluster_of(id) {
        Some(cluster) => cluster.holder(id).await?,
        None => state.others.client(id),
    };
    let grant = match holder {
        // Another process's run: answered there; "Allow always" is kept here all the same.
        Some(owner) => {
            let req = ApprovalRequest {
                path,
                call_id,
                answer,
            };
            owner
                .answer_tool_call(id, &req)
                .await
                .map_err(|e| AppError::OtherProcess(e.to_string()))?
                .grant
        }
        None => state.engine.answer_tool_call(id, &path, &call_id, answer),
    };
    let Some(grant) = grant else {
        return Ok(false);
    };
    tracing::info!(run_id = %id, ?grant, ?answer, "tool call answered");
    if answer == ApprovalAnswer::AllowAlways {
        blocking(&state, move |s| {
            let mut settings = s.settings().clone();
            let list = match &grant {
                Grant::Tool(_) => &mut settings.tools.allow,
                Grant::Host(_) => &mut settings.tools.allow_hosts,
            };
            let (Grant::Tool(name) | Grant::Host(name)) = grant;
            if !list.contains(&name) {
                list.push(name);
                s.save_settings(settings)?;
            }
            Ok(())
        })
        .await?;
    }
    Ok(true)
}
