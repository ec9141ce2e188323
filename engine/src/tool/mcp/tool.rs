//! One MCP server's tool as a step holds it.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{Server, ServerTool};
use crate::tool::{Tool, ToolError, ToolOutput, ToolSpec};

pub struct McpTool {
    server: Arc<Server>,
    tool: ServerTool,
    spec: ToolSpec,
}

impl McpTool {
    pub fn new(server: Arc<Server>, tool: ServerTool) -> Self {
        let spec = ToolSpec {
            name: model_name(&server.name, &tool.name),
            description: tool.description.clone(),
            input_schema: tool.input_schema.clone(),
        };
        McpTool { server, tool, spec }
    }
}

/// The name a model calls it by: `server__tool`, in the letters every provider accepts
/// (OpenAI takes `[A-Za-z0-9_-]{1,64}`), unique per server.
pub fn model_name(server: &str, tool: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let mut name = format!("{}__{}", clean(server), clean(tool));
    name.truncate(64);
    name
}

impl Tool for McpTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(
        &self,
        arguments: serde_json::Value,
    ) -> BoxFuture<'static, Result<ToolOutput, ToolError>> {
        let server = self.server.clone();
        let tool = self.tool.name.clone();
        Box::pin(async move { server.call(&tool, arguments).await })
    }

    fn describe(&self, _arguments: Option<&serde_json::Value>) -> String {
        let what = self.tool.title.as_deref().unwrap_or(&self.tool.name);
        format!("{} · {what}", self.server.name)
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.server.timeout)
    }

    fn read_only(&self) -> bool {
        self.tool.read_only
    }

    fn policy_name(&self) -> String {
        format!("{}.{}", self.server.name, self.tool.name)
    }
}
