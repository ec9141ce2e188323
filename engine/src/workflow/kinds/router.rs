//! `router`: a model picks one of the named routes for the input; the chosen route's steps run.

use std::collections::HashSet;

use super::drafts;
use super::{Branch, BranchLabel, Kind, StepField};
use crate::model_ref::ModelRef;
use crate::workflow::build::StepBuilder;
use crate::workflow::citations::Citations;
use crate::workflow::{RouteDraft, Step, StepDraft};

#[derive(Clone, Debug, PartialEq)]
pub struct RouterStep {
    /// Extra guidance for the choice (may be empty).
    pub instructions: String,
    pub model: Option<ModelRef>,
    pub routes: Vec<Route>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub name: String,
    /// What the model chooses by.
    pub description: String,
    pub steps: Vec<Step>,
}

impl Kind for RouterStep {
    fn build(b: &mut StepBuilder<'_, '_>) -> Self {
        let d = b.draft;
        let model = b.model();
        if d.routes.items.len() < 2 {
            b.issue(
                StepField::Routes,
                d.routes.line,
                "a router needs at least two routes ([[…routes]] with a name, a description and \
                 steps)"
                    .into(),
            );
        }
        let mut seen = HashSet::new();
        let mut routes = Vec::new();
        for (r, route) in d.routes.items.iter().enumerate() {
            let at = format!("{}.routes[{r}]", b.at);
            let line = route.line.or(d.line);
            let name = route.name.text();
            match name {
                None => b.issue_at(
                    &at,
                    "name",
                    route.name.line.or(line),
                    "the route needs a name".into(),
                ),
                Some(n) if !seen.insert(n.to_lowercase()) => b.issue_at(
                    &at,
                    "name",
                    route.name.line.or(line),
                    format!("another route of this router is already called \"{n}\""),
                ),
                Some(_) => {}
            }
            if route.description.text().is_none() {
                b.issue_at(
                    &at,
                    "description",
                    route.description.line.or(line),
                    "the route needs a description: the model chooses by it".into(),
                );
            }
            if route.steps.items.is_empty() {
                b.issue_at(
                    &at,
                    "steps",
                    route.steps.line.or(line),
                    "the route needs at least one step".into(),
                );
            }
            routes.push(Route {
                name: name.unwrap_or_default().to_string(),
                description: route.description.text().unwrap_or_default().to_string(),
                steps: b.steps_at(&route.steps, &format!("{at}.steps")),
            });
        }
        RouterStep {
            instructions: d.instructions.text().unwrap_or_default().to_string(),
            model,
            routes,
        }
    }

    fn draft(&self, d: &mut StepDraft) {
        d.instructions.clone_from(&self.instructions);
        d.routes = self
            .routes
            .iter()
            .map(|r| RouteDraft {
                name: r.name.clone(),
                description: r.description.clone(),
                steps: drafts(&r.steps),
            })
            .collect();
    }

    fn branches(&self) -> Vec<Branch<'_>> {
        self.routes
            .iter()
            .map(|r| Branch {
                steps: &r.steps,
                label: BranchLabel::Named(&r.name),
            })
            .collect()
    }

    fn branches_mut(&mut self) -> Vec<&mut Vec<Step>> {
        self.routes.iter_mut().map(|r| &mut r.steps).collect()
    }

    calls_a_model!();

    /// A route's steps run after the choice, so they may cite the router's own output.
    fn cite(&self, step: &Step, c: &mut Citations, done: &HashSet<String>) {
        c.text(step, StepField::Instructions, &self.instructions, done);
        let mut after = done.clone();
        after.insert(step.id.clone());
        for r in &self.routes {
            c.sequence(&r.steps, &mut after.clone());
        }
    }
}
