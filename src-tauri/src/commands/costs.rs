//! Prices (Settings → Prices) and what the history's runs cost (History's totals).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stepwise_engine::settings::price_problem;
use stepwise_engine::store::Spending;
use stepwise_engine::usage::{DEFAULT_PRICES_DATE, Price, PriceEntry};
use tauri::State;

use super::blocking;
use crate::error::AppError;
use crate::state::AppState;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct PricesView {
    /// When the shipped prices were taken (`2025-10-15`).
    pub defaults_dated: String,
    pub entries: Vec<PriceEntry>,
}

#[tauri::command]
#[specta::specta]
pub async fn get_prices(state: State<'_, Arc<AppState>>) -> Result<PricesView, AppError> {
    blocking(&state, |s| Ok(prices_view(s))).await
}

fn prices_view(state: &AppState) -> PricesView {
    PricesView {
        defaults_dated: DEFAULT_PRICES_DATE.to_string(),
        entries: state.effective_settings().price_table().entries(),
    }
}

/// Sets a model's price (`None`: back to the shipped one, or no price for a model that has
/// none). Runs started from now on are costed with it; runs already made keep their cost.
#[tauri::command]
#[specta::specta]
pub async fn set_price(
    state: State<'_, Arc<AppState>>,
    model: String,
    price: Option<Price>,
) -> Result<PricesView, AppError> {
    blocking(&state, move |s| {
        let model = model.trim().to_ascii_lowercase();
        let mut settings = s.settings().clone();
        match price {
            Some(p) => {
                if let Some(problem) = price_problem(&model, &p) {
                    return Err(AppError::Settings(format!("Prices: {problem}.")));
                }
                settings.prices.insert(model, p);
            }
            None => {
                settings.prices.remove(&model);
            }
        }
        s.save_settings(settings)?;
        Ok(prices_view(s))
    })
    .await
}

/// What the runs begun since each moment used and cost: the window asks for its person's
/// "today" and "this month" (local midnights, which only it knows).
#[tauri::command]
#[specta::specta]
pub async fn spending(
    state: State<'_, Arc<AppState>>,
    since_ms: Vec<f64>,
) -> Result<Vec<Spending>, AppError> {
    blocking(&state, move |s| {
        let Some(store) = &s.store else {
            return Ok(Vec::new());
        };
        since_ms
            .into_iter()
            .map(|t| store.spending(t.max(0.0) as u64).map_err(AppError::from))
            .collect()
    })
    .await
}
