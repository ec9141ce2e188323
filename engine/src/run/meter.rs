//! Each step's tokens, kept where a cancel can still find them.
//!
//! A step's model calls report their usage at the end of their streams. A cancel or a timeout
//! drops the step's future mid-stream, and with it anything the step kept for itself; so every
//! call is noted here, beside the run's state, as it starts — its request (what the model read)
//! and where its text begins in the step's text. Whoever ends the step (its last event, or the
//! run's `RunCancelled`) settles it: what the provider reported, the rest estimated
//! (`usage::estimate`), priced with the run's table.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::event::Usage;
use crate::model_ref::ModelRef;
use crate::provider::ModelRequest;
use crate::provider::estimate_request;
use crate::usage::{PriceTable, count_tokens, prepare};

#[derive(Default)]
pub(crate) struct Meters {
    steps: Mutex<HashMap<String, StepMeter>>,
}

struct StepMeter {
    model: ModelRef,
    /// The calls that ended, summed (their reports, or estimates where they gave none).
    done: Option<Usage>,
    /// The call under way, if one is.
    open: Option<OpenCall>,
}

struct OpenCall {
    request: ModelRequest,
    /// Where this call's text begins in the step's text (bytes).
    text_from: usize,
    reported: Usage,
}

impl OpenCall {
    /// What the call used: the reported counts, and an estimate of those it did not report.
    fn usage(self, step_text: &str) -> Usage {
        let mut u = self.reported;
        if u.input_tokens.is_none() {
            u.input_tokens = Some(estimate_request(&self.request));
            u.estimated = true;
        }
        if u.output_tokens.is_none() {
            let text = step_text.get(self.text_from..).unwrap_or("");
            u.output_tokens = Some(count_tokens(&self.request.model, text));
            u.estimated = true;
        }
        u
    }
}

impl Meters {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, StepMeter>> {
        self.steps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A model call of the step at `path` begins; its text starts at byte `text_from` of the
    /// step's text. (A retry replaces the attempt that failed before writing anything.)
    pub fn call_started(&self, path: &str, request: &ModelRequest, text_from: usize) {
        prepare(&request.model);
        let mut steps = self.lock();
        let meter = steps.entry(path.to_string()).or_insert_with(|| StepMeter {
            model: request.model.clone(),
            done: None,
            open: None,
        });
        meter.model = request.model.clone();
        meter.open = Some(OpenCall {
            request: request.clone(),
            text_from,
            reported: Usage::default(),
        });
    }

    /// The provider reported counts for the call under way (Anthropic sends the input's first).
    pub fn reported(&self, path: &str, usage: Usage) {
        if let Some(open) = self.lock().get_mut(path).and_then(|m| m.open.as_mut()) {
            let r = &mut open.reported;
            r.input_tokens = usage.input_tokens.or(r.input_tokens);
            r.output_tokens = usage.output_tokens.or(r.output_tokens);
        }
    }

    /// The call under way ended whole; `step_text` is the step's text now.
    pub fn call_finished(&self, path: &str, step_text: &str) {
        let mut steps = self.lock();
        if let Some(meter) = steps.get_mut(path)
            && let Some(open) = meter.open.take()
        {
            let used = open.usage(step_text);
            meter.done = Some(meter.done.map_or(used, |d| d.plus(used)));
        }
    }

    /// The call under way failed before it wrote anything: it counts nothing.
    pub fn call_failed(&self, path: &str) {
        if let Some(meter) = self.lock().get_mut(path) {
            meter.open = None;
        }
    }

    /// Ends the step's metering: every call it made, the one cut short estimated from
    /// `step_text`, priced. `None` for a step that called no model.
    pub fn settle(&self, path: &str, step_text: &str, prices: &PriceTable) -> Option<Usage> {
        let meter = self.lock().remove(path)?;
        let cut_short = meter.open.map(|open| open.usage(step_text));
        let used = match (meter.done, cut_short) {
            (Some(d), Some(c)) => d.plus(c),
            (d, c) => d.or(c)?,
        };
        Some(prices.priced(&meter.model, used))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> ModelRequest {
        ModelRequest::new(
            "openai:gpt-5-mini".parse().unwrap(),
            "Be brief.".into(),
            "Hi".into(),
        )
    }

    #[test]
    fn a_whole_call_keeps_the_providers_counts() {
        let m = Meters::default();
        m.call_started("a", &request(), 0);
        m.reported(
            "a",
            Usage {
                input_tokens: Some(11),
                output_tokens: Some(2),
                ..Usage::default()
            },
        );
        m.call_finished("a", "Hello there");
        let u = m
            .settle("a", "Hello there", &PriceTable::default())
            .unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.estimated),
            (Some(11), Some(2), false)
        );
        // 11 × $0.25 + 2 × $2 per million.
        assert!((u.cost_usd.unwrap() - 6.75e-6).abs() < 1e-12);
        assert_eq!(
            m.settle("a", "", &PriceTable::default()),
            None,
            "settled once"
        );
    }

    #[test]
    fn a_call_cut_short_is_estimated_from_its_own_text() {
        let m = Meters::default();
        m.call_started("a", &request(), 0);
        m.reported(
            "a",
            Usage {
                input_tokens: Some(20),
                output_tokens: Some(5),
                ..Usage::default()
            },
        );
        m.call_finished("a", "first round");
        // A second round, cut short after "Hello, world!".
        m.call_started("a", &request(), "first round".len());
        let u = m
            .settle("a", "first roundHello, world!", &PriceTable::default())
            .unwrap();
        assert!(u.estimated);
        assert_eq!(u.output_tokens, Some(5 + 4));
        assert_eq!(u.input_tokens, Some(20 + estimate_request(&request())));
    }

    #[test]
    fn anthropics_early_input_count_is_kept() {
        let m = Meters::default();
        m.call_started("a", &request(), 0);
        m.reported(
            "a",
            Usage {
                input_tokens: Some(30),
                ..Usage::default()
            },
        );
        let u = m
            .settle("a", "Hello, world!", &PriceTable::default())
            .unwrap();
        assert_eq!(
            (u.input_tokens, u.output_tokens, u.estimated),
            (Some(30), Some(4), true)
        );
    }
}
