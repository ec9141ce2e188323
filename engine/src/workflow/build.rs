//! What a kind's `build` works with: the step's lined draft, where it is, and a way to say what
//! is wrong on a field (see `kinds/`). The rules every step shares are in `validate.rs`.

use super::kinds::{StepField, StepKindName};
use super::parse::{Field, Kids, LinedStep, Num};
use super::{Step, Test};

/// The checker, as a kind's builder sees it (`validate.rs` implements it): where issues go,
/// and how the steps inside a step are checked, one level deeper.
pub(in crate::workflow) trait Nested {
    fn at(&mut self, at: &str, name: Option<&str>, field: &str, line: Option<u32>, message: String);
    fn steps(&mut self, kids: &Kids, prefix: &str, depth: usize) -> Vec<Step>;

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
            let message = format!("`{field}` must be from {min} to {max}, not {v}");
            self.at(at, name, field, n.line, message);
            None
        }
    }
}
use crate::model_ref::ModelRef;

pub(in crate::workflow) struct StepBuilder<'c, 'a> {
    pub(super) checker: &'c mut dyn Nested,
    /// The step as written, each value with its line.
    pub draft: &'a LinedStep,
    /// Where it is (`steps[1].then[0]`), as issues place it.
    pub at: &'a str,
    pub name: Option<&'a str>,
    pub kind: StepKindName,
    pub(super) depth: usize,
    /// Whether `model()` was read (else the common checks read it for its issue).
    pub(super) model_read: bool,
}

impl StepBuilder<'_, '_> {
    /// The model it names, if any and if it reads; a kind that calls a model takes it.
    /// In a file, `model = ""` is a mistake; the editor sends an empty model as none.
    pub fn model(&mut self) -> Option<ModelRef> {
        self.model_read = true;
        let f = &self.draft.model;
        match f.value.as_deref()?.parse::<ModelRef>() {
            Ok(m) => Some(m),
            Err(e) => {
                self.issue(StepField::Model, f.line, e.to_string());
                None
            }
        }
    }

    /// An issue on one of this step's fields, on the field's line or else the step's.
    pub fn issue(&mut self, field: StepField, line: Option<u32>, message: String) {
        let line = line.or(self.draft.line);
        self.checker
            .at(self.at, self.name, field.as_str(), line, message);
    }

    /// An issue somewhere inside this step (a route's field).
    pub fn issue_at(&mut self, at: &str, field: &str, line: Option<u32>, message: String) {
        self.checker.at(at, self.name, field, line, message);
    }

    /// A whole number within `min..=max`, or an issue saying what is allowed.
    pub fn number(&mut self, field: StepField, n: &Num, min: i64, max: i64) -> Option<i64> {
        let at = self.at;
        let name = self.name;
        self.checker.number(at, name, field.as_str(), n, min, max)
    }

    /// A test (`output contains "x"`), or an issue saying why it does not read.
    pub fn test(&mut self, field: StepField, f: &Field) -> Option<Test> {
        let source = f.text()?;
        match Test::parse(source) {
            Ok(t) => Some(t),
            Err(e) => {
                self.issue(field, f.line, e.to_string());
                None
            }
        }
    }

    /// The steps under `field` (`steps`, `then`, `else`), checked one level deeper.
    pub fn children(&mut self, field: StepField, needed: bool) -> Vec<Step> {
        let d = self.draft;
        let kids = match field {
            StepField::Then => &d.then,
            StepField::Else => &d.else_steps,
            _ => &d.steps,
        };
        let key = field.as_str();
        if needed && kids.items.is_empty() {
            self.issue(
                field,
                kids.line,
                format!(
                    "a {} step needs at least one step in `{key}` ([[…{key}]] tables under it)",
                    self.kind.as_str()
                ),
            );
        }
        let prefix = format!("{}.{key}", self.at);
        self.steps_at(kids, &prefix)
    }

    /// Steps one level deeper, placed under `prefix` (a route's steps).
    pub fn steps_at(&mut self, kids: &Kids, prefix: &str) -> Vec<Step> {
        self.checker.steps(kids, prefix, self.depth + 1)
    }
}
