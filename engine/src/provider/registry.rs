//! Which provider serves which model reference.

use std::collections::HashMap;
use std::sync::Arc;

use super::{DemoModel, Provider, ProviderError};
use crate::event::ErrorKind;
use crate::model_ref::{ModelRef, ProviderKind};

/// The providers an engine can use, by kind. The demo model is always there.
#[derive(Clone)]
pub struct Providers {
    by_kind: HashMap<ProviderKind, Arc<dyn Provider>>,
}

impl Providers {
    /// Only the offline demo model, at the given pace.
    pub fn demo(demo: DemoModel) -> Self {
        let mut by_kind: HashMap<ProviderKind, Arc<dyn Provider>> = HashMap::new();
        by_kind.insert(ProviderKind::Demo, Arc::new(demo));
        Providers { by_kind }
    }

    /// Adds or replaces the provider for one kind.
    pub fn with(mut self, kind: ProviderKind, provider: Arc<dyn Provider>) -> Self {
        self.by_kind.insert(kind, provider);
        self
    }

    /// The provider for a model, or an `invalid_config` error that says how to set it up.
    pub fn resolve(&self, model: &ModelRef) -> Result<Arc<dyn Provider>, ProviderError> {
        self.by_kind.get(&model.provider()).cloned().ok_or_else(|| {
            ProviderError::new(
                ErrorKind::InvalidConfig,
                format!(
                    "The {} provider is not set up, so `{model}` cannot run. Choose it in \
                     Settings, or use the demo model.",
                    model.provider().label()
                ),
            )
        })
    }
}

impl Default for Providers {
    fn default() -> Self {
        Providers::demo(DemoModel::default())
    }
}
