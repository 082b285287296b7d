//! What one portfolio sees of the node's features: a copy of the values its strategy asked
//! for ([`crate::strategy::Strategy::features`]), refreshed by the
//! [`crate::engine::PortfolioSet`] each time a market event reaches the portfolio, after the
//! set's [`super::FeatureEngine`] computed them once for every portfolio.
//!
//! The view is not part of the engine's snapshot: the node checkpoints the feature engine
//! itself ([`super::FeatureEngine::save`]), and the view is refreshed from it with the next
//! market event.

use super::{DqcFlag, FeatureEngine, FeatureSpec, FeatureUpdate, Regime};
use crate::ids::Symbol;
use std::collections::BTreeMap;

/// A portfolio's copy of the features it reads.
#[derive(Debug, Clone, Default)]
pub struct FeatureView {
    wanted: Vec<(Symbol, FeatureSpec)>,
    values: Vec<Option<f64>>,
    regimes: BTreeMap<Symbol, Regime>,
    flags: BTreeMap<Symbol, Vec<DqcFlag>>,
}

impl FeatureView {
    /// A view of `wanted`, all warming up.
    pub fn new(wanted: Vec<(Symbol, FeatureSpec)>) -> Self {
        let values = vec![None; wanted.len()];
        Self {
            wanted,
            values,
            regimes: BTreeMap::new(),
            flags: BTreeMap::new(),
        }
    }

    /// The features this view holds.
    pub fn wanted(&self) -> &[(Symbol, FeatureSpec)] {
        &self.wanted
    }

    /// The value of `spec` of `symbol` (`None`: not asked for, or warming up).
    pub fn value(&self, symbol: &Symbol, spec: &FeatureSpec) -> Option<f64> {
        let i = self
            .wanted
            .iter()
            .position(|(s, f)| s == symbol && f == spec)?;
        self.values[i]
    }

    /// The latest regime evaluation of `symbol` (check [`Regime::valid_at`]).
    pub fn regime(&self, symbol: &Symbol) -> Option<Regime> {
        self.regimes.get(symbol).copied()
    }

    /// The data-quality flags of `symbol`'s latest update (empty when clean).
    pub fn flags(&self, symbol: &Symbol) -> &[DqcFlag] {
        self.flags.get(symbol).map_or(&[], Vec::as_slice)
    }

    /// Copies the current values from `engine` after `update` of `symbol`.
    pub(crate) fn refresh(
        &mut self,
        engine: &FeatureEngine,
        symbol: &Symbol,
        update: &FeatureUpdate,
    ) {
        if self.wanted.is_empty() {
            return;
        }
        for ((s, spec), value) in self.wanted.iter().zip(&mut self.values) {
            *value = engine.value(s, spec);
        }
        if let Some(regime) = engine.set(symbol).and_then(super::FeatureSet::regime) {
            self.regimes.insert(symbol.clone(), regime);
        }
        self.flags.insert(symbol.clone(), update.flags.clone());
    }
}
