//! `agent`: a model follows instructions, with the tools it may call.

use std::collections::HashSet;

use super::{Kind, StepField};
use crate::model_ref::ModelRef;
use crate::tool::{BUILTIN_TOOLS, Tools};
use crate::workflow::build::StepBuilder;
use crate::workflow::citations::Citations;
use crate::workflow::{DEFAULT_MAX_TOOL_ROUNDS, Step, StepDraft};

const MAX_TOOL_ROUNDS: i64 = 50;

#[derive(Clone, Debug, PartialEq)]
pub struct AgentStep {
    pub instructions: String,
    /// `None`: the engine's default model.
    pub model: Option<ModelRef>,
    /// The tools its model may call, by name (`web_search`, `fetch_page`, `SERVER.TOOL`).
    pub tools: Vec<String>,
    /// Model → tools → model rounds it may take before it must answer.
    pub max_tool_rounds: u32,
}

impl Kind for AgentStep {
    fn build(b: &mut StepBuilder<'_, '_>) -> Self {
        let d = b.draft;
        if d.instructions.text().is_none() {
            let what = if d.instructions.value.is_some() {
                "empty"
            } else {
                "missing"
            };
            b.issue(
                StepField::Instructions,
                d.instructions.line,
                format!("the instructions are {what}; say what this step should do"),
            );
        }
        let model = b.model();
        AgentStep {
            instructions: d.instructions.text().unwrap_or_default().to_string(),
            model,
            tools: tools(b),
            max_tool_rounds: b
                .number(
                    StepField::MaxToolRounds,
                    &d.max_tool_rounds,
                    1,
                    MAX_TOOL_ROUNDS,
                )
                .map_or(DEFAULT_MAX_TOOL_ROUNDS, |n| n as u32),
        }
    }

    fn draft(&self, d: &mut StepDraft) {
        d.instructions.clone_from(&self.instructions);
        d.tools.clone_from(&self.tools);
        d.max_tool_rounds =
            (self.max_tool_rounds != DEFAULT_MAX_TOOL_ROUNDS).then_some(self.max_tool_rounds);
    }

    calls_a_model!();

    fn cite(&self, step: &Step, c: &mut Citations, done: &HashSet<String>) {
        c.text(step, StepField::Instructions, &self.instructions, done);
    }
}

/// The agent's tools: each one that exists, once.
fn tools(b: &mut StepBuilder<'_, '_>) -> Vec<String> {
    let list = &b.draft.tools;
    let mut tools: Vec<String> = Vec::new();
    for tool in list.value.iter().flatten().map(|t| t.trim()) {
        if !Tools::can_name(tool) {
            let known: Vec<&str> = BUILTIN_TOOLS.iter().map(|t| t.name).collect();
            b.issue(
                StepField::Tools,
                list.line,
                format!(
                    "`{tool}` is not a tool; use {}, an MCP server's name from Settings, or \
                     SERVER.TOOL",
                    known.join(", ")
                ),
            );
        } else if tools.iter().any(|t| t == tool) {
            b.issue(
                StepField::Tools,
                list.line,
                format!("`{tool}` is listed twice"),
            );
        } else {
            tools.push(tool.to_string());
        }
    }
    tools
}
