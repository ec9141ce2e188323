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
    /// Index of the step (0-based) when the problem is inside a step.
    pub step_index: Option<u32>,
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
                step_index: None,
                step_name: None,
                field: None,
                line: None,
                message,
            }],
        }
    }
}

impl fmt::Display for WorkflowIssue {
    /// `line 9: step 2 "Write", field `instructions`: instructions are missing`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(line) = self.line {
            parts.push(format!("line {line}"));
        }
        match (self.step_index, &self.step_name) {
            (Some(i), Some(name)) => parts.push(format!("step {} \"{name}\"", i + 1)),
            (Some(i), None) => parts.push(format!("step {}", i + 1)),
            _ => {}
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
