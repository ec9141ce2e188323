//! What the runs of a period used and cost, for History's "today" and "this month".

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::queries::summed_usage;
use super::{Store, StoreError};
use crate::event::Usage;

/// The runs begun since a moment: how many, and their steps' tokens and cost added up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Spending {
    /// Milliseconds since the Unix epoch: the period's start.
    #[specta(type = u32)]
    pub since_ms: u64,
    pub runs: u32,
    pub usage: Option<Usage>,
    /// Steps that used tokens of a model with no price: the cost leaves them out.
    pub unpriced_steps: u32,
}

impl Store {
    /// What the runs begun at or after `since_ms` used (a person's "today" or "this month"
    /// starts at their local midnight, which the caller knows).
    pub fn spending(&self, since_ms: u64) -> Result<Spending, StoreError> {
        let conn = self.reader();
        let since = i64::try_from(since_ms).unwrap_or(i64::MAX);
        conn.query_row(
            "SELECT (SELECT COUNT(*) FROM runs WHERE created_at_ms >= ?1),
                    SUM(s.input_tokens), SUM(s.output_tokens), MAX(s.tokens_estimated),
                    SUM(s.cost_usd),
                    COUNT(*) FILTER (WHERE s.cost_usd IS NULL)
             FROM steps s JOIN runs r ON r.id = s.run_id
             WHERE r.created_at_ms >= ?1
               AND (s.input_tokens IS NOT NULL OR s.output_tokens IS NOT NULL)",
            params![since],
            |r| {
                Ok(Spending {
                    since_ms,
                    runs: r.get(0)?,
                    usage: summed_usage(r, 1)?,
                    unpriced_steps: r.get(5)?,
                })
            },
        )
        .map_err(|e| self.sql(e))
    }
}
