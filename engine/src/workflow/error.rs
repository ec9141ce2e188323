//! Validation errors for workflow files, precise enough for a person to fix the file.

use std::fmt;

use serde::Serialize;

/// Everything wrong with one workflow file, in file order.
#[derive(Clone, Debug, PartialEq, Serialize, specta::Type, thiserror::Error)]
pub struct WorkflowError {
    /// The file's path as given, when it came from a file.
    pub file: Option<String>,
    pub issues: Vec<WorkflowIssue>,
}

/// One problem: where it is (step, field, line) and what is wrong.
#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
pub struct WorkflowIssue {
    /// Where the step is when the problem is inside one: `steps[1]`, `steps[1].then[0]`,
    /// `steps[0].routes[1].steps[0]` (0-based positions, as the editor lists them).
    pub step: Option<String>,
    /// The step's name, when it has one.
    pub step_name: Option<String>,
    /// The field concerned (`name`, `instructions`, `model`, `steps` …), when there is one.
    pub field: Option<String>,
    /// 1-based line in the file, when the file gives one.
    pub line: Option<u32>,
    pub message: String,
}

impl WorkflowError {
    pub(crate) fn single(file: Option<&str>, message: String) -> Self {
        WorkflowError {
            file: file.map(str::to_string),
            issues: vec![WorkflowIssue {
                step: None,
                step_name: None,
                field: None,
                line: None,
                message,
            }],
        }
    }
}

impl fmt::Display for WorkflowIssue {
    /// `line 9: step "Write" (steps[1]), field `instructions`: instructions are missing`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(line) = self.line {
            parts.push(format!("line {line}"));
        }
        match (&self.step, &self.step_name) {
            (Some(at), Some(name)) => parts.push(format!("step \"{name}\" ({at})")),
            (Some(at), None) => parts.push(format!("step {at}")),
            (None, Some(name)) => parts.push(format!("step \"{name}\"")),
            (None, None) => {}
        }
        if let Some(field) = &self.field {
            parts.push(format!("field `{field}`"));
        }
        if parts.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", parts.join(", "), self.message)
        }
    }
}

impl fmt::Display for WorkflowError {
    /// One issue per line, each prefixed with the file like a compiler does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.as_deref().unwrap_or("workflow");
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{file}: {issue}")?;
        }
        Ok(())
    }
}
