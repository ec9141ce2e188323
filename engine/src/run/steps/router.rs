//! `router`: a model reads the input and picks one of the named routes; the choice and the
//! model's one-line reason become a `RouteChosen` event, the other routes are marked skipped, and
//! the chosen route's steps run with the router's input. The router's output is the route's.
//!
//! The model answers in two lines, the route's name and why; its text streams into the router
//! step like any model's, so a person sees it decide.

use super::stream::{Written, stream_model};
use super::{At, Done, Executed, Halt, Scope, StepFailure, run_sequence};
use crate::event::{ErrorKind, EventKind};
use crate::prompt::{PreviousStep, ROUTES_HEAD, chained};
use crate::provider::ModelRequest;
use crate::workflow::{Route, RouterStep, Step};

pub(super) fn execute<'a>(at: At<'a>, router: &'a RouterStep) -> Executed<'a> {
    let (scope, step, path, previous) = (at.scope, at.step, at.path, at.previous);
    Box::pin(async move {
        let (cx, routes) = (&scope.cx, &router.routes);
        // A revived run whose router had chosen before it waited keeps that choice: the model
        // is not asked again.
        let saved = cx
            .replay
            .route(path)
            .and_then(|(name, reason)| Some((routes.iter().position(|r| r.name == name)?, reason)));
        let (chosen, reason) = match saved {
            Some(choice) => choice,
            None => ask_model(scope, step, path, previous, router).await?,
        };
        let route = &routes[chosen];
        if !scope.run.emit(EventKind::RouteChosen {
            path: path.to_string(),
            route: route.name.clone(),
            reason,
        }) {
            return Err(Halt::Stopped);
        }
        for (i, other) in routes.iter().enumerate() {
            if i != chosen {
                scope
                    .inside(path, Some(&other.name))
                    .skip_not_taken(&other.steps)?;
            }
        }
        let inside = scope.inside(path, Some(&route.name));
        let flow = run_sequence(&inside, &route.steps, previous.cloned()).await?;
        Ok(Done::text(flow.map(|p| p.output).unwrap_or_default()))
    })
}

/// The model's choice: the route's index and its one-line reason.
async fn ask_model(
    scope: &Scope,
    step: &Step,
    path: &str,
    previous: Option<&PreviousStep>,
    router: &RouterStep,
) -> Result<(usize, String), Halt> {
    let (cx, routes) = (&scope.cx, &router.routes);
    let request = ModelRequest::new(
        router
            .model
            .clone()
            .unwrap_or_else(|| cx.default_model.clone()),
        system_prompt(&router.instructions, routes),
        chained(&cx.input, previous),
    );
    let answer = stream_model(scope, path, request, step.retries, Written::default()).await?;
    choose(&answer.text, routes).ok_or_else(|| {
        let first = answer
            .text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Halt::Failed(StepFailure {
            path: path.to_string(),
            kind: ErrorKind::Provider,
            message: format!(
                "The model did not pick one of the routes ({}); it answered “{}”. Try again, \
                 or describe the routes more plainly.",
                routes
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                first.chars().take(80).collect::<String>()
            ),
        })
    })
}

fn system_prompt(instructions: &str, routes: &[Route]) -> String {
    let mut s = String::from(
        "You choose how a request is handled. Pick the one route below that fits it best.\n\n",
    );
    s.push_str(ROUTES_HEAD);
    for r in routes {
        s.push_str(&format!("- {}: {}\n", r.name, r.description));
    }
    if !instructions.trim().is_empty() {
        s.push('\n');
        s.push_str(instructions.trim());
        s.push('\n');
    }
    s.push_str(
        "\nAnswer with exactly two lines: the route's name as written above, then one short \
         sentence saying why.",
    );
    s
}

/// The route the answer names (its first line, forgiving of quotes, bold, a `Route:` label and
/// case) and the reason (the next line).
pub(crate) fn choose(answer: &str, routes: &[Route]) -> Option<(usize, String)> {
    let mut lines = answer.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = clean(lines.next()?);
    let first = first.strip_prefix("route:").map(clean).unwrap_or(first);
    let names: Vec<String> = routes.iter().map(|r| clean(&r.name)).collect();
    let chosen = names.iter().position(|n| *n == first).or_else(|| {
        // Else the longest route name the line starts with ("Billing — because …").
        names
            .iter()
            .enumerate()
            .filter(|(_, n)| first.starts_with(n.as_str()))
            .max_by_key(|(_, n)| n.len())
            .map(|(i, _)| i)
    })?;
    let reason = lines
        .next()
        .map(|l| {
            let l = l.trim_start_matches(['*', '_', '-', ' ']);
            let l = l
                .strip_prefix("Reason:")
                .or_else(|| l.strip_prefix("reason:"))
                .unwrap_or(l);
            l.trim().trim_end_matches(['*', '_']).trim().to_string()
        })
        .unwrap_or_default();
    Some((chosen, reason))
}

fn clean(s: &str) -> String {
    s.trim()
        .trim_matches(|c: char| matches!(c, '*' | '_' | '`' | '"' | '\'' | '“' | '”' | '.' | '#'))
        .trim()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Vec<Route> {
        ["Billing", "Bug report", "Bug"]
            .iter()
            .map(|n| Route {
                name: n.to_string(),
                description: String::new(),
                steps: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn reads_the_choice_forgivingly() {
        let r = routes();
        assert_eq!(
            choose("Billing\nIt is about an invoice.", &r),
            Some((0, "It is about an invoice.".into()))
        );
        assert_eq!(
            choose("**Bug report**\nReason: a crash", &r),
            Some((1, "a crash".into()))
        );
        assert_eq!(choose("\n Route: \"bug\" \n", &r), Some((2, String::new())));
        assert_eq!(
            choose("Bug report — the app crashes", &r).map(|c| c.0),
            Some(1)
        );
        assert_eq!(choose("Shipping\nno", &r), None);
        assert_eq!(choose("", &r), None);
    }
}
