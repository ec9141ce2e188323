//! How an agent step's prompt is built from its instructions, the run's input and what came
//! before it (ARCHITECTURE.md §3). It sits below both `run` (which builds prompts) and `provider`
//! (whose demo model reads them back), so neither depends on the other for it.
//!
//! - Instructions that cite `{{input}}` or `{{steps.ID.output}}` get those filled in, and the
//!   model gets the run's input as the message.
//! - Otherwise the steps chain: the first step gets the input; a later one the original request
//!   and the previous step's output, so it still knows the question.

use crate::workflow::placeholders::{Placeholder, cited, render};

/// Opens the list of routes in a router's prompt (the demo model reads it back).
pub(crate) const ROUTES_HEAD: &str = "Routes:\n";

/// Heads of the message parts, which the demo model reads back (`sections`).
const ORIGINAL: &str = "Original request:\n";
const PREVIOUS: &str = "\n\nOutput of the previous step (";

/// Heads of a sent-back step's message (the demo model reads the note back: `review_note`).
const YOUR_ANSWER: &str = "\n\nYour previous answer:\n";
const NOTE: &str = "\n\nA person reviewed it and sent it back with this note:\n";
const AGAIN: &str = "\n\nWrite your answer again, following the note.";

/// What a person said when they sent a step's output back, and that output.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewNote {
    pub previous: String,
    pub note: String,
}

/// The message of a step that runs again after a review: its usual message, what it wrote last
/// time and the person's note.
pub(crate) fn with_note(user: String, note: &ReviewNote) -> String {
    format!(
        "{user}{YOUR_ANSWER}{}{NOTE}{}{AGAIN}",
        note.previous, note.note
    )
}

/// A sent-back message taken apart: the usual message and the note, if there is one.
pub(crate) fn review_note(user: &str) -> (&str, Option<&str>) {
    match (user.rfind(YOUR_ANSWER), user.rfind(NOTE)) {
        (Some(a), Some(n)) if a < n => {
            let note = &user[n + NOTE.len()..];
            (&user[..a], Some(note.strip_suffix(AGAIN).unwrap_or(note)))
        }
        _ => (user, None),
    }
}

/// The output of an earlier step, handed to the next one.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviousStep {
    pub name: String,
    pub output: String,
}

/// A step's prompt: the instructions (system) and the message (user).
pub(crate) struct Prompt {
    pub system: String,
    pub user: String,
}

pub(crate) fn build(
    instructions: &str,
    input: &str,
    previous: Option<&PreviousStep>,
    output_of: &dyn Fn(&str) -> String,
) -> Prompt {
    let placeholders = cited(instructions);
    if placeholders.is_empty() {
        return Prompt {
            system: instructions.to_string(),
            user: chained(input, previous),
        };
    }
    let system = render(instructions, |p| match p {
        Placeholder::Input => input.to_string(),
        Placeholder::StepOutput(id) => output_of(id),
    });
    Prompt {
        system,
        user: input.to_string(),
    }
}

/// The message of a step that cites nothing.
pub(crate) fn chained(input: &str, previous: Option<&PreviousStep>) -> String {
    match previous {
        None => input.to_string(),
        Some(p) => format!("{ORIGINAL}{input}{PREVIOUS}{}):\n{}", p.name, p.output),
    }
}

/// A chained message taken apart again: the original request and the previous output, if any.
pub(crate) fn sections(user: &str) -> (&str, Option<&str>) {
    let Some(rest) = user.strip_prefix(ORIGINAL) else {
        return (user, None);
    };
    match rest.find(PREVIOUS) {
        Some(at) => {
            let after = &rest[at + PREVIOUS.len()..];
            let output = after.split_once("):\n").map(|(_, o)| o);
            (&rest[..at], output)
        }
        None => (rest, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_added_and_read_back() {
        let note = ReviewNote {
            previous: "A draft.".into(),
            note: "Shorter, please.".into(),
        };
        let user = with_note(chained("tides", None), &note);
        assert_eq!(review_note(&user), ("tides", Some("Shorter, please.")));
        assert_eq!(review_note("tides"), ("tides", None));
    }

    #[test]
    fn chains_when_nothing_is_cited_and_reads_back() {
        let prev = PreviousStep {
            name: "Research".into(),
            output: "- a\n- b".into(),
        };
        let p = build("Write it up.", "tidal energy", Some(&prev), &|_| {
            String::new()
        });
        assert_eq!(p.system, "Write it up.");
        assert_eq!(sections(&p.user), ("tidal energy", Some("- a\n- b")));
        let first = build("List facts.", "tidal energy", None, &|_| String::new());
        assert_eq!(sections(&first.user), ("tidal energy", None));
    }

    #[test]
    fn fills_citations_and_drops_the_chain() {
        let prev = PreviousStep {
            name: "X".into(),
            output: "ignored".into(),
        };
        let p = build(
            "Compare:\n{{steps.a.output}}\nwith {{steps.b.output}}",
            "tidal energy",
            Some(&prev),
            &|id| format!("<{id}>"),
        );
        assert_eq!(p.system, "Compare:\n<a>\nwith <b>");
        assert_eq!(p.user, "tidal energy");
        let q = build("About {{input}}.", "bees", None, &|_| String::new());
        assert_eq!(
            (q.system.as_str(), q.user.as_str()),
            ("About bees.", "bees")
        );
    }
}
