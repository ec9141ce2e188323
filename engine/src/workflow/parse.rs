//! TOML → [`RawWorkflow`] (the file's shape, serde's) → [`Lined`] (every value with its line) →
//! validated [`Workflow`] (in `validate.rs`). The names say the stage: *raw* as read, *lined*
//! with lines, a *draft* ([`WorkflowDraft`]) as the editor holds it, a *step* once valid.
//!
//! A [`WorkflowDraft`] from the editor becomes the same [`Lined`], without lines, so a file and
//! the editor are checked by one set of rules.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::table::StepField;
use super::{RouteDraft, StepDraft, Workflow, WorkflowDraft, WorkflowError, WorkflowIssue};

/// Parses and validates workflow text. `file` is only used to name the file in errors.
pub fn parse(text: &str, file: Option<&str>) -> Result<Workflow, WorkflowError> {
    let raw: RawWorkflow = toml::from_str(text).map_err(|e| syntax_error(text, file, &e))?;
    Lined::from_raw(raw, text).validate(file)
}

/// Reads and parses a workflow file.
pub fn parse_file(path: &Path) -> Result<Workflow, WorkflowError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| WorkflowError::single(Some(&name), format!("cannot read the file: {e}")))?;
    parse(&text, Some(&name))
}

// The file's shape. Unknown keys are refused so a typo (`instruction = …`) is reported instead of
// silently dropping what the user wrote. Numbers are read signed so `-1` gets our message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    name: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
}

type RawSteps = Option<Spanned<Vec<Spanned<RawStep>>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    instructions: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
    tools: Option<Spanned<Vec<String>>>,
    max_tool_rounds: Option<Spanned<i64>>,
    tool: Option<Spanned<String>>,
    arguments: Option<Spanned<toml::Table>>,
    #[serde(rename = "if")]
    if_test: Option<Spanned<String>>,
    until: Option<Spanned<String>>,
    max_iterations: Option<Spanned<i64>>,
    timeout_secs: Option<Spanned<i64>>,
    retries: Option<Spanned<i64>>,
    on_error: Option<Spanned<String>>,
    review: Option<bool>,
    steps: RawSteps,
    then: RawSteps,
    #[serde(rename = "else")]
    else_steps: RawSteps,
    routes: Option<Spanned<Vec<Spanned<RawRoute>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    steps: RawSteps,
}

/// A workflow before validation, with the line of each value where it came from a file.
pub(super) struct Lined {
    pub name: Field,
    pub description: Field,
    pub steps: Kids,
}

pub(super) struct LinedStep {
    pub line: Option<u32>,
    pub id: Field,
    pub name: Field,
    pub kind: Field,
    pub instructions: Field,
    pub model: Field,
    pub tools: List,
    pub max_tool_rounds: Num,
    pub tool: Field,
    pub arguments: Arguments,
    pub if_test: Field,
    pub until: Field,
    pub max_iterations: Num,
    pub timeout_secs: Num,
    pub retries: Num,
    pub on_error: Field,
    pub review: bool,
    pub steps: Kids,
    pub then: Kids,
    pub else_steps: Kids,
    pub routes: Routes,
}

pub(super) struct LinedRoute {
    pub line: Option<u32>,
    pub name: Field,
    pub description: Field,
    pub steps: Kids,
}

/// A list of child steps: whether the file has it, and where.
#[derive(Default)]
pub(super) struct Kids {
    pub line: Option<u32>,
    pub items: Vec<LinedStep>,
}

#[derive(Default)]
pub(super) struct Routes {
    pub line: Option<u32>,
    pub items: Vec<LinedRoute>,
}

#[derive(Default)]
pub(super) struct Field {
    pub value: Option<String>,
    pub line: Option<u32>,
}

/// A tool step's arguments, as JSON values.
#[derive(Default)]
pub(super) struct Arguments {
    pub value: Option<serde_json::Map<String, serde_json::Value>>,
    pub line: Option<u32>,
}

/// A list of names (an agent's tools).
#[derive(Default)]
pub(super) struct List {
    pub value: Option<Vec<String>>,
    pub line: Option<u32>,
}

#[derive(Default)]
pub(super) struct Num {
    pub value: Option<i64>,
    pub line: Option<u32>,
}

impl Field {
    fn from_spanned(v: Option<Spanned<String>>, text: &str) -> Self {
        match v {
            Some(s) => Field {
                line: Some(line_of(text, s.span())),
                value: Some(s.into_inner()),
            },
            None => Field::default(),
        }
    }

    /// A value from the editor: empty means absent.
    fn plain(v: &str) -> Self {
        Field {
            value: (!v.trim().is_empty()).then(|| v.to_string()),
            line: None,
        }
    }

    /// The trimmed value when present and not blank.
    pub fn text(&self) -> Option<&str> {
        self.value
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

impl Num {
    fn from_spanned(v: Option<Spanned<i64>>, text: &str) -> Self {
        match v {
            Some(s) => Num {
                line: Some(line_of(text, s.span())),
                value: Some(s.into_inner()),
            },
            None => Num::default(),
        }
    }

    fn plain(v: Option<i64>) -> Self {
        Num {
            value: v,
            line: None,
        }
    }
}

impl Kids {
    fn from_raw(v: RawSteps, text: &str) -> Self {
        match v {
            Some(s) => Kids {
                line: Some(line_of(text, s.span())),
                items: s
                    .into_inner()
                    .into_iter()
                    .map(|s| LinedStep::from_raw(s, text))
                    .collect(),
            },
            None => Kids::default(),
        }
    }

    fn from_drafts(v: &[StepDraft]) -> Self {
        Kids {
            line: None,
            items: v.iter().map(LinedStep::from_draft).collect(),
        }
    }
}

impl LinedStep {
    /// The kind-specific fields this step has, each with its line.
    pub fn fields_present(&self) -> Vec<(StepField, Option<u32>)> {
        use StepField as F;
        let present = [
            (F::Tool, self.tool.value.is_some(), self.tool.line),
            (
                F::Arguments,
                self.arguments.value.is_some(),
                self.arguments.line,
            ),
            (F::Tools, self.tools.value.is_some(), self.tools.line),
            (
                F::MaxToolRounds,
                self.max_tool_rounds.value.is_some(),
                self.max_tool_rounds.line,
            ),
            (
                F::Instructions,
                self.instructions.text().is_some(),
                self.instructions.line,
            ),
            (F::Model, self.model.value.is_some(), self.model.line),
            (F::Retries, self.retries.value.is_some(), self.retries.line),
            (F::If, self.if_test.value.is_some(), self.if_test.line),
            (F::Then, !self.then.items.is_empty(), self.then.line),
            (
                F::Else,
                !self.else_steps.items.is_empty(),
                self.else_steps.line,
            ),
            (F::Until, self.until.value.is_some(), self.until.line),
            (
                F::MaxIterations,
                self.max_iterations.value.is_some(),
                self.max_iterations.line,
            ),
            (F::Steps, !self.steps.items.is_empty(), self.steps.line),
            (F::Routes, !self.routes.items.is_empty(), self.routes.line),
        ];
        present
            .into_iter()
            .filter(|(_, here, _)| *here)
            .map(|(f, _, line)| (f, line))
            .collect()
    }

    fn from_raw(s: Spanned<RawStep>, text: &str) -> Self {
        let line = Some(line_of(text, s.span()));
        let s = s.into_inner();
        LinedStep {
            line,
            id: Field::from_spanned(s.id, text),
            name: Field::from_spanned(s.name, text),
            kind: Field::from_spanned(s.kind, text),
            instructions: Field::from_spanned(s.instructions, text),
            model: Field::from_spanned(s.model, text),
            tools: match s.tools {
                Some(t) => List {
                    line: Some(line_of(text, t.span())),
                    value: Some(t.into_inner()),
                },
                None => List::default(),
            },
            max_tool_rounds: Num::from_spanned(s.max_tool_rounds, text),
            tool: Field::from_spanned(s.tool, text),
            arguments: match s.arguments {
                Some(a) => Arguments {
                    line: Some(line_of(text, a.span())),
                    value: serde_json::to_value(a.into_inner())
                        .ok()
                        .and_then(|v| v.as_object().cloned()),
                },
                None => Arguments::default(),
            },
            if_test: Field::from_spanned(s.if_test, text),
            until: Field::from_spanned(s.until, text),
            max_iterations: Num::from_spanned(s.max_iterations, text),
            timeout_secs: Num::from_spanned(s.timeout_secs, text),
            retries: Num::from_spanned(s.retries, text),
            on_error: Field::from_spanned(s.on_error, text),
            review: s.review.unwrap_or(false),
            steps: Kids::from_raw(s.steps, text),
            then: Kids::from_raw(s.then, text),
            else_steps: Kids::from_raw(s.else_steps, text),
            routes: match s.routes {
                Some(r) => Routes {
                    line: Some(line_of(text, r.span())),
                    items: r
                        .into_inner()
                        .into_iter()
                        .map(|r| {
                            let line = Some(line_of(text, r.span()));
                            let r = r.into_inner();
                            LinedRoute {
                                line,
                                name: Field::from_spanned(r.name, text),
                                description: Field::from_spanned(r.description, text),
                                steps: Kids::from_raw(r.steps, text),
                            }
                        })
                        .collect(),
                },
                None => Routes::default(),
            },
        }
    }

    fn from_draft(s: &StepDraft) -> Self {
        LinedStep {
            line: None,
            id: Field::plain(&s.id),
            name: Field {
                value: Some(s.name.clone()),
                line: None,
            },
            kind: Field::plain(s.kind.as_str()),
            instructions: Field {
                value: Some(s.instructions.clone()),
                line: None,
            },
            model: Field::plain(s.model.as_deref().unwrap_or("")),
            tools: List {
                value: (!s.tools.is_empty()).then(|| s.tools.clone()),
                line: None,
            },
            max_tool_rounds: Num::plain(s.max_tool_rounds.map(i64::from)),
            tool: Field::plain(&s.tool),
            arguments: Arguments {
                value: (!s.arguments.is_empty()).then(|| s.arguments.clone()),
                line: None,
            },
            if_test: Field::plain(&s.if_test),
            until: Field::plain(&s.until),
            max_iterations: Num::plain(s.max_iterations.map(i64::from)),
            timeout_secs: Num::plain(s.timeout_secs.and_then(|t| i64::try_from(t).ok())),
            retries: Num::plain(s.retries.map(i64::from)),
            on_error: Field::plain(s.on_error.map(|o| o.as_str()).unwrap_or("")),
            review: s.review,
            steps: Kids::from_drafts(&s.steps),
            then: Kids::from_drafts(&s.then),
            else_steps: Kids::from_drafts(&s.else_steps),
            routes: Routes {
                line: None,
                items: s.routes.iter().map(LinedRoute::from_draft).collect(),
            },
        }
    }
}

impl LinedRoute {
    fn from_draft(r: &RouteDraft) -> Self {
        LinedRoute {
            line: None,
            name: Field {
                value: Some(r.name.clone()),
                line: None,
            },
            description: Field {
                value: Some(r.description.clone()),
                line: None,
            },
            steps: Kids::from_drafts(&r.steps),
        }
    }
}

impl Lined {
    fn from_raw(raw: RawWorkflow, text: &str) -> Self {
        Lined {
            name: Field::from_spanned(raw.name, text),
            description: Field::from_spanned(raw.description, text),
            steps: Kids::from_raw(raw.steps, text),
        }
    }

    pub(super) fn from_draft(w: &WorkflowDraft) -> Self {
        Lined {
            name: Field {
                value: Some(w.name.clone()),
                line: None,
            },
            description: Field::plain(&w.description),
            steps: Kids::from_drafts(&w.steps),
        }
    }
}

/// A TOML syntax or shape error, placed on its line and, when it falls inside a step's table,
/// on that step (`steps[1]`, or `steps[1].then[0]` for a nested one).
fn syntax_error(text: &str, file: Option<&str>, e: &toml::de::Error) -> WorkflowError {
    let line = e.span().map(|s| line_of(text, s));
    let step = e.span().and_then(|s| step_at(text, s.start));
    let message = e.message().trim().to_string();
    let field = unknown_field(&message).or_else(|| e.span().and_then(|s| key_at(text, s.start)));
    WorkflowError {
        file: file.map(str::to_string),
        issues: vec![WorkflowIssue {
            step,
            step_name: None,
            field,
            line,
            message,
        }],
    }
}

/// `unknown field `instruction`, expected …` → `instruction`.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_string())
}

/// The key of a `key = value` line that contains byte `offset` (where a bad value sits).
fn key_at(text: &str, offset: usize) -> Option<String> {
    let start = text.get(..offset)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let key = line.split_once('=')?.0.trim();
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    bare.then(|| key.to_string())
}

/// The step whose table contains byte `offset`, from the array-of-tables headers before it:
/// `[[steps]]` counts top-level steps, `[[steps.then]]` the `then` steps of the last one, …
fn step_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    // For each header path (`steps`, `steps.then` …) how many tables it has had so far.
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut current: Option<String> = None;
    for line in before.lines() {
        let l = line.trim_start();
        if let Some(header) = l.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let header = header.trim().to_string();
            let parts: Vec<&str> = header.split('.').collect();
            if parts.first() != Some(&"steps") {
                current = None;
                continue;
            }
            // A new table of a path restarts the counts of the paths under it.
            counts.retain(|(p, _)| !p.starts_with(&format!("{header}.")));
            let n = match counts.iter_mut().find(|(p, _)| *p == header) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    counts.push((header.clone(), 0));
                    0
                }
            };
            let mut loc = String::new();
            for depth in 0..parts.len() {
                let prefix = parts[..=depth].join(".");
                let i = if depth + 1 == parts.len() {
                    n
                } else {
                    counts
                        .iter()
                        .find(|(p, _)| *p == prefix)
                        .map_or(0, |(_, n)| *n)
                };
                if !loc.is_empty() {
                    loc.push('.');
                }
                loc.push_str(&format!("{}[{i}]", parts[depth]));
            }
            current = Some(loc);
        } else if l.starts_with('[') {
            current = None;
        }
    }
    current
}

pub(super) fn line_of(text: &str, span: Range<usize>) -> u32 {
    let end = span.start.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u32
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_numbers_are_one_based() {
        assert_eq!(line_of("a\nb\nc", 0..1), 1);
        assert_eq!(line_of("a\nb\nc", 2..3), 2);
        assert_eq!(line_of("a\nb\nc", 4..5), 3);
    }

    #[test]
    fn finds_the_key_of_a_bad_value() {
        let t = "name = 5\n[[steps]]\n";
        assert_eq!(key_at(t, 7).as_deref(), Some("name"));
        assert_eq!(key_at(t, 12), None);
    }

    #[test]
    fn finds_the_step_table_of_an_offset() {
        let t = "name = \"x\"\n[[steps]]\nname = \"a\"\n[[steps]]\nname = \"b\"\n\
                 [[steps.then]]\nname = \"c\"\n[[steps.then]]\nname = \"d\"\n[[steps]]\nname = \"e\"\n";
        let at = |s: &str| step_at(t, t.find(s).unwrap());
        assert_eq!(step_at(t, 0), None);
        assert_eq!(at("\"a\"").as_deref(), Some("steps[0]"));
        assert_eq!(at("\"b\"").as_deref(), Some("steps[1]"));
        assert_eq!(at("\"c\"").as_deref(), Some("steps[1].then[0]"));
        assert_eq!(at("\"d\"").as_deref(), Some("steps[1].then[1]"));
        assert_eq!(at("\"e\"").as_deref(), Some("steps[2]"));
    }
}
