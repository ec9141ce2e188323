//! A workflow as an editor holds it: any text in any field, nothing checked yet.
//!
//! It crosses from the window in this form so that every mistake comes back as a
//! [`WorkflowError`] on its field, never as a failure to read the message; a [`Workflow`]
//! serializes to the same shape, which is also the shape of a file (saved workflows are this,
//! written as TOML). Empty fields are left out so a saved file reads like a hand-written one.

use serde::{Deserialize, Serialize};

use super::OnError;
use super::table::StepKindName;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct WorkflowDraft {
    pub name: String,
    pub description: String,
    pub steps: Vec<StepDraft>,
}

/// One step of any kind; the fields a kind does not use stay empty (and are refused if not).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct StepDraft {
    /// Empty: made from the name.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "is_agent")]
    pub kind: StepKindName,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub instructions: String,
    /// Empty or absent: the default model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// An agent's tools, by name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tool_rounds: Option<u32>,
    /// A tool step's tool: `fetch_page`, `SERVER.TOOL`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tool: String,
    /// A tool step's arguments.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    #[specta(type = std::collections::BTreeMap<String, ArgumentValue>)]
    pub arguments: serde_json::Map<String, serde_json::Value>,
    /// A condition's test.
    #[serde(rename = "if", skip_serializing_if = "String::is_empty")]
    pub if_test: String,
    /// A loop's test, checked after each round.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub until: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_iterations: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[specta(type = Option<u32>)]
    pub timeout_secs: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_error: Option<OnError>,
    /// The run waits for the person's review of its output.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub review: bool,
    /// Children of a parallel, loop or group step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepDraft>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub then: Vec<StepDraft>,
    #[serde(rename = "else", skip_serializing_if = "Vec::is_empty")]
    pub else_steps: Vec<StepDraft>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteDraft>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct RouteDraft {
    pub name: String,
    pub description: String,
    pub steps: Vec<StepDraft>,
}

/// What a tool step's argument may be, as TypeScript sees it (the Rust side keeps JSON values;
/// this names their shape with numbers as plain numbers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(untagged)]
pub enum ArgumentValue {
    Text(String),
    Number(f64),
    Flag(bool),
    List(Vec<ArgumentValue>),
    Table(std::collections::BTreeMap<String, ArgumentValue>),
}

fn is_agent(k: &StepKindName) -> bool {
    *k == StepKindName::Agent
}
