//! A run as a Markdown document (to read or share) or as JSON (everything, for tools).

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::event::{ReviewAnswer, RunEvent, RunId, SkipReason};
use crate::snapshot::{RunSnapshot, StepSnapshot, ToolCallStatus};
use crate::status::{RunStatus, StepStatus};
use crate::workflow::{StepKindName, Workflow};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Markdown,
    Json,
}

impl Store {
    /// The run in `format`, or `None` if there is no such run.
    pub fn export(&self, id: RunId, format: ExportFormat) -> Result<Option<String>, StoreError> {
        let Some(run) = self.get_run(id)? else {
            return Ok(None);
        };
        let (workflow, events) = match format {
            ExportFormat::Markdown => (None, Vec::new()),
            ExportFormat::Json => (self.workflow_of(id)?, self.events(id)?),
        };
        Ok(Some(render(&run, workflow.as_ref(), &events, format)))
    }
}

/// A run as an exported document: Markdown for people, or JSON with everything known of it (the
/// workflow as it ran and its event log, where there is a history to take them from).
pub fn render(
    run: &RunSnapshot,
    workflow: Option<&Workflow>,
    events: &[RunEvent],
    format: ExportFormat,
) -> String {
    match format {
        ExportFormat::Markdown => markdown(run),
        ExportFormat::Json => {
            let doc = serde_json::json!({
                "format": "stepwise-run",
                "version": 1,
                "run": run,
                "workflow": workflow,
                "events": events,
            });
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        }
    }
}

/// The run for a person: what was asked, how it ended, each step's text.
pub fn markdown(run: &RunSnapshot) -> String {
    let mut out = format!("# {}\n\n", run.workflow_name);
    out.push_str(&format!("**Input:** {}  \n", run.input.trim()));
    let mut status = status_words(run);
    if let Some(t) = run.started_at_ms {
        status.push_str(&format!(" · {}", utc(t)));
    }
    if let (Some(a), Some(b)) = (run.started_at_ms, run.ended_at_ms) {
        status.push_str(&format!(" · {}", secs(b.saturating_sub(a))));
    }
    out.push_str(&format!("**Status:** {status}  \n"));
    if let Some(e) = &run.error {
        out.push_str(&format!("**What went wrong:** {}  \n", e.message));
    }
    if let Some(from) = &run.resumed_from {
        let step = run.step(&from.step).map_or(from.step.as_str(), |s| &s.name);
        out.push_str(&format!(
            "**Continues:** run {} from “{step}” (the steps before it are reused)  \n",
            from.run_id
        ));
    }
    for later in &run.continued_in {
        out.push_str(&format!("**Continued in:** run {later}  \n"));
    }
    if let Some(u) = &run.usage {
        out.push_str(&format!("**Tokens and cost:** {}  \n", u.describe()));
    }
    let top: Vec<&StepSnapshot> = run.steps.iter().filter(|s| s.parent.is_none()).collect();
    for (i, s) in top.iter().enumerate() {
        step_markdown(run, s, 2, &format!("{}. ", i + 1), &mut out);
    }
    out
}

/// One step under a heading of `level`, then the steps inside it one level deeper. A step that
/// holds others shows no text of its own: its output is theirs, already shown.
fn step_markdown(
    run: &RunSnapshot,
    s: &StepSnapshot,
    level: usize,
    number: &str,
    out: &mut String,
) {
    let state = match (s.status, s.skipped) {
        (StepStatus::Completed, _) if s.reused => "reused from the earlier run".to_string(),
        (StepStatus::Completed, _) => format!("done in {}", secs(s.duration_ms.unwrap_or(0))),
        (StepStatus::Cancelled, _) => "cancelled — partial text".to_string(),
        (StepStatus::Failed, _) => "failed — partial text".to_string(),
        (StepStatus::Skipped, Some(SkipReason::NotTaken)) => "not taken".to_string(),
        (StepStatus::Skipped, Some(SkipReason::OnError)) => "skipped after a problem".to_string(),
        (StepStatus::Skipped, None) => "skipped".to_string(),
        (StepStatus::Running, _) => "running".to_string(),
        (StepStatus::Waiting, _) => "waiting for your review".to_string(),
        (StepStatus::Pending, _) => "waiting".to_string(),
    };
    let what = if s.model.is_empty() {
        s.kind.as_str().to_string()
    } else {
        s.model.clone()
    };
    let round = s.round.map(|r| format!(" — round {r}")).unwrap_or_default();
    let branch = match (&s.branch, run.step(s.parent.as_deref().unwrap_or(""))) {
        (Some(b), Some(p)) if p.kind == StepKindName::Condition && b == "then" => {
            " (when the test held)".to_string()
        }
        (Some(_), Some(p)) if p.kind == StepKindName::Condition => " (otherwise)".to_string(),
        (Some(b), _) => format!(" (route {b})"),
        _ => String::new(),
    };
    out.push_str(&format!(
        "\n{} {number}{}{round}{branch} ({what}, {state})\n\n",
        "#".repeat(level.min(6)),
        s.name
    ));
    if let Some(u) = &s.usage {
        out.push_str(&format!("*Tokens and cost: {}*\n\n", u.describe()));
    }
    if let Some(note) = &s.note {
        out.push_str(&format!("*{}*\n\n", note.trim()));
    }
    if let Some(c) = &s.chosen {
        out.push_str(&format!("Chose **{}**: {}\n\n", c.route, c.reason));
    }
    for r in &s.reviews {
        match &r.answer {
            ReviewAnswer::Approve => out.push_str("*Approved by you.*\n\n"),
            ReviewAnswer::Edit { .. } => {
                out.push_str("*Edited by you before the run went on. The step had written:*\n\n");
                for line in r.output.trim_end().lines() {
                    out.push_str(&format!("> {line}\n"));
                }
                out.push('\n');
            }
            ReviewAnswer::SendBack { note } => {
                out.push_str(&format!("*Sent back by you: “{}”*\n\n", note.trim()));
            }
        }
    }
    if !s.tool_calls.is_empty() {
        for c in &s.tool_calls {
            let how = match c.status {
                ToolCallStatus::Done => format!(
                    "{}, {}",
                    c.preview.as_deref().unwrap_or("done"),
                    secs(c.duration_ms.unwrap_or(0))
                ),
                ToolCallStatus::Failed => {
                    format!(
                        "did not work: {}",
                        c.preview.as_deref().unwrap_or("no details")
                    )
                }
                ToolCallStatus::Cancelled => "stopped".to_string(),
                ToolCallStatus::Running | ToolCallStatus::Waiting => "running".to_string(),
            };
            out.push_str(&format!("- *{} — {how}*\n", c.title));
        }
        out.push('\n');
    }
    let inside: Vec<&StepSnapshot> = run
        .steps
        .iter()
        .filter(|c| c.parent.as_deref() == Some(s.path.as_str()))
        .collect();
    let own_text = inside.is_empty() || s.kind == StepKindName::Router && s.chosen.is_none();
    if own_text && !s.text.trim().is_empty() {
        out.push_str(s.text.trim_end());
        out.push('\n');
    }
    for c in inside {
        step_markdown(run, c, level + 1, "", out);
    }
}

fn status_words(run: &RunSnapshot) -> String {
    match run.status {
        RunStatus::Completed => "Completed".into(),
        RunStatus::Failed => "Failed".into(),
        RunStatus::Cancelled => match run.cancel_reason {
            Some(crate::event::CancelReason::AppExit) => "Cancelled (Stepwise was closing)".into(),
            _ => "Cancelled".into(),
        },
        RunStatus::Interrupted => "Interrupted (Stepwise stopped unexpectedly)".into(),
        RunStatus::Running => "Running".into(),
        RunStatus::Waiting => "Waiting for you".into(),
        RunStatus::Pending => "Waiting to start".into(),
    }
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// `2026-11-21 05:10 UTC` from ms since the epoch (the civil-from-days algorithm).
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn dates_are_right() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_795_237_800_000), "2026-11-21 05:10 UTC");
    }
}
