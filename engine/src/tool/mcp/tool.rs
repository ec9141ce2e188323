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
    timeout: Duration,
    max_result_bytes: usize,
}

impl McpTool {
    /// `model_name`: the name the step's model calls it by (`naming::model_names`).
    pub fn new(
        server: Arc<Server>,
        tool: ServerTool,
        model_name: String,
        timeout: Duration,
        max_result_bytes: usize,
    ) -> Self {
        let spec = ToolSpec {
            name: model_name,
            description: tool.description.clone(),
            input_schema: tool.input_schema.clone(),
        };
        McpTool {
            server,
            tool,
            spec,
            timeout,
            max_result_bytes,
        }
    }
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
        let max = self.max_result_bytes;
        Box::pin(async move { server.call(&tool, arguments, max).await })
    }

    fn describe(&self, _arguments: Option<&serde_json::Value>) -> String {
        let what = self.tool.title.as_deref().unwrap_or(&self.tool.name);
        format!("{} · {what}", self.server.name)
    }

    fn timeout(&self) -> Option<Duration> {
        Some(self.timeout)
    }

    fn read_only(&self) -> bool {
        self.tool.read_only
    }

    fn policy_name(&self) -> String {
        format!("{}.{}", self.server.name, self.tool.name)
    }
}
