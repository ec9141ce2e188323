//! What tokens cost: one table, per provider and model, in US dollars per million tokens.
//!
//! The defaults ship in `engine/prices.toml` (dated: prices change); the person's own prices
//! (Settings → Prices, `[prices]` in the settings file) win over them. A model served from this
//! computer costs nothing, and so does the demo model. A model with no price has no cost: the
//! window says so rather than guess.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::Usage;
use crate::model_ref::{ModelRef, ProviderKind};

/// Dollars per million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
}

impl Price {
    pub const FREE: Price = Price {
        input: 0.0,
        output: 0.0,
    };

    /// Whether it can price anything: no negative, infinite or NaN figure.
    pub fn is_valid(&self) -> bool {
        [self.input, self.output]
            .iter()
            .all(|p| p.is_finite() && *p >= 0.0)
    }
}

/// One row of the table as Settings shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PriceEntry {
    /// `openai:gpt-5-mini`.
    pub model: String,
    pub price: Price,
    /// The shipped default for this model, if there is one (a row the person added has none).
    pub default: Option<Price>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Shipped {
    updated: String,
    models: BTreeMap<String, Price>,
}

static SHIPPED: LazyLock<Shipped> = LazyLock::new(|| {
    toml::from_str(include_str!("../../prices.toml")).unwrap_or_else(|_| Shipped {
        // A test parses the file; a broken one never ships.
        updated: String::new(),
        models: BTreeMap::new(),
    })
});

/// The date the shipped prices were taken.
pub static DEFAULT_PRICES_DATE: LazyLock<&'static str> = LazyLock::new(|| &SHIPPED.updated);

/// The prices a run's steps are costed with.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceTable {
    models: BTreeMap<String, Price>,
    /// Providers whose address is on this computer: their models cost nothing.
    local: Vec<ProviderKind>,
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable::new(&BTreeMap::new(), Vec::new())
    }
}

impl PriceTable {
    /// The shipped prices, with `own` (the person's) over them.
    pub fn new(own: &BTreeMap<String, Price>, local: Vec<ProviderKind>) -> Self {
        let mut models = SHIPPED.models.clone();
        for (model, price) in own {
            models.insert(normalize(model), *price);
        }
        PriceTable { models, local }
    }

    /// Every row: the shipped ones and the person's, sorted by model.
    pub fn entries(&self) -> Vec<PriceEntry> {
        self.models
            .iter()
            .map(|(model, price)| PriceEntry {
                model: model.clone(),
                price: *price,
                default: SHIPPED.models.get(model).copied(),
            })
            .collect()
    }

    /// The price of a model: free on this computer; else its row, or the row of the longest
    /// name it starts with (`gpt-5-mini-2025-08-07` → `gpt-5-mini`).
    pub fn price_of(&self, model: &ModelRef) -> Option<Price> {
        if model.is_demo() || self.local.contains(&model.provider()) {
            return Some(Price::FREE);
        }
        let key = normalize(&model.to_string());
        if let Some(p) = self.models.get(&key) {
            return Some(*p);
        }
        self.models
            .iter()
            .filter(|(name, _)| {
                key.strip_prefix(name.as_str())
                    .is_some_and(|rest| rest.starts_with(['-', ':', '@', '.']))
            })
            .max_by_key(|(name, _)| name.len())
            .map(|(_, p)| *p)
    }

    /// `usage` with its cost at these prices (none when the model has no price, or a count is
    /// missing).
    pub fn priced(&self, model: &ModelRef, usage: Usage) -> Usage {
        let cost = self.price_of(model).and_then(|p| {
            let (i, o) = (usage.input_tokens?, usage.output_tokens?);
            Some((f64::from(i) * p.input + f64::from(o) * p.output) / 1_000_000.0)
        });
        Usage {
            cost_usd: cost,
            ..usage
        }
    }
}

fn normalize(model: &str) -> String {
    model.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> ModelRef {
        s.parse().unwrap()
    }

    fn usage(i: u32, o: u32) -> Usage {
        Usage {
            input_tokens: Some(i),
            output_tokens: Some(o),
            ..Usage::default()
        }
    }

    #[test]
    fn the_shipped_table_parses_and_is_dated() {
        assert!(SHIPPED.models.len() >= 10);
        assert!(SHIPPED.models.values().all(Price::is_valid));
        assert_eq!(DEFAULT_PRICES_DATE.len(), "2025-10-15".len());
    }

    #[test]
    fn dated_versions_take_the_longest_name_that_fits() {
        let t = PriceTable::default();
        assert_eq!(
            t.price_of(&m("openai:gpt-5-mini-2025-08-07"))
                .unwrap()
                .input,
            0.25
        );
        assert_eq!(t.price_of(&m("openai:gpt-5")).unwrap().input, 1.25);
        assert_eq!(t.price_of(&m("openai:gpt-4o-mini")).unwrap().output, 0.60);
        assert_eq!(
            t.price_of(&m("anthropic:claude-sonnet-4-5-20250929"))
                .unwrap()
                .output,
            15.0
        );
        assert_eq!(
            t.price_of(&m("openai:gpt-50")),
            None,
            "not a version of gpt-5"
        );
        assert_eq!(t.price_of(&m("openai:my-finetune")), None);
    }

    #[test]
    fn the_demo_and_this_computer_cost_nothing() {
        let t = PriceTable::new(&BTreeMap::new(), vec![ProviderKind::Ollama]);
        assert_eq!(t.price_of(&ModelRef::demo()), Some(Price::FREE));
        assert_eq!(t.price_of(&m("ollama:llama3.2")), Some(Price::FREE));
        assert_eq!(
            t.priced(&m("ollama:llama3.2"), usage(10, 10)).cost_usd,
            Some(0.0)
        );
    }

    #[test]
    fn the_persons_prices_win() {
        let own = BTreeMap::from([
            (
                "openai:gpt-5-mini".to_string(),
                Price {
                    input: 1.0,
                    output: 4.0,
                },
            ),
            (
                "OpenAI:My-Model".to_string(),
                Price {
                    input: 2.0,
                    output: 2.0,
                },
            ),
        ]);
        let t = PriceTable::new(&own, Vec::new());
        let cost = t
            .priced(&m("openai:gpt-5-mini"), usage(1_000_000, 500_000))
            .cost_usd;
        assert_eq!(cost, Some(1.0 + 2.0));
        assert_eq!(t.price_of(&m("openai:my-model")).unwrap().input, 2.0);
        let row = t
            .entries()
            .into_iter()
            .find(|e| e.model == "openai:gpt-5-mini")
            .unwrap();
        assert_eq!(row.default.unwrap().input, 0.25);
        assert_eq!(t.priced(&m("openai:nope"), usage(1, 1)).cost_usd, None);
    }
}
