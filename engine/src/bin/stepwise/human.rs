//! The run as a person reads it in a terminal: each step announced, its text streaming, the outcome.

use std::io::{self, Write};

use std::collections::HashMap;

use stepwise_engine::event::{PartialStep, ResumedFrom, SkipReason, StepInfo};
use stepwise_engine::workflow::StepKindName;
use stepwise_engine::{
    ApprovalAnswer, CancelReason, EventKind, ReviewAnswer, RunEvent, RunSnapshot, StepStatus, Usage,
};

/// Steps print as they start, indented by depth, and text streams as it comes. Parallel
/// branches write at the same time, but a terminal shows one stream well: the first branch
/// streams live while the others are held, and each held branch's text (and its end) is shown,
/// under its name, as soon as the live one ends.
#[derive(Default)]
pub struct HumanView {
    /// The step whose text goes straight to the terminal.
    live: Option<String>,
    /// Other steps' text and end line, in the order they began writing.
    held: Vec<Held>,
    names: HashMap<String, String>,
    /// The top-level steps' paths, in order ("Step 2 of 3").
    top: Vec<String>,
    /// Tool calls begun and not yet ended: their titles, by call id.
    calls: HashMap<String, String>,
    /// Whether the text printed last ended with a newline (to start the next line cleanly).
    at_line_start: bool,
    /// The steps' usage so far, added up, for the run's last line.
    usage: Option<Usage>,
}

impl HumanView {
    /// For a run picked up where it waited: its steps' names, and a line saying so.
    pub fn resuming(snapshot: &RunSnapshot) -> Self {
        let mut view = HumanView::default();
        for s in &snapshot.steps {
            view.names.insert(s.path.clone(), s.name.clone());
        }
        view.top = snapshot
            .steps
            .iter()
            .filter(|s| s.parent.is_none())
            .map(|s| s.path.clone())
            .collect();
        view
    }

    /// After a run was left waiting for a review: what it waits for and how to answer.
    pub fn write_waiting(
        &mut self,
        out: &mut impl Write,
        run: &RunSnapshot,
        json: bool,
    ) -> io::Result<()> {
        if json {
            return Ok(());
        }
        self.flush_held(out)?;
        self.end_line(out)?;
        let id = run.run_id;
        for s in run.steps.iter().filter(|s| s.status == StepStatus::Waiting) {
            writeln!(out, "\n⏸ Waiting for you: review “{}”.", plain(&s.name))?;
        }
        writeln!(
            out,
            "  The run is saved as waiting. Answer it here or in the Stepwise window:\n    \
             stepwise answer {id} approve\n    \
             stepwise answer {id} edit FILE\n    \
             stepwise answer {id} send-back \"what to change\""
        )
    }

    pub fn write(&mut self, out: &mut impl Write, event: &RunEvent) -> io::Result<()> {
        match &event.kind {
            EventKind::RunStarted {
                workflow_name,
                input,
                steps,
                resumed_from,
            } => self.run_started(out, workflow_name, input, steps, resumed_from.as_ref())?,
            EventKind::StepStarted { step } => self.step_started(out, step)?,
            EventKind::TextDelta { path, text } => {
                let text = plain(text);
                if self.live.is_none() {
                    self.live = Some(path.to_string());
                }
                if self.live.as_deref() == Some(&**path) {
                    self.print(out, &text)?;
                } else {
                    self.held_mut(path).text.push_str(&text);
                }
            }
            EventKind::StepCompleted {
                path,
                duration_ms,
                usage,
                ..
            } => {
                let used = self.count(*usage);
                let line = format!(
                    "{}✓ {} done in {}{used}",
                    indent(path),
                    self.name(path),
                    secs(*duration_ms),
                );
                self.step_ended(out, path, line)?;
            }
            EventKind::StepFailed {
                path,
                message,
                usage,
                ..
            } => {
                let used = self.count(*usage);
                let line = format!(
                    "{}✗ {}: {}{used}",
                    indent(path),
                    self.name(path),
                    plain(message),
                );
                self.step_ended(out, path, line)?;
            }
            EventKind::StepSkipped {
                path,
                reason,
                message,
                usage,
            } => {
                self.count(*usage);
                self.end_line(out)?;
                let why = match (reason, message) {
                    (SkipReason::NotTaken, _) => "not taken".to_string(),
                    (SkipReason::OnError, Some(m)) => format!("failed, set aside: {}", plain(m)),
                    (SkipReason::OnError, None) => "failed, set aside".to_string(),
                };
                let line = format!("{}↷ {} skipped ({why})", indent(path), self.name(path));
                self.step_ended(out, path, line)?;
            }
            EventKind::ToolCallStarted { call_id, title, .. } => {
                self.calls
                    .insert(call_id.clone(), plain(title).into_owned());
            }
            EventKind::ToolCallFinished {
                path,
                call_id,
                ok,
                preview,
                duration_ms,
                ..
            } => {
                // One line a call, when it has ended (a line per start would interleave with
                // parallel branches' text).
                self.end_line(out)?;
                let title = self.calls.remove(call_id).unwrap_or_default();
                let mark = if *ok { "⚙" } else { "⚠" };
                writeln!(
                    out,
                    "{}{mark} {title} … {}, {}",
                    indent(path),
                    plain(preview),
                    secs(*duration_ms)
                )?;
                self.at_line_start = true;
            }
            EventKind::ToolApprovalRequested { .. } => {}
            EventKind::ToolApprovalAnswered {
                path,
                call_id,
                answer,
            } => {
                self.end_line(out)?;
                let title = self.calls.get(call_id).cloned().unwrap_or_default();
                let said = match answer {
                    ApprovalAnswer::Deny => {
                        "not allowed (run with --allow-tools to let tools that ask first run)"
                    }
                    _ => "allowed",
                };
                writeln!(out, "{}? {title}: {said}", indent(path))?;
                self.at_line_start = true;
            }
            EventKind::StepReused { step, .. } => {
                self.names.insert(step.path.clone(), step.name.clone());
                self.end_line(out)?;
                writeln!(
                    out,
                    "{}↺ {}: reused from the earlier run",
                    indent(&step.path),
                    plain(&step.name)
                )?;
            }
            EventKind::ReviewRequested { path, .. } => {
                self.end_line(out)?;
                writeln!(
                    out,
                    "{}⏸ {} waits for your review",
                    indent(path),
                    self.name(path)
                )?;
                self.at_line_start = true;
            }
            EventKind::ReviewAnswered { path, answer } => {
                self.end_line(out)?;
                let said = match answer {
                    ReviewAnswer::Approve => "approved".to_string(),
                    ReviewAnswer::Edit { .. } => "edited and approved".to_string(),
                    ReviewAnswer::SendBack { note } => {
                        format!("sent back: “{}” — it runs again", plain(note))
                    }
                };
                writeln!(out, "{}✎ {}: {said}", indent(path), self.name(path))?;
                self.at_line_start = true;
            }
            EventKind::LoopRoundStarted {
                path,
                round,
                max_rounds,
            } => {
                self.end_line(out)?;
                writeln!(
                    out,
                    "{}↻ {} — round {round} of at most {max_rounds}",
                    indent(path),
                    self.name(path)
                )?;
            }
            EventKind::RouteChosen {
                path,
                route,
                reason,
            } => {
                self.end_line(out)?;
                writeln!(
                    out,
                    "{}→ {} chose “{}”: {}",
                    indent(path),
                    self.name(path),
                    plain(route),
                    plain(reason)
                )?;
            }
            EventKind::RunCompleted { duration_ms, .. } => {
                self.flush_held(out)?;
                self.end_line(out)?;
                writeln!(
                    out,
                    "\nCompleted in {}.{}",
                    secs(*duration_ms),
                    self.total()
                )?;
            }
            EventKind::RunCancelled {
                reason,
                running,
                duration_ms,
            } => self.run_cancelled(out, reason, running, duration_ms)?,
            EventKind::RunFailed {
                path,
                error,
                message,
                ..
            } => {
                self.flush_held(out)?;
                self.end_line(out)?;
                let message = plain(message);
                let at = path
                    .as_deref()
                    .map(|p| format!(" at {}", self.label(p)))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "\n✗ Failed{at}: {message}\n  {}{}",
                    error.advice().action,
                    self.total()
                )?;
            }
        }
        Ok(())
    }

    /// The run's first lines: its name, its steps' count, its input; what it continues.
    fn run_started(
        &mut self,
        out: &mut impl Write,
        workflow_name: &str,
        input: &str,
        steps: &[StepInfo],
        resumed_from: Option<&ResumedFrom>,
    ) -> io::Result<()> {
        for s in steps {
            self.names.insert(s.path.clone(), s.name.clone());
        }
        self.top = steps
            .iter()
            .filter(|s| s.parent.is_none())
            .map(|s| s.path.clone())
            .collect();
        let n = self.top.len();
        let plural = if n == 1 { "" } else { "s" };
        let (workflow_name, input) = (plain(workflow_name), plain(input));
        writeln!(out, "{workflow_name} · {n} step{plural} · input: {input}")?;
        if let Some(from) = resumed_from {
            writeln!(
                out,
                "Continues run {} from “{}”: the steps before it are reused.",
                from.run_id,
                self.name(&from.step)
            )?;
        }
        Ok(())
    }

    /// A step's heading: where it is in the run, its name, what runs it.
    fn step_started(&mut self, out: &mut impl Write, step: &StepInfo) -> io::Result<()> {
        self.names.insert(step.path.clone(), step.name.clone());
        self.end_line(out)?;
        let what = match step.kind {
            StepKindName::Agent | StepKindName::Router if step.model == "demo" => {
                "Demo model".to_string()
            }
            StepKindName::Agent => step.model.clone(),
            StepKindName::Router => format!("router · {}", step.model),
            // The kind in the words the editor uses ("At the same time", "Repeat" …).
            other => other.info().label.to_string(),
        };
        let round = step
            .round
            .map(|r| format!(" (round {r})"))
            .unwrap_or_default();
        let position = match self.top.iter().position(|p| *p == step.path) {
            Some(i) => format!("Step {} of {} · ", i + 1, self.top.len()),
            None => String::new(),
        };
        writeln!(
            out,
            "\n{}▶ {position}{}{round} · {what}",
            indent(&step.path),
            plain(&step.name)
        )?;
        self.at_line_start = true;
        Ok(())
    }

    /// The end of a cancelled run: during which steps, after how long, and that the text is kept.
    fn run_cancelled(
        &mut self,
        out: &mut impl Write,
        reason: &CancelReason,
        running: &[PartialStep],
        duration_ms: &u64,
    ) -> io::Result<()> {
        self.flush_held(out)?;
        self.end_line(out)?;
        let by = match reason {
            CancelReason::User => "Cancelled",
            CancelReason::AppExit => "Cancelled because Stepwise was closing",
        };
        // The innermost running steps are the ones doing the work.
        let working: Vec<String> = running
            .iter()
            .filter(|p| {
                !running
                    .iter()
                    .any(|q| stepwise_engine::snapshot::is_inside(&q.path, &p.path))
            })
            .map(|p| self.label(&p.path))
            .collect();
        let at = if working.is_empty() {
            String::new()
        } else {
            format!(" during {}", working.join(", "))
        };
        for p in running {
            self.count(p.usage);
        }
        writeln!(
            out,
            "\n■ {by}{at} after {}. The text so far is kept.{}",
            secs(*duration_ms),
            self.total()
        )?;
        Ok(())
    }

    /// Adds a step's usage to the run's, and says it for the step's last line.
    fn count(&mut self, usage: Option<Usage>) -> String {
        let Some(u) = usage else {
            return String::new();
        };
        self.usage = Some(self.usage.map_or(u, |t| t.plus(u)));
        format!(" · {}", u.describe())
    }

    /// The run's tokens and cost, for its last line.
    fn total(&self) -> String {
        self.usage
            .map(|u| format!("\n  Tokens and cost: {}.", u.describe()))
            .unwrap_or_default()
    }

    fn print(&mut self, out: &mut impl Write, text: &str) -> io::Result<()> {
        out.write_all(text.as_bytes())?;
        if !text.is_empty() {
            self.at_line_start = text.ends_with('\n');
        }
        Ok(())
    }

    fn held_mut(&mut self, path: &str) -> &mut Held {
        let at = match self.held.iter().position(|h| h.path == path) {
            Some(i) => i,
            None => {
                self.held.push(Held {
                    path: path.to_string(),
                    text: String::new(),
                    end: None,
                });
                self.held.len() - 1
            }
        };
        &mut self.held[at]
    }

    /// A step's last line: now if it is live (or wrote nothing held), else after its held text.
    /// When the live step ends, the held ones are shown in turn until one is still writing.
    fn step_ended(&mut self, out: &mut impl Write, path: &str, line: String) -> io::Result<()> {
        if self.live.as_deref() != Some(path) {
            if let Some(h) = self.held.iter_mut().find(|h| h.path == path) {
                h.end = Some(line);
                return Ok(());
            }
            self.end_line(out)?;
            return writeln!(out, "{line}");
        }
        self.end_line(out)?;
        writeln!(out, "{line}")?;
        self.live = None;
        while !self.held.is_empty() {
            let h = self.held.remove(0);
            writeln!(out, "┆ {}:", self.name(&h.path))?;
            self.print(out, &h.text)?;
            match h.end {
                Some(end) => {
                    self.end_line(out)?;
                    writeln!(out, "{end}")?;
                }
                None => {
                    self.live = Some(h.path);
                    break;
                }
            }
        }
        Ok(())
    }

    /// At the run's end: whatever is still held.
    fn flush_held(&mut self, out: &mut impl Write) -> io::Result<()> {
        for h in std::mem::take(&mut self.held) {
            self.end_line(out)?;
            writeln!(out, "┆ {}:", self.name(&h.path))?;
            self.print(out, &h.text)?;
            if let Some(end) = h.end {
                self.end_line(out)?;
                writeln!(out, "{end}")?;
            }
        }
        self.live = None;
        Ok(())
    }

    fn end_line(&mut self, out: &mut impl Write) -> io::Result<()> {
        if !self.at_line_start {
            writeln!(out)?;
            self.at_line_start = true;
        }
        Ok(())
    }

    /// "step 2 (Write)" for a top-level step, else its name.
    fn label(&self, path: &str) -> String {
        match self.top.iter().position(|p| p == path) {
            Some(i) => format!("step {} ({})", i + 1, self.name(path)),
            None => self.name(path).to_string(),
        }
    }

    fn name<'a>(&'a self, path: &'a str) -> &'a str {
        self.names.get(path).map(String::as_str).unwrap_or(path)
    }
}

struct Held {
    path: String,
    text: String,
    end: Option<String>,
}

/// Two spaces per level of the tree.
fn indent(path: &str) -> String {
    "  ".repeat(path.matches('/').count())
}

/// Model text (and anything a provider said) without terminal control characters: an escape
/// sequence in a model's answer must not recolour, retitle or rewrite the user's terminal.
/// Line breaks and tabs stay.
fn plain(text: &str) -> std::borrow::Cow<'_, str> {
    let control = |c: char| c.is_control() && c != '\n' && c != '\t';
    if text.chars().any(control) {
        text.chars()
            .filter(|c| !control(*c))
            .collect::<String>()
            .into()
    } else {
        text.into()
    }
}

fn secs(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stepwise_engine::event::PROTOCOL_VERSION;

    #[test]
    fn model_text_cannot_drive_the_terminal() {
        let mut view = HumanView::default();
        let mut out = Vec::new();
        let event = RunEvent {
            v: PROTOCOL_VERSION,
            run_id: uuid::Uuid::nil(),
            seq: 3,
            first_seq: None,
            ts_ms: 0,
            kind: EventKind::TextDelta {
                path: "write".into(),
                text: "ok\x1b]0;pwned\x07 \x1b[2J\r\u{9b}31mred\tcol\nnext\u{7f}".into(),
            },
        };
        view.write(&mut out, &event).unwrap();
        let shown = String::from_utf8(out).unwrap();
        assert_eq!(shown, "ok]0;pwned [2J31mred\tcol\nnext");
        assert!(
            !shown
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
        );
    }
}
