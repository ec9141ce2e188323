//! The kinds of step as people and files meet them: their names, the fields each uses, their
//! words. Plain data, below everything else in `workflow/`; the window gets [`STEP_KINDS`]
//! through the generated bindings.

use serde::{Deserialize, Serialize};

/// The kinds of step, as files and events name them.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type,
)]
#[serde(rename_all = "snake_case")]
pub enum StepKindName {
    #[default]
    Agent,
    Parallel,
    Loop,
    Condition,
    Router,
    Group,
    Tool,
}

/// The fields a step may have beyond those every step has (`id`, `name`, `kind`,
/// `timeout_secs`, `on_error`, `review`), as files name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum StepField {
    Instructions,
    Model,
    Retries,
    Tools,
    MaxToolRounds,
    Tool,
    Arguments,
    If,
    Then,
    Else,
    Until,
    MaxIterations,
    Steps,
    Routes,
}

/// One kind of step, as people meet it.
#[derive(Clone, Copy, Debug, Serialize, specta::Type)]
pub struct StepKindInfo {
    pub kind: StepKindName,
    /// In the editor's list of kinds ("At the same time").
    pub label: &'static str,
    /// What it does, in a person's words.
    pub hint: &'static str,
    /// Beside a running step of this kind in the stepper ("Repeats"); empty for a plain agent.
    pub doing: &'static str,
    /// What one of the steps inside it is called in the editor ("branch", "step").
    pub child: &'static str,
    /// The fields it uses beyond every step's own; any other is refused.
    pub fields: &'static [StepField],
    /// Where "Put inside…" puts a step (`steps`, `then`); none: it cannot hold one that way.
    pub wraps_into: Option<StepField>,
    /// Whether it calls a model itself (and so may name one and retry its faults).
    pub calls_model: bool,
}

use StepField as F;

/// Every kind of step, in the order the editor offers them.
pub const STEP_KINDS: [StepKindInfo; 7] = [
    StepKindInfo {
        kind: StepKindName::Agent,
        label: "Agent",
        hint: "A model follows instructions.",
        doing: "",
        child: "step",
        fields: &[
            F::Instructions,
            F::Model,
            F::Retries,
            F::Tools,
            F::MaxToolRounds,
        ],
        wraps_into: None,
        calls_model: true,
    },
    StepKindInfo {
        kind: StepKindName::Parallel,
        label: "At the same time",
        hint: "Its branches run side by side.",
        doing: "At the same time",
        child: "branch",
        fields: &[F::Steps],
        wraps_into: Some(F::Steps),
        calls_model: false,
    },
    StepKindInfo {
        kind: StepKindName::Loop,
        label: "Repeat",
        hint: "Its steps run in rounds until a test holds.",
        doing: "Repeats",
        child: "step",
        fields: &[F::Steps, F::Until, F::MaxIterations],
        wraps_into: Some(F::Steps),
        calls_model: false,
    },
    StepKindInfo {
        kind: StepKindName::Condition,
        label: "If / otherwise",
        hint: "Runs one set of steps or the other, by a test.",
        doing: "Checks",
        child: "step",
        fields: &[F::If, F::Then, F::Else],
        wraps_into: Some(F::Then),
        calls_model: false,
    },
    StepKindInfo {
        kind: StepKindName::Router,
        label: "Choose a route",
        hint: "A model picks one of the routes for the input.",
        doing: "Chooses a route",
        child: "step",
        fields: &[F::Instructions, F::Model, F::Retries, F::Routes],
        wraps_into: None,
        calls_model: true,
    },
    StepKindInfo {
        kind: StepKindName::Group,
        label: "Group",
        hint: "A named sequence of steps.",
        doing: "Group",
        child: "step",
        fields: &[F::Steps],
        wraps_into: Some(F::Steps),
        calls_model: false,
    },
    StepKindInfo {
        kind: StepKindName::Tool,
        label: "Use a tool",
        hint: "Runs one tool (read a page, call an MCP tool) with no model.",
        doing: "Uses a tool",
        child: "step",
        fields: &[F::Tool, F::Arguments],
        wraps_into: None,
        calls_model: false,
    },
];

impl StepKindName {
    pub const ALL: [StepKindName; 7] = {
        let mut all = [StepKindName::Agent; 7];
        let mut i = 0;
        while i < STEP_KINDS.len() {
            all[i] = STEP_KINDS[i].kind;
            i += 1;
        }
        all
    };

    pub fn as_str(self) -> &'static str {
        match self {
            StepKindName::Agent => "agent",
            StepKindName::Parallel => "parallel",
            StepKindName::Loop => "loop",
            StepKindName::Condition => "condition",
            StepKindName::Router => "router",
            StepKindName::Group => "group",
            StepKindName::Tool => "tool",
        }
    }

    /// The kind's row of [`STEP_KINDS`].
    pub fn info(self) -> &'static StepKindInfo {
        &STEP_KINDS[self.row()]
    }

    /// Where its row is (`rows_cover_every_kind_once…` checks each is its own).
    const fn row(self) -> usize {
        match self {
            StepKindName::Agent => 0,
            StepKindName::Parallel => 1,
            StepKindName::Loop => 2,
            StepKindName::Condition => 3,
            StepKindName::Router => 4,
            StepKindName::Group => 5,
            StepKindName::Tool => 6,
        }
    }

    pub fn uses(self, field: StepField) -> bool {
        self.info().fields.contains(&field)
    }
}

impl StepField {
    pub fn as_str(self) -> &'static str {
        match self {
            F::Instructions => "instructions",
            F::Model => "model",
            F::Retries => "retries",
            F::Tools => "tools",
            F::MaxToolRounds => "max_tool_rounds",
            F::Tool => "tool",
            F::Arguments => "arguments",
            F::If => "if",
            F::Then => "then",
            F::Else => "else",
            F::Until => "until",
            F::MaxIterations => "max_iterations",
            F::Steps => "steps",
            F::Routes => "routes",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_cover_every_kind_once_and_agree_with_their_names() {
        for (i, row) in STEP_KINDS.iter().enumerate() {
            assert_eq!(row.kind.row(), i, "{:?} points at another row", row.kind);
        }
        for name in StepKindName::ALL {
            assert_eq!(name.info().kind, name);
            assert_eq!(serde_json::to_value(name).unwrap(), name.as_str());
        }
    }

    #[test]
    fn a_field_is_named_as_files_write_it() {
        for f in [F::MaxToolRounds, F::If, F::Else, F::Steps] {
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
    }
}
