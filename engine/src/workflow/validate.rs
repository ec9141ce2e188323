//! The rules a workflow must meet before it runs. Every issue is collected (not just the first),
//! each with its line, step and field, so a person fixes a file in one pass.
//!
//! Two passes: the first checks each step on its own and gives it its id; the second checks what
//! instructions and tests cite, which needs every id and the order the steps run in.

use std::collections::{HashMap, HashSet};

use super::build::{Nested, StepBuilder};
use super::citations::{Citations, Place};
use super::ids;
use super::kinds::{StepKind, StepKindName};
use super::parse::{Kids, Lined, LinedStep};
use super::{OnError, Step, Workflow, WorkflowDraft, WorkflowError, WorkflowIssue};

const MAX_NAME_CHARS: usize = 100;
const MAX_RETRIES: i64 = 5;
const MAX_TIMEOUT_SECS: i64 = 86_400;
const MAX_DEPTH: usize = 10;
const MAX_STEPS: usize = 500;

impl Lined {
    /// Applies every rule and collects every issue.
    pub(super) fn validate(self, file: Option<&str>) -> Result<Workflow, WorkflowError> {
        let mut c = Checker::default();
        let name = self.name.text().map(str::to_string);
        match &name {
            None => c.top("name", self.name.line, "the workflow needs a name".into()),
            Some(n) if n.chars().count() > MAX_NAME_CHARS => c.top(
                "name",
                self.name.line,
                format!("the name is longer than {MAX_NAME_CHARS} characters"),
            ),
            Some(_) => {}
        }
        if self.steps.items.is_empty() {
            c.top(
                "steps",
                self.steps.line,
                "the workflow needs at least one step ([[steps]] with a name and instructions)"
                    .into(),
            );
        }
        c.reserve_given_ids(&self.steps.items, "steps");
        let steps = c.steps(&self.steps, "steps", 1);
        if c.count > MAX_STEPS {
            c.top(
                "steps",
                self.steps.line,
                format!(
                    "the workflow has {} steps; at most {MAX_STEPS} are allowed",
                    c.count
                ),
            );
        }
        let mut citations = Citations::new(std::mem::take(&mut c.places));
        citations.sequence(&steps, &mut HashSet::new());
        c.issues.append(&mut citations.issues);

        if !c.issues.is_empty() {
            return Err(WorkflowError {
                file: file.map(str::to_string),
                issues: c.issues,
            });
        }
        Ok(Workflow {
            name: name.unwrap_or_default(),
            description: self.description.text().unwrap_or_default().to_string(),
            steps,
        })
    }
}

#[derive(Default)]
pub(super) struct Checker {
    issues: Vec<WorkflowIssue>,
    /// Ids in use: every given one (reserved first, so a made one never takes it) and every made.
    taken: HashSet<String>,
    places: HashMap<String, Place>,
    count: usize,
}

impl Checker {
    fn top(&mut self, field: &str, line: Option<u32>, message: String) {
        self.issues.push(WorkflowIssue {
            step: None,
            step_name: None,
            field: Some(field.to_string()),
            line,
            message,
        });
    }

    /// Every `id = "…"` in the tree, checked for form and duplicates before any id is made.
    fn reserve_given_ids(&mut self, steps: &[LinedStep], prefix: &str) {
        for (i, s) in steps.iter().enumerate() {
            let at = format!("{prefix}[{i}]");
            if let Some(id) = s.id.value.as_deref().map(str::trim) {
                if let Some(problem) = ids::problem(id) {
                    self.at(&at, s.name.text(), "id", s.id.line, problem);
                } else if !self.taken.insert(id.to_string()) {
                    self.at(
                        &at,
                        s.name.text(),
                        "id",
                        s.id.line,
                        format!("another step already has the id `{id}`; ids must be unique"),
                    );
                }
            }
            for (key, kids) in [
                ("steps", &s.steps),
                ("then", &s.then),
                ("else", &s.else_steps),
            ] {
                self.reserve_given_ids(&kids.items, &format!("{at}.{key}"));
            }
            for (r, route) in s.routes.items.iter().enumerate() {
                self.reserve_given_ids(&route.steps.items, &format!("{at}.routes[{r}].steps"));
            }
        }
    }

    fn step(&mut self, d: &LinedStep, at: &str, depth: usize) -> Step {
        self.count += 1;
        let name = d.name.text();
        let issue = |c: &mut Checker, field: &str, line: Option<u32>, msg: String| {
            c.at(at, name, field, line.or(d.line), msg)
        };
        match name {
            None => issue(self, "name", d.name.line, "the step needs a name".into()),
            Some(n) if n.chars().count() > MAX_NAME_CHARS => issue(
                self,
                "name",
                d.name.line,
                format!("the name is longer than {MAX_NAME_CHARS} characters"),
            ),
            Some(_) => {}
        }
        if depth > MAX_DEPTH {
            issue(
                self,
                "steps",
                None,
                format!("steps are nested more than {MAX_DEPTH} deep; flatten the workflow"),
            );
        }
        let id = match d.id.value.as_deref().map(str::trim) {
            Some(given) => given.to_string(),
            None => {
                let id = ids::unique(ids::from_name(name.unwrap_or("")), |x| {
                    self.taken.contains(x)
                });
                self.taken.insert(id.clone());
                id
            }
        };
        let kind = match d.kind.text() {
            None => StepKindName::Agent,
            Some(k) => match StepKindName::ALL.iter().find(|x| x.as_str() == k) {
                Some(k) => *k,
                None => {
                    issue(
                        self,
                        "kind",
                        d.kind.line,
                        format!("`{k}` is not a kind of step; use {}", kind_choices()),
                    );
                    StepKindName::Agent
                }
            },
        };

        // Fields a kind does not use are refused, so nothing written is silently ignored.
        for (field, line) in d.fields_present() {
            if !kind.uses(field) {
                issue(
                    self,
                    field.as_str(),
                    line,
                    format!(
                        "`{}` is not used by {} steps",
                        field.as_str(),
                        kind.as_str()
                    ),
                );
            }
        }

        let timeout_secs = self.number(
            at,
            name,
            "timeout_secs",
            &d.timeout_secs,
            1,
            MAX_TIMEOUT_SECS,
        );
        let retries = self
            .number(at, name, "retries", &d.retries, 0, MAX_RETRIES)
            .unwrap_or(0) as u32;
        let on_error = match d.on_error.text() {
            None => OnError::Stop,
            Some(v) => match OnError::parse(v) {
                Some(o) => o,
                None => {
                    issue(
                        self,
                        "on_error",
                        d.on_error.line,
                        format!("`{v}` is not a choice for on_error; use stop, skip or continue"),
                    );
                    OnError::Stop
                }
            },
        };
        let mut b = StepBuilder {
            checker: self,
            draft: d,
            at,
            name,
            kind,
            depth,
            model_read: false,
        };
        let kind = StepKind::build(kind, &mut b);
        if !b.model_read {
            // A kind that calls no model still has a bad model named (beside "not used").
            b.model();
        }
        self.places.insert(
            id.clone(),
            Place {
                at: at.to_string(),
                name: name.map(str::to_string),
                instructions_line: d.instructions.line.or(d.line),
                if_line: d.if_test.line.or(d.line),
                until_line: d.until.line.or(d.line),
            },
        );
        Step {
            id,
            name: name.unwrap_or_default().to_string(),
            kind,
            timeout_secs: timeout_secs.map(|t| t as u64),
            retries,
            on_error,
            review: d.review,
        }
    }
}

/// How a kind's builder reaches back into the checker: issues, and the steps inside a step.
impl Nested for Checker {
    fn at(
        &mut self,
        at: &str,
        name: Option<&str>,
        field: &str,
        line: Option<u32>,
        message: String,
    ) {
        self.issues.push(WorkflowIssue {
            step: Some(at.to_string()),
            step_name: name.map(str::to_string),
            field: Some(field.to_string()),
            line,
            message,
        });
    }

    fn steps(&mut self, kids: &Kids, prefix: &str, depth: usize) -> Vec<Step> {
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut out = Vec::with_capacity(kids.items.len());
        for (i, d) in kids.items.iter().enumerate() {
            let at = format!("{prefix}[{i}]");
            if let Some(n) = d.name.text()
                && let Some(first) = names.insert(n.to_lowercase(), i)
            {
                self.at(
                    &at,
                    Some(n),
                    "name",
                    d.name.line,
                    format!(
                        "step {} already has this name; steps side by side need different names",
                        first + 1
                    ),
                );
            }
            out.push(self.step(d, &at, depth));
        }
        out
    }
}

/// "agent, parallel, … or tool", from the table.
fn kind_choices() -> String {
    let names: Vec<&str> = StepKindName::ALL.iter().map(|k| k.as_str()).collect();
    match names.split_last() {
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

impl WorkflowDraft {
    /// The workflow, checked by the same rules as a file (no line numbers: there is no file).
    pub fn validate(&self) -> Result<Workflow, WorkflowError> {
        Lined::from_draft(self).validate(None)
    }
}

impl OnError {
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Stop => "stop",
            OnError::Skip => "skip",
            OnError::Continue => "continue",
        }
    }

    fn parse(v: &str) -> Option<OnError> {
        [OnError::Stop, OnError::Skip, OnError::Continue]
            .into_iter()
            .find(|o| o.as_str() == v)
    }
}
