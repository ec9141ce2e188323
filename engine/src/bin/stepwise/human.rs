//! The run as a person reads it in a terminal: each step announced, its text streaming, the outcome.

use std::io::{self, Write};

use stepwise_engine::{CancelReason, ErrorKind, EventKind, RunEvent};

#[derive(Default)]
pub struct HumanView {
    steps: Vec<String>,
    /// Whether the current step's text ended with a newline (to start the next line cleanly).
    at_line_start: bool,
}

impl HumanView {
    pub fn write(&mut self, out: &mut impl Write, event: &RunEvent) -> io::Result<()> {
        match &event.kind {
            EventKind::RunStarted {
                workflow_name,
                input,
                steps,
            } => {
                self.steps = steps.iter().map(|s| s.name.clone()).collect();
                let n = steps.len();
                let plural = if n == 1 { "" } else { "s" };
                let (workflow_name, input) = (plain(workflow_name), plain(input));
                writeln!(out, "{workflow_name} · {n} step{plural} · input: {input}")?;
            }
            EventKind::StepStarted {
                step_index,
                name,
                model,
            } => {
                let label = if model == "demo" {
                    "Demo model"
                } else {
                    model.as_str()
                };
                writeln!(
                    out,
                    "\n▶ Step {} of {} · {name} · {label}",
                    step_index + 1,
                    self.steps.len()
                )?;
                self.at_line_start = true;
            }
            EventKind::TextDelta { text, .. } => {
                let text = plain(text);
                out.write_all(text.as_bytes())?;
                if !text.is_empty() {
                    self.at_line_start = text.ends_with('\n');
                }
            }
            EventKind::StepCompleted {
                step_index,
                duration_ms,
                ..
            } => {
                self.end_line(out)?;
                writeln!(
                    out,
                    "✓ {} done in {}",
                    self.step_name(*step_index),
                    secs(*duration_ms)
                )?;
            }
            EventKind::RunCompleted { duration_ms, .. } => {
                writeln!(out, "\nCompleted in {}.", secs(*duration_ms))?;
            }
            EventKind::RunCancelled {
                reason,
                step_index,
                duration_ms,
                ..
            } => {
                self.end_line(out)?;
                let by = match reason {
                    CancelReason::User => "Cancelled",
                    CancelReason::AppExit => "Cancelled because Stepwise was closing",
                };
                let at = match step_index {
                    Some(i) => format!(" during step {} ({})", i + 1, self.step_name(*i)),
                    None => String::new(),
                };
                writeln!(
                    out,
                    "\n■ {by}{at} after {}. The text so far is kept.",
                    secs(*duration_ms)
                )?;
            }
            EventKind::RunFailed {
                step_index,
                error,
                message,
                ..
            } => {
                self.end_line(out)?;
                let message = plain(message);
                writeln!(
                    out,
                    "\n✗ Failed at step {} ({}): {message}\n  {}",
                    step_index + 1,
                    self.step_name(*step_index),
                    what_to_do(*error)
                )?;
            }
        }
        Ok(())
    }

    fn end_line(&mut self, out: &mut impl Write) -> io::Result<()> {
        if !self.at_line_start {
            writeln!(out)?;
            self.at_line_start = true;
        }
        Ok(())
    }

    fn step_name(&self, index: u32) -> &str {
        self.steps
            .get(index as usize)
            .map(String::as_str)
            .unwrap_or("?")
    }
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

/// The next step for a person, by kind of failure.
fn what_to_do(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Auth => {
            "Check the API key in Settings (or the provider's environment variable)."
        }
        ErrorKind::RateLimit => "The provider is limiting requests: wait a little, then run again.",
        ErrorKind::Provider => "The provider had a problem: try again in a moment.",
        ErrorKind::Network => "Check the connection and the provider's address, then run again.",
        ErrorKind::Timeout => "The provider stopped answering: try again, or pick another model.",
        ErrorKind::InvalidConfig => "Fix the workflow or the provider settings, then run again.",
        ErrorKind::Internal => "This is a bug in Stepwise: please report it with the run id.",
    }
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
                step_index: 0,
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
