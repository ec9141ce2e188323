//! Why a run failed, said once: the kinds of failure and, for each, what a person is told and
//! what to do next. The window (through the generated bindings) and the command line read
//! [`FAILURES`]; nothing else words a failure kind.

use serde::{Deserialize, Serialize};

/// Why a run failed, coarse enough for the UI to say what to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Auth,
    RateLimit,
    Provider,
    Network,
    Timeout,
    InvalidConfig,
    /// A tool could not run at all (not a tool's answer the model was given).
    Tool,
    Internal,
}

/// A failure kind in a person's words.
#[derive(Clone, Copy, Debug, Serialize, specta::Type)]
pub struct FailureAdvice {
    pub kind: ErrorKind,
    /// What went wrong, as a heading ("The API key was not accepted").
    pub title: &'static str,
    /// What to do about it.
    pub action: &'static str,
    /// Whether Settings is where to fix it (the window offers a button).
    pub settings: bool,
}

/// Every failure kind's words.
pub const FAILURES: [FailureAdvice; 8] = [
    FailureAdvice {
        kind: ErrorKind::Auth,
        title: "The API key was not accepted",
        action: "Check the key in Settings, then try again.",
        settings: true,
    },
    FailureAdvice {
        kind: ErrorKind::RateLimit,
        title: "The provider is limiting requests",
        action: "Wait a little, then try again.",
        settings: false,
    },
    FailureAdvice {
        kind: ErrorKind::Provider,
        title: "The provider had a problem",
        action: "Try again in a moment.",
        settings: false,
    },
    FailureAdvice {
        kind: ErrorKind::Network,
        title: "The connection failed",
        action: "Check the connection and the provider's address in Settings, then try again.",
        settings: true,
    },
    FailureAdvice {
        kind: ErrorKind::Timeout,
        title: "The provider stopped answering",
        action: "Try again, or choose another model in Settings.",
        settings: true,
    },
    FailureAdvice {
        kind: ErrorKind::InvalidConfig,
        title: "The setup is not complete",
        action: "Fix the model or provider in Settings, then try again.",
        settings: true,
    },
    FailureAdvice {
        kind: ErrorKind::Tool,
        title: "A tool could not run",
        action: "Check the step's tools and their settings, then try again.",
        settings: true,
    },
    FailureAdvice {
        kind: ErrorKind::Internal,
        title: "Something went wrong inside Stepwise",
        action: "Try again; if it keeps happening, please report it.",
        settings: false,
    },
];

impl ErrorKind {
    /// Its words: every kind has a row (`every_kind_has_its_words` checks each is its own).
    pub fn advice(self) -> &'static FailureAdvice {
        let row = match self {
            ErrorKind::Auth => 0,
            ErrorKind::RateLimit => 1,
            ErrorKind::Provider => 2,
            ErrorKind::Network => 3,
            ErrorKind::Timeout => 4,
            ErrorKind::InvalidConfig => 5,
            ErrorKind::Tool => 6,
            ErrorKind::Internal => 7,
        };
        &FAILURES[row]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_words() {
        for row in &FAILURES {
            assert_eq!(row.kind.advice().kind, row.kind);
            assert!(row.title.len() > 5 && row.action.ends_with('.'));
        }
    }
}
