//! TOML → validated [`Workflow`]. Parsing keeps byte spans so that every issue can carry a line.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::{Step, Workflow, WorkflowDraft, WorkflowError, WorkflowIssue};
use crate::model_ref::ModelRef;

const MAX_NAME_CHARS: usize = 100;

/// Parses and validates workflow text. `file` is only used to name the file in errors.
pub fn parse(text: &str, file: Option<&str>) -> Result<Workflow, WorkflowError> {
    let raw: RawWorkflow = toml::from_str(text).map_err(|e| syntax_error(text, file, &e))?;
    Draft::from_raw(raw, text).validate(file)
}

/// Reads and parses a workflow file.
pub fn parse_file(path: &Path) -> Result<Workflow, WorkflowError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| WorkflowError::single(Some(&name), format!("cannot read the file: {e}")))?;
    parse(&text, Some(&name))
}

// The file's shape. Unknown keys are refused so a typo (`instruction = …`) is reported instead of
// silently dropping what the user wrote.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkflow {
    name: Option<Spanned<String>>,
    description: Option<Spanned<String>>,
    steps: Option<Spanned<Vec<Spanned<RawStep>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    name: Option<Spanned<String>>,
    instructions: Option<Spanned<String>>,
    model: Option<Spanned<String>>,
}

/// A workflow before validation, with the line of each value where it came from a file.
pub(super) struct Draft {
    name: Field,
    description: Field,
    steps_line: Option<u32>,
    steps: Vec<DraftStep>,
}

struct DraftStep {
    line: Option<u32>,
    name: Field,
    instructions: Field,
    model: Field,
}

#[derive(Default)]
struct Field {
    value: Option<String>,
    line: Option<u32>,
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

    fn plain(v: Option<String>) -> Self {
        Field {
            value: v,
            line: None,
        }
    }

    /// The trimmed value when present and not blank.
    fn text(&self) -> Option<&str> {
        self.value
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

impl Draft {
    fn from_raw(raw: RawWorkflow, text: &str) -> Self {
        let (steps_line, steps) = match raw.steps {
            Some(s) => (Some(line_of(text, s.span())), s.into_inner()),
            None => (None, Vec::new()),
        };
        Draft {
            name: Field::from_spanned(raw.name, text),
            description: Field::from_spanned(raw.description, text),
            steps_line,
            steps: steps
                .into_iter()
                .map(|s| {
                    let line = Some(line_of(text, s.span()));
                    let s = s.into_inner();
                    DraftStep {
                        line,
                        name: Field::from_spanned(s.name, text),
                        instructions: Field::from_spanned(s.instructions, text),
                        model: Field::from_spanned(s.model, text),
                    }
                })
                .collect(),
        }
    }

    pub(super) fn from_draft(w: &WorkflowDraft) -> Self {
        Draft {
            name: Field::plain(Some(w.name.clone())),
            description: Field::plain(Some(w.description.clone())),
            steps_line: None,
            steps: w
                .steps
                .iter()
                .map(|s| DraftStep {
                    line: None,
                    name: Field::plain(Some(s.name.clone())),
                    instructions: Field::plain(Some(s.instructions.clone())),
                    model: Field::plain(s.model.clone().filter(|m| !m.trim().is_empty())),
                })
                .collect(),
        }
    }

    /// Applies every rule and collects every issue, so the user fixes the file in one pass.
    pub(super) fn validate(self, file: Option<&str>) -> Result<Workflow, WorkflowError> {
        let mut issues = Vec::new();
        let mut issue =
            |step: Option<(usize, Option<&str>)>, field: &str, line, message: String| {
                issues.push(WorkflowIssue {
                    step_index: step.map(|(i, _)| i as u32),
                    step_name: step.and_then(|(_, n)| n.map(str::to_string)),
                    field: Some(field.to_string()),
                    line,
                    message,
                })
            };

        let name = self.name.text().map(str::to_string);
        match &name {
            None => issue(
                None,
                "name",
                self.name.line,
                "the workflow needs a name".into(),
            ),
            Some(n) if n.chars().count() > MAX_NAME_CHARS => issue(
                None,
                "name",
                self.name.line,
                format!("the name is longer than {MAX_NAME_CHARS} characters"),
            ),
            Some(_) => {}
        }
        if self.steps.is_empty() {
            issue(
                None,
                "steps",
                self.steps_line,
                "the workflow needs at least one step ([[steps]] with a name and instructions)"
                    .into(),
            );
        }

        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut steps = Vec::with_capacity(self.steps.len());
        for (i, s) in self.steps.iter().enumerate() {
            let step_name = s.name.text();
            let at = Some((i, step_name));
            match step_name {
                None => issue(
                    at,
                    "name",
                    s.name.line.or(s.line),
                    "the step needs a name".into(),
                ),
                Some(n) if n.chars().count() > MAX_NAME_CHARS => issue(
                    at,
                    "name",
                    s.name.line,
                    format!("the name is longer than {MAX_NAME_CHARS} characters"),
                ),
                Some(n) => {
                    if let Some(first) = seen.insert(n.to_lowercase(), i) {
                        issue(
                            at,
                            "name",
                            s.name.line,
                            format!(
                                "step {} already has this name; names must be unique",
                                first + 1
                            ),
                        );
                    }
                }
            }
            let instructions = s.instructions.text();
            if instructions.is_none() {
                let what = if s.instructions.value.is_some() {
                    "empty"
                } else {
                    "missing"
                };
                issue(
                    at,
                    "instructions",
                    s.instructions.line.or(s.line),
                    format!("the instructions are {what}; say what this step should do"),
                );
            }
            let model = match s.model.value.as_deref() {
                None => None,
                Some(m) => match m.parse::<ModelRef>() {
                    Ok(m) => Some(m),
                    Err(e) => {
                        issue(at, "model", s.model.line, e.to_string());
                        None
                    }
                },
            };
            steps.push(Step {
                name: step_name.unwrap_or_default().to_string(),
                instructions: instructions.unwrap_or_default().to_string(),
                model,
            });
        }

        if !issues.is_empty() {
            return Err(WorkflowError {
                file: file.map(str::to_string),
                issues,
            });
        }
        Ok(Workflow {
            name: name.unwrap_or_default(),
            description: self.description.text().unwrap_or_default().to_string(),
            steps,
        })
    }
}

/// A TOML syntax or shape error, placed on its line and, when it falls inside a `[[steps]]`
/// table, on that step.
fn syntax_error(text: &str, file: Option<&str>, e: &toml::de::Error) -> WorkflowError {
    let line = e.span().map(|s| line_of(text, s));
    let step_index = e.span().and_then(|s| step_at(text, s.start));
    let message = e.message().trim().to_string();
    let field = unknown_field(&message).or_else(|| e.span().and_then(|s| key_at(text, s.start)));
    WorkflowError {
        file: file.map(str::to_string),
        issues: vec![WorkflowIssue {
            step_index: step_index.map(|i| i as u32),
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

/// The index of the `[[steps]]` table that contains byte `offset`, counting table headers.
fn step_at(text: &str, offset: usize) -> Option<usize> {
    let before = text.get(..offset)?;
    let mut index = None;
    for line in before.lines() {
        let l = line.trim_start();
        if l.starts_with("[[steps]]") {
            index = Some(index.map_or(0, |i| i + 1));
        } else if l.starts_with('[') {
            index = None;
        }
    }
    index
}

fn line_of(text: &str, span: Range<usize>) -> u32 {
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
        let t = "name = \"x\"\n[[steps]]\nname = \"a\"\n[[steps]]\nname = \"b\"\n";
        assert_eq!(step_at(t, 0), None);
        assert_eq!(step_at(t, t.find("\"a\"").unwrap()), Some(0));
        assert_eq!(step_at(t, t.find("\"b\"").unwrap()), Some(1));
    }
}
