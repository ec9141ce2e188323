//! Tokens and what they cost (ARCHITECTURE.md §10).
//!
//! Providers report a step's tokens at the end of its stream. A stream cut short — a cancel, a
//! timeout, a dropped connection — never gets there (OpenAI sends usage in its last chunk), so
//! the missing counts are estimated here (`estimate.rs`) and marked as estimated. Cost comes
//! from the price table (`prices.rs`): defaults shipped in `engine/prices.toml`, edited in
//! Settings.

mod estimate;
mod prices;

pub use estimate::{Counter, count_tokens, prepare};
pub use prices::{DEFAULT_PRICES_DATE, Price, PriceEntry, PriceTable};

use serde::{Deserialize, Serialize};

/// A step's tokens, as its provider reported them, and what they cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Usage {
    pub input_tokens: Option<u32>,
    pub output_tokens: Option<u32>,
    /// Some count is Stepwise's estimate, not the provider's: the stream was cut short (a
    /// cancel, a timeout, a dropped connection) before the provider said, or it never says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub estimated: bool,
    /// What the tokens cost in US dollars, at the prices in force when the step ended; absent
    /// when the model has no price (Settings → Prices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

/// A token count from outside (a provider's answer) as a `u32`: a count too large for one is
/// taken as the largest, never wrapped round to a small one.
pub fn saturating_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Usage {
    /// Both counts added (a count missing on both sides stays missing); estimated if either was;
    /// the cost is the sum of the costs known (one side's alone when only it has a price, none
    /// when neither has): a model with no price adds nothing, it does not erase the others.
    pub fn plus(self, more: Usage) -> Usage {
        let sum = |a: Option<u32>, b: Option<u32>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
        };
        Usage {
            input_tokens: sum(self.input_tokens, more.input_tokens),
            output_tokens: sum(self.output_tokens, more.output_tokens),
            estimated: self.estimated || more.estimated,
            cost_usd: match (self.cost_usd, more.cost_usd) {
                (Some(a), Some(b)) => Some(a + b),
                (a, None) => a,
                (None, b) => b,
            },
        }
    }

    /// The sum of many (`None` when there is nothing to add).
    pub fn total(all: impl IntoIterator<Item = Usage>) -> Option<Usage> {
        all.into_iter().reduce(Usage::plus)
    }

    /// For a person: `≈ 1,234 in · 56 out · $0.0012` (`≈` when a count is an estimate).
    pub fn describe(&self) -> String {
        let count = |n: Option<u32>| n.map_or_else(|| "?".to_string(), thousands);
        let mut s = format!(
            "{}{} in · {} out",
            if self.estimated { "≈ " } else { "" },
            count(self.input_tokens),
            count(self.output_tokens)
        );
        s.push_str(" · ");
        s.push_str(
            &self
                .cost_usd
                .map_or_else(|| "no price".to_string(), dollars),
        );
        s
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A cost for a person: `free`, `$0.0012` (small sums keep two significant digits), `$1.23`.
pub fn dollars(usd: f64) -> String {
    if usd <= 0.0 {
        "free".to_string()
    } else if usd >= 0.995 {
        format!("${usd:.2}")
    } else {
        // Two significant digits, at least two decimals.
        let decimals = (2 - usd.log10().floor() as i32 - 1).clamp(2, 8) as usize;
        format!("${usd:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_keep_what_is_known_and_mark_estimates() {
        let a = Usage {
            input_tokens: Some(10),
            output_tokens: None,
            estimated: false,
            cost_usd: Some(0.5),
        };
        let b = Usage {
            input_tokens: Some(5),
            output_tokens: Some(7),
            estimated: true,
            cost_usd: None,
        };
        let s = a.plus(b);
        assert_eq!(s.input_tokens, Some(15));
        assert_eq!(s.output_tokens, Some(7));
        assert!(s.estimated);
        assert_eq!(s.cost_usd, Some(0.5));
        assert_eq!(Usage::total([]), None);
    }

    #[test]
    fn described_for_people() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(dollars(0.0), "free");
        assert_eq!(dollars(0.001234), "$0.0012");
        assert_eq!(dollars(0.05), "$0.050");
        assert_eq!(dollars(0.5), "$0.50");
        assert_eq!(dollars(12.345), "$12.35");
        let u = Usage {
            input_tokens: Some(1234),
            output_tokens: Some(56),
            estimated: true,
            cost_usd: None,
        };
        assert_eq!(u.describe(), "≈ 1,234 in · 56 out · no price");
    }
}
