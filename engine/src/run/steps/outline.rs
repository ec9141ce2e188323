//! The run's steps as `RunStarted` announces them: the whole tree, a loop's children as in round
//! 1 (later rounds appear as they start), each with the path it will run under.

use crate::event::StepInfo;
use crate::model_ref::ModelRef;
use crate::workflow::kinds::BranchLabel;
use crate::workflow::{Step, Workflow};

/// Every step of the workflow, depth first, a step before the steps inside it.
pub(crate) fn outline(workflow: &Workflow, default_model: &ModelRef) -> Vec<StepInfo> {
    let mut out = Vec::new();
    add(
        &mut out,
        &workflow.steps,
        None,
        None,
        None,
        None,
        default_model,
    );
    out
}

fn add(
    out: &mut Vec<StepInfo>,
    steps: &[Step],
    prefix: Option<&str>,
    parent: Option<&str>,
    branch: Option<&str>,
    round: Option<u32>,
    default_model: &ModelRef,
) {
    for s in steps {
        let path = match prefix {
            Some(p) => format!("{p}/{}", s.id),
            None => s.id.clone(),
        };
        out.push(info(
            s,
            path.clone(),
            parent.map(str::to_string),
            branch.map(str::to_string),
            round,
            default_model,
        ));
        let here = Some(path.as_str());
        for branch in s.kind.branches() {
            match branch.label {
                BranchLabel::None => add(out, branch.steps, here, here, None, None, default_model),
                BranchLabel::Named(name) => add(
                    out,
                    branch.steps,
                    here,
                    here,
                    Some(name),
                    None,
                    default_model,
                ),
                BranchLabel::Rounds => {
                    let first = format!("{path}#1");
                    add(
                        out,
                        branch.steps,
                        Some(&first),
                        here,
                        None,
                        Some(1),
                        default_model,
                    );
                }
            }
        }
    }
}

/// One step as events announce it.
pub(super) fn info(
    step: &Step,
    path: String,
    parent: Option<String>,
    branch: Option<String>,
    round: Option<u32>,
    default_model: &ModelRef,
) -> StepInfo {
    StepInfo {
        path,
        parent,
        id: step.id.clone(),
        name: step.name.clone(),
        kind: step.kind_name(),
        model: if step.calls_model() {
            step.model().unwrap_or(default_model).to_string()
        } else {
            String::new()
        },
        branch,
        round,
    }
}
