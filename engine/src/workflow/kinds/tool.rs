//! `tool`: one tool call with the arguments the file gives (string values may cite `{{input}}`
//! and `{{steps.ID.output}}`), no model: its answer is the step's output.

use std::collections::HashSet;

use super::{Kind, StepField};
use crate::tool::{BUILTIN_TOOLS, Tools};
use crate::workflow::build::StepBuilder;
use crate::workflow::citations::Citations;
use crate::workflow::{Step, StepDraft};

#[derive(Clone, Debug, PartialEq)]
pub struct ToolStep {
    /// A built-in tool or `SERVER.TOOL`.
    pub tool: String,
    pub arguments: serde_json::Map<String, serde_json::Value>,
}

impl Kind for ToolStep {
    fn build(b: &mut StepBuilder<'_, '_>) -> Self {
        ToolStep {
            tool: tool_of(b),
            arguments: b.draft.arguments.value.clone().unwrap_or_default(),
        }
    }

    fn draft(&self, d: &mut StepDraft) {
        d.tool.clone_from(&self.tool);
        d.arguments.clone_from(&self.arguments);
    }

    fn cite(&self, step: &Step, c: &mut Citations, done: &HashSet<String>) {
        for v in self.arguments.values() {
            if let Some(text) = v.as_str() {
                c.text(step, StepField::Arguments, text, done);
            }
        }
    }
}

/// The step's tool: a built-in one or `SERVER.TOOL` (one tool, not a whole server).
fn tool_of(b: &mut StepBuilder<'_, '_>) -> String {
    let f = &b.draft.tool;
    let Some(tool) = f.text() else {
        b.issue(
            StepField::Tool,
            f.line,
            "a tool step needs `tool`, the tool it runs (fetch_page, web_search or SERVER.TOOL)"
                .to_string(),
        );
        return String::new();
    };
    let builtin = BUILTIN_TOOLS.iter().any(|t| t.name == tool);
    let server_tool = tool.contains('.') && Tools::can_name(tool);
    if !(builtin || server_tool) {
        b.issue(
            StepField::Tool,
            f.line,
            format!(
                "`{tool}` is not one tool; use fetch_page, web_search or SERVER.TOOL (an MCP \
                 server's name from Settings, a dot, and one of its tools)"
            ),
        );
    }
    tool.to_string()
}
