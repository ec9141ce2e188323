//! The rules a workflow must meet before it runs. Every issue is collected (not just the first),
//! each with its line, step and field, so a person fixes a file in one pass.
//!
//! Two passes: the first checks each step on its own and gives it its id; the second checks what
//! instructions and tests cite, which needs every id and the order the steps run in.

use std::collections::{HashMap, HashSet};

use super::ids;
use super::parse::{Draft, DraftStep, Field, Kids, List, Num};
use super::placeholders::{Placeholder, cited};
use super::{
    DEFAULT_MAX_TOOL_ROUNDS, OnError, Route, Step, StepKind, StepKindName, Test, Workflow,
    WorkflowError, WorkflowIssue,
};
use crate::model_ref::ModelRef;
use crate::tool::{BUILTIN_TOOLS, Tools};

const MAX_NAME_CHARS: usize = 100;
pub const MAX_LOOP_ITERATIONS: i64 = 100;
const MAX_RETRIES: i64 = 5;
const MAX_TOOL_ROUNDS: i64 = 50;
const MAX_TIMEOUT_SECS: i64 = 86_400;
const MAX_DEPTH: usize = 10;
const MAX_STEPS: usize = 500;

impl Draft {
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
        let mut done = HashSet::new();
        c.check_sequence(&steps, &mut done);

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

/// Where a step is, for the issues the second pass finds.
struct Place {
    at: String,
    name: Option<String>,
    instructions_line: Option<u32>,
    if_line: Option<u32>,
    until_line: Option<u32>,
}

#[derive(Default)]
struct Checker {
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

    /// Every `id = "…"` in the tree, checked for form and duplicates before any id is made.
    fn reserve_given_ids(&mut self, steps: &[DraftStep], prefix: &str) {
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

    fn step(&mut self, d: &DraftStep, at: &str, depth: usize) -> Step {
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
                        format!(
                            "`{k}` is not a kind of step; use agent, parallel, loop, condition, \
                             router or group"
                        ),
                    );
                    StepKindName::Agent
                }
            },
        };

        // Fields a kind does not use are refused, so nothing written is silently ignored.
        let uses = |field: &str| -> bool {
            use StepKindName as K;
            match field {
                "instructions" | "model" => matches!(kind, K::Agent | K::Router),
                "retries" => matches!(kind, K::Agent | K::Router),
                "tools" | "max_tool_rounds" => kind == K::Agent,
                "tool" | "arguments" => kind == K::Tool,
                "if" | "then" | "else" => kind == K::Condition,
                "until" | "max_iterations" => kind == K::Loop,
                "steps" => matches!(kind, K::Parallel | K::Loop | K::Group),
                "routes" => kind == K::Router,
                _ => true,
            }
        };
        let present: [(&str, bool, Option<u32>); 14] = [
            ("tool", d.tool.value.is_some(), d.tool.line),
            ("arguments", d.arguments.value.is_some(), d.arguments.line),
            ("tools", d.tools.value.is_some(), d.tools.line),
            (
                "max_tool_rounds",
                d.max_tool_rounds.value.is_some(),
                d.max_tool_rounds.line,
            ),
            (
                "instructions",
                d.instructions.text().is_some(),
                d.instructions.line,
            ),
            ("model", d.model.value.is_some(), d.model.line),
            ("retries", d.retries.value.is_some(), d.retries.line),
            ("if", d.if_test.value.is_some(), d.if_test.line),
            ("then", !d.then.items.is_empty(), d.then.line),
            ("else", !d.else_steps.items.is_empty(), d.else_steps.line),
            ("until", d.until.value.is_some(), d.until.line),
            (
                "max_iterations",
                d.max_iterations.value.is_some(),
                d.max_iterations.line,
            ),
            ("steps", !d.steps.items.is_empty(), d.steps.line),
            ("routes", !d.routes.items.is_empty(), d.routes.line),
        ];
        for (field, here, line) in present {
            if here && !uses(field) {
                issue(
                    self,
                    field,
                    line,
                    format!("`{field}` is not used by {} steps", kind.as_str()),
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
        if kind == StepKindName::Agent && d.instructions.text().is_none() {
            let what = if d.instructions.value.is_some() {
                "empty"
            } else {
                "missing"
            };
            issue(
                self,
                "instructions",
                d.instructions.line,
                format!("the instructions are {what}; say what this step should do"),
            );
        }
        // In a file, `model = ""` is a mistake; the editor sends an empty model as none.
        let model = match d.model.value.as_deref() {
            None => None,
            Some(m) => match m.parse::<ModelRef>() {
                Ok(m) => Some(m),
                Err(e) => {
                    issue(self, "model", d.model.line, e.to_string());
                    None
                }
            },
        };
        let children = |c: &mut Checker, key: &str, kids: &Kids, needed: bool| -> Vec<Step> {
            if needed && kids.items.is_empty() {
                c.at(
                    at,
                    name,
                    key,
                    kids.line.or(d.line),
                    format!(
                        "a {} step needs at least one step in `{key}` ([[…{key}]] tables under it)",
                        kind.as_str()
                    ),
                );
            }
            c.steps(kids, &format!("{at}.{key}"), depth + 1)
        };
        let test = |c: &mut Checker, field: &str, f: &Field| -> Option<Test> {
            let source = f.text()?;
            match Test::parse(source) {
                Ok(t) => Some(t),
                Err(e) => {
                    c.at(at, name, field, f.line.or(d.line), e.to_string());
                    None
                }
            }
        };

        let kind = match kind {
            StepKindName::Agent => StepKind::Agent {
                instructions: d.instructions.text().unwrap_or_default().to_string(),
                model,
                tools: self.tools(at, name, &d.tools),
                max_tool_rounds: self
                    .number(
                        at,
                        name,
                        "max_tool_rounds",
                        &d.max_tool_rounds,
                        1,
                        MAX_TOOL_ROUNDS,
                    )
                    .map_or(DEFAULT_MAX_TOOL_ROUNDS, |n| n as u32),
            },
            StepKindName::Tool => StepKind::Tool {
                tool: self.tool_of(at, name, &d.tool, d.line),
                arguments: d.arguments.value.clone().unwrap_or_default(),
            },
            StepKindName::Parallel => StepKind::Parallel {
                steps: children(self, "steps", &d.steps, true),
            },
            StepKindName::Group => StepKind::Group {
                steps: children(self, "steps", &d.steps, true),
            },
            StepKindName::Loop => {
                let max = self.number(
                    at,
                    name,
                    "max_iterations",
                    &d.max_iterations,
                    1,
                    MAX_LOOP_ITERATIONS,
                );
                if d.max_iterations.value.is_none() {
                    issue(
                        self,
                        "max_iterations",
                        None,
                        format!(
                            "a loop needs `max_iterations`, the most rounds it may run \
                             (1 to {MAX_LOOP_ITERATIONS})"
                        ),
                    );
                }
                StepKind::Loop {
                    until: test(self, "until", &d.until),
                    steps: children(self, "steps", &d.steps, true),
                    max_iterations: max.unwrap_or(1) as u32,
                }
            }
            StepKindName::Condition => {
                let t = test(self, "if", &d.if_test);
                if d.if_test.text().is_none() {
                    issue(
                        self,
                        "if",
                        d.if_test.line,
                        "a condition needs an `if` test, for example: output contains \"yes\""
                            .into(),
                    );
                }
                let then = children(self, "then", &d.then, true);
                let otherwise = children(self, "else", &d.else_steps, false);
                StepKind::Condition {
                    // Stands in for a test that did not parse (the workflow is refused anyway).
                    test: t.unwrap_or_else(Test::never),
                    then,
                    otherwise,
                }
            }
            StepKindName::Router => {
                if d.routes.items.len() < 2 {
                    issue(
                        self,
                        "routes",
                        d.routes.line,
                        "a router needs at least two routes ([[…routes]] with a name, a \
                         description and steps)"
                            .into(),
                    );
                }
                let mut seen = HashSet::new();
                let mut routes = Vec::new();
                for (r, route) in d.routes.items.iter().enumerate() {
                    let rat = format!("{at}.routes[{r}]");
                    let rline = route.line.or(d.line);
                    let rname = route.name.text();
                    match rname {
                        None => self.at(
                            &rat,
                            name,
                            "name",
                            route.name.line.or(rline),
                            "the route needs a name".into(),
                        ),
                        Some(n) if !seen.insert(n.to_lowercase()) => self.at(
                            &rat,
                            name,
                            "name",
                            route.name.line.or(rline),
                            format!("another route of this router is already called \"{n}\""),
                        ),
                        Some(_) => {}
                    }
                    if route.description.text().is_none() {
                        self.at(
                            &rat,
                            name,
                            "description",
                            route.description.line.or(rline),
                            "the route needs a description: the model chooses by it".into(),
                        );
                    }
                    if route.steps.items.is_empty() {
                        self.at(
                            &rat,
                            name,
                            "steps",
                            route.steps.line.or(rline),
                            "the route needs at least one step".into(),
                        );
                    }
                    routes.push(Route {
                        name: rname.unwrap_or_default().to_string(),
                        description: route.description.text().unwrap_or_default().to_string(),
                        steps: self.steps(&route.steps, &format!("{rat}.steps"), depth + 1),
                    });
                }
                StepKind::Router {
                    instructions: d.instructions.text().unwrap_or_default().to_string(),
                    model,
                    routes,
                }
            }
        };
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

    /// A tool step's tool: a built-in one or `SERVER.TOOL` (one tool, not a whole server).
    fn tool_of(&mut self, at: &str, name: Option<&str>, f: &Field, line: Option<u32>) -> String {
        let Some(tool) = f.text() else {
            self.at(
                at,
                name,
                "tool",
                f.line.or(line),
                "a tool step needs `tool`, the tool it runs (fetch_page, web_search or \
                 SERVER.TOOL)"
                    .to_string(),
            );
            return String::new();
        };
        let builtin = BUILTIN_TOOLS.iter().any(|(n, _)| *n == tool);
        let server_tool = tool.contains('.') && Tools::can_name(tool);
        if !(builtin || server_tool) {
            self.at(
                at,
                name,
                "tool",
                f.line,
                format!(
                    "`{tool}` is not one tool; use fetch_page, web_search or SERVER.TOOL (an MCP \
                     server's name from Settings, a dot, and one of its tools)"
                ),
            );
        }
        tool.to_string()
    }

    /// An agent's tools: each one that exists, once.
    fn tools(&mut self, at: &str, name: Option<&str>, list: &List) -> Vec<String> {
        let mut tools: Vec<String> = Vec::new();
        for tool in list.value.iter().flatten().map(|t| t.trim()) {
            if !Tools::can_name(tool) {
                let known: Vec<&str> = BUILTIN_TOOLS.iter().map(|(n, _)| *n).collect();
                self.at(
                    at,
                    name,
                    "tools",
                    list.line,
                    format!(
                        "`{tool}` is not a tool; use {}, an MCP server's name from Settings, or \
                         SERVER.TOOL",
                        known.join(", ")
                    ),
                );
            } else if tools.iter().any(|t| t == tool) {
                self.at(
                    at,
                    name,
                    "tools",
                    list.line,
                    format!("`{tool}` is listed twice"),
                );
            } else {
                tools.push(tool.to_string());
            }
        }
        tools
    }

    /// A whole number within `min..=max`, or an issue saying what is allowed.
    fn number(
        &mut self,
        at: &str,
        name: Option<&str>,
        field: &str,
        n: &Num,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let v = n.value?;
        if (min..=max).contains(&v) {
            Some(v)
        } else {
            self.at(
                at,
                name,
                field,
                n.line,
                format!("`{field}` must be from {min} to {max}, not {v}"),
            );
            None
        }
    }

    // ── second pass: what instructions and tests cite ──────────────────────────────────────

    /// Steps in order: each sees what finished before it, then counts as finished itself.
    fn check_sequence(&mut self, steps: &[Step], done: &mut HashSet<String>) {
        for s in steps {
            self.check_step(s, done);
            s.walk(&mut |x| {
                done.insert(x.id.clone());
            });
        }
    }

    fn check_step(&mut self, s: &Step, done: &HashSet<String>) {
        match &s.kind {
            StepKind::Agent { instructions, .. } => self.check_text(s, instructions, done),
            StepKind::Tool { arguments, .. } => {
                for v in arguments.values() {
                    if let Some(text) = v.as_str() {
                        self.check_text_of(s, "arguments", text, done);
                    }
                }
            }
            StepKind::Router {
                instructions,
                routes,
                ..
            } => {
                self.check_text(s, instructions, done);
                let mut after = done.clone();
                after.insert(s.id.clone());
                for r in routes {
                    self.check_sequence(&r.steps, &mut after.clone());
                }
            }
            StepKind::Group { steps } => self.check_sequence(steps, &mut done.clone()),
            // Side by side: a branch cannot cite another, which may not have finished.
            StepKind::Parallel { steps } => {
                for c in steps {
                    self.check_step(c, done);
                }
            }
            StepKind::Loop { steps, until, .. } => {
                let mut inside = done.clone();
                self.check_sequence(steps, &mut inside);
                if let Some(t) = until {
                    self.check_test(s, "until", t, &inside);
                }
            }
            StepKind::Condition {
                test,
                then,
                otherwise,
            } => {
                self.check_test(s, "if", test, done);
                self.check_sequence(then, &mut done.clone());
                self.check_sequence(otherwise, &mut done.clone());
            }
        }
    }

    fn check_text(&mut self, s: &Step, text: &str, done: &HashSet<String>) {
        self.check_text_of(s, "instructions", text, done);
    }

    fn check_text_of(&mut self, s: &Step, field: &str, text: &str, done: &HashSet<String>) {
        for p in cited(text) {
            if let Placeholder::StepOutput(id) = p
                && let Some(msg) = self.citation_problem(s, &id, done)
            {
                self.second_pass_issue(s, field, msg);
            }
        }
    }

    fn check_test(&mut self, s: &Step, field: &str, t: &Test, done: &HashSet<String>) {
        for id in t.cited_steps() {
            if let Some(msg) = self.citation_problem(s, &id, done) {
                self.second_pass_issue(s, field, msg);
            }
        }
    }

    fn citation_problem(&self, s: &Step, id: &str, done: &HashSet<String>) -> Option<String> {
        if done.contains(id) {
            None
        } else if id == s.id {
            Some(format!("a step cannot use its own output (`{id}`)"))
        } else if self.places.contains_key(id) {
            Some(format!(
                "the step `{id}` has not finished when this one runs (it runs later, or beside \
                 it), so its output cannot be used here"
            ))
        } else {
            Some(format!("no step has the id `{id}`"))
        }
    }

    fn second_pass_issue(&mut self, s: &Step, field: &str, message: String) {
        let Some(place) = self.places.get(&s.id) else {
            return;
        };
        let line = match field {
            "if" => place.if_line,
            "until" => place.until_line,
            _ => place.instructions_line,
        };
        let (at, name) = (place.at.clone(), place.name.clone());
        self.at(&at, name.as_deref(), field, line, message);
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
