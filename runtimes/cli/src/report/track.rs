//! What the report draws under the equity: the traded symbol's price, the features the
//! portfolios computed for it and its regime, sampled along the run at most once per sampling
//! interval of market time.

use chimera_kernel::event::MarketEvent;
use chimera_kernel::features::{FeatureEngine, FeatureSpec, RegimeLabel};
use chimera_kernel::ids::Symbol;
use chimera_kernel::value::to_f64_fast;

/// The sampled series of one symbol.
#[derive(Debug, Clone, Default)]
pub(crate) struct MarketTrack {
    pub(crate) symbol: Option<Symbol>,
    /// (time, price).
    pub(crate) price: Vec<(i64, f64)>,
    /// The features' names, in column order.
    pub(crate) names: Vec<String>,
    /// One row per price sample: the features' values (`None` warming up).
    pub(crate) features: Vec<Vec<Option<f64>>>,
    /// The regime at each sample.
    pub(crate) regime: Vec<Option<RegimeLabel>>,
    sample_ms: i64,
    next: i64,
}

impl MarketTrack {
    /// A track of `symbol` sampled every `sample_ms` (at least every minute).
    pub(crate) fn new(symbol: Symbol, sample_ms: i64) -> Self {
        Self {
            symbol: Some(symbol),
            sample_ms: sample_ms.max(60_000),
            next: i64::MIN,
            ..Self::default()
        }
    }

    /// Samples after `event`, if it is of the symbol and a sample is due.
    pub(crate) fn observe(&mut self, event: &MarketEvent, features: &FeatureEngine) {
        if self.symbol.as_ref() != Some(event.symbol()) {
            return;
        }
        let ts = event.ts().0;
        if ts < self.next {
            return;
        }
        let Some(price) = event.mark_price().map(|p| to_f64_fast(p.get())) else {
            return;
        };
        self.next = ts.saturating_add(self.sample_ms);
        let set = self.symbol.as_ref().and_then(|s| features.set(s));
        if self.names.is_empty() {
            if let Some(set) = set {
                self.names = set.specs().iter().map(FeatureSpec::to_string).collect();
            }
        }
        self.price.push((ts, price));
        self.features.push(
            set.map(chimera_kernel::features::FeatureSet::values)
                .unwrap_or_default(),
        );
        self.regime.push(
            set.and_then(chimera_kernel::features::FeatureSet::regime)
                .filter(|r| r.valid_at(event.ts()))
                .map(|r| r.label),
        );
    }
}
