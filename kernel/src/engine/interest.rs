//! [`InterestMap`]: which portfolios want a symbol's market data. One type for every runtime:
//! the [`super::PortfolioSet`] keys it to its engines, the node's router to its portfolios'
//! queues.

use crate::ids::{FastMap, Symbol};
use crate::portfolio::Portfolio;

/// Symbol → the targets (engines, queues) of the portfolios trading it, in the order they were
/// added (so fan-out order, and with it every run, is deterministic).
#[derive(Debug, Clone)]
pub struct InterestMap<T> {
    by_symbol: FastMap<Symbol, Vec<T>>,
}

impl<T> Default for InterestMap<T> {
    fn default() -> Self {
        Self {
            by_symbol: FastMap::default(),
        }
    }
}

impl<T: Clone> InterestMap<T> {
    /// Adds `target` for every instrument of `portfolio`.
    pub fn subscribe(&mut self, portfolio: &Portfolio, target: &T) {
        for symbol in portfolio.instruments.keys() {
            self.by_symbol
                .entry(symbol.clone())
                .or_default()
                .push(target.clone());
        }
    }
}

impl<T> InterestMap<T> {
    /// Keeps only the targets `keep` accepts (a portfolio leaving a node); symbols left with
    /// none are forgotten.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.by_symbol.retain(|_, targets| {
            targets.retain(&mut keep);
            !targets.is_empty()
        });
    }

    /// The targets interested in `symbol` (empty when none).
    pub fn get(&self, symbol: &Symbol) -> &[T] {
        self.by_symbol.get(symbol).map_or(&[], Vec::as_slice)
    }

    /// Symbols with at least one target.
    pub fn symbols(&self) -> impl Iterator<Item = &Symbol> {
        self.by_symbol.keys()
    }
}
