//! Who runs a live run: every Stepwise process that drives runs is an *owner*. The history
//! records each owner with its control endpoint (`control/`), so any process on this computer can
//! follow, answer and cancel any live run by its id.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What kind of process owns a run, as a person would say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    /// The desktop app.
    App,
    /// A `stepwise run` in a terminal.
    Terminal,
    /// A detached `stepwise` process (`stepwise run --background`).
    Background,
    /// A worker of the Temporal cluster in the settings (§13); the history keeps a copy of the
    /// run as the app hears it (`store::Mirror`).
    Cluster,
}

impl OwnerKind {
    /// The word stored in the history.
    pub fn word(self) -> &'static str {
        match self {
            OwnerKind::App => "app",
            OwnerKind::Terminal => "terminal",
            OwnerKind::Background => "background",
            OwnerKind::Cluster => "cluster",
        }
    }

    pub fn from_word(word: &str) -> Option<OwnerKind> {
        [
            OwnerKind::App,
            OwnerKind::Terminal,
            OwnerKind::Background,
            OwnerKind::Cluster,
        ]
        .into_iter()
        .find(|k| k.word() == word)
    }

    /// Where the run was started, in words (the window and `stepwise runs` show it).
    pub fn words(self) -> &'static str {
        OWNER_KINDS
            .iter()
            .find(|o| o.kind == self)
            .map_or("", |o| o.words)
    }
}

/// A kind of owner as people are told of it; the window reads this table (`OWNER_KINDS` in its
/// bindings).
#[derive(Clone, Copy, Debug, Serialize, specta::Type)]
pub struct OwnerKindInfo {
    pub kind: OwnerKind,
    pub words: &'static str,
}

pub const OWNER_KINDS: &[OwnerKindInfo] = &[
    OwnerKindInfo {
        kind: OwnerKind::App,
        words: "started in the Stepwise window",
    },
    OwnerKindInfo {
        kind: OwnerKind::Terminal,
        words: "started from a terminal",
    },
    OwnerKindInfo {
        kind: OwnerKind::Background,
        words: "started in the background",
    },
    OwnerKindInfo {
        kind: OwnerKind::Cluster,
        words: "started on the cluster",
    },
];

/// A live owner as the history knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The id its runs carry in the history.
    pub id: String,
    pub kind: OwnerKind,
    /// Its control endpoint (a Unix socket).
    pub endpoint: PathBuf,
    pub pid: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_words_and_its_word() {
        for kind in [
            OwnerKind::App,
            OwnerKind::Terminal,
            OwnerKind::Background,
            OwnerKind::Cluster,
        ] {
            assert!(kind.words().starts_with("started "));
            assert_eq!(OwnerKind::from_word(kind.word()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.word());
        }
    }
}
