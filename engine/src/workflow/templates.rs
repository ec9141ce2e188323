//! The built-in templates, embedded in the binary so a fresh install has something to run.

use serde::Serialize;

use super::{Workflow, parse};

/// A built-in workflow and the stable id it is known by (`stepwise run research-and-write`).
#[derive(Clone, Debug, PartialEq, Serialize, specta::Type)]
pub struct Template {
    pub id: String,
    #[specta(type = super::WorkflowDraft)]
    pub workflow: Workflow,
}

const SOURCES: &[(&str, &str)] = &[
    (
        "research-and-write",
        include_str!("../../templates/research-and-write.toml"),
    ),
    (
        "long-story",
        include_str!("../../templates/long-story.toml"),
    ),
    (
        "meeting-notes",
        include_str!("../../templates/meeting-notes.toml"),
    ),
    (
        "three-angles",
        include_str!("../../templates/three-angles.toml"),
    ),
    (
        "draft-and-review",
        include_str!("../../templates/draft-and-review.toml"),
    ),
    (
        "answer-a-message",
        include_str!("../../templates/answer-a-message.toml"),
    ),
];

/// Every template, in display order. The sources are checked by a test, so none is ever dropped.
pub fn all() -> Vec<Template> {
    SOURCES
        .iter()
        .filter_map(|(id, text)| {
            let workflow = parse(text, Some(id)).ok()?;
            Some(Template {
                id: (*id).to_string(),
                workflow,
            })
        })
        .collect()
}

/// The template with this id.
pub fn get(id: &str) -> Option<Template> {
    all().into_iter().find(|t| t.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model_ref::ProviderKind;

    #[test]
    fn every_template_parses_and_runs_on_the_demo_model() {
        for (id, text) in SOURCES {
            let w = parse(text, Some(id)).unwrap_or_else(|e| panic!("{e}"));
            for s in w.all_steps().into_iter().filter(|s| s.calls_model()) {
                assert_eq!(
                    s.model().map(|m| m.provider()),
                    Some(ProviderKind::Demo),
                    "{id}: {}",
                    s.name
                );
            }
        }
        assert_eq!(all().len(), SOURCES.len());
        assert_eq!(get("research-and-write").unwrap().workflow.steps.len(), 2);
        assert_eq!(get("long-story").unwrap().workflow.steps.len(), 1);
        assert!(get("nope").is_none());
    }
}
