//! What the steps of one run share: the input, the providers, the limits, and every finished
//! step's output by id (what `{{steps.ID.output}}` and `output("id")` read).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::Replay;
use crate::model_ref::ModelRef;
use crate::provider::Providers;
use crate::tool::{SeenAddresses, Tools};
use crate::usage::PriceTable;

/// What every step of one run shares.
pub(crate) struct RunContext {
    pub input: String,
    pub providers: Providers,
    pub tools: Tools,
    pub default_model: ModelRef,
    /// Bytes of text one step may write.
    pub max_step_output: usize,
    /// What the steps' tokens cost, as the prices stood when the run started.
    pub prices: PriceTable,
    /// The steps not to run again (a continued or revived run).
    pub replay: Replay,
    /// The web addresses the run was shown (its input, search results, pages it read), which
    /// `fetch_page` opens without asking.
    pub seen: SeenAddresses,
    /// The latest output of every step that has finished, by id (`{{steps.ID.output}}`).
    outputs: Mutex<HashMap<String, String>>,
}

impl RunContext {
    pub fn new(
        input: String,
        providers: Providers,
        tools: Tools,
        default_model: ModelRef,
        max_step_output: usize,
    ) -> Self {
        RunContext {
            seen: SeenAddresses::from_input(&input),
            input,
            providers,
            tools,
            default_model,
            max_step_output,
            prices: PriceTable::default(),
            replay: Replay::default(),
            outputs: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_prices(mut self, prices: PriceTable) -> Self {
        self.prices = prices;
        self
    }

    /// A run that does not run every step again: it starts with the saved outputs.
    pub fn with_replay(mut self, mut replay: Replay) -> Self {
        for (id, output) in replay.take_outputs() {
            self.record(&id, &output);
        }
        self.replay = replay;
        self
    }

    /// The latest output of the step with this id ("" if it has not run: validation makes sure
    /// a step only cites steps that finish before it, but a branch may not have been taken).
    pub fn output_of(&self, id: &str) -> String {
        self.outputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
            .unwrap_or_default()
    }

    pub(super) fn record(&self, id: &str, output: &str) {
        self.outputs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_string(), output.to_string());
    }
}
