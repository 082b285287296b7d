//! [`PortfolioSet`]: the one portfolio loop. Engines, the interest map, the clock rule and due
//! timers, driven the same way by the backtest, the demo and each worker of a live node, so
//! timer-driven and order-dependent behaviour cannot differ between them.
//!
//! The rules:
//! - The set's time is the greatest time it has seen (market event times, report times, and
//!   whatever a runtime passes to [`PortfolioSet::advance`]); it never goes backwards.
//! - Before anything at time `t` is applied, every deadline due at `t` fires, in every engine,
//!   each at its own time. A runtime that has a venue beside it calls
//!   [`PortfolioSet::advance`]`(t)` before the venue sees the event at `t`, so orders placed
//!   by timers reach the venue before the market moves past them.
//! - A market event goes to the engines trading its symbol, in the order they were added; a
//!   report to its portfolio's engine; a control to one portfolio or to all.
//! - Outputs of all engines leave through [`PortfolioSet::poll_output`], in the order produced,
//!   each with the index of its portfolio.

use super::{Control, Input, InterestMap, Output, PortfolioEngine};
use crate::event::{ExecutionReport, MarketEvent};
use crate::ids::{FastMap, PortfolioId};
use crate::time::Timestamp;
use std::collections::VecDeque;

/// Several portfolios driven by one thread.
#[derive(Debug, Default)]
pub struct PortfolioSet {
    engines: Vec<PortfolioEngine>,
    index: FastMap<PortfolioId, usize>,
    interest: InterestMap<usize>,
    clock: Option<Timestamp>,
    outputs: VecDeque<(usize, Output)>,
    /// Every feature any strategy of the set reads, each computed once.
    features: crate::features::FeatureEngine,
}

impl PortfolioSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a portfolio's engine; returns its index. Its market data is whatever its
    /// instruments trade.
    pub fn add(&mut self, engine: PortfolioEngine) -> usize {
        let i = self.engines.len();
        for (symbol, spec) in engine.features().wanted() {
            self.features.require(symbol, spec);
        }
        self.interest.subscribe(engine.portfolio(), &i);
        self.index.insert(engine.portfolio().id.clone(), i);
        self.engines.push(engine);
        i
    }

    /// Lets time pass to `now`: fires every deadline due by then.
    pub fn advance(&mut self, now: Timestamp) {
        let now = self.tick(now);
        for i in 0..self.engines.len() {
            if self.engines[i].next_deadline().is_some_and(|d| d <= now) {
                self.feed(i, Input::Timer, now);
            }
        }
    }

    /// Applies a market event to the portfolios trading its symbol (after due deadlines).
    pub fn on_market(&mut self, event: &MarketEvent) {
        self.on_market_at(event, event.ts());
    }

    /// Applies a market event that reaches the portfolios at `at` (its own time plus the
    /// feed's latency), after the deadlines due by then.
    pub fn on_market_at(&mut self, event: &MarketEvent, at: Timestamp) {
        self.advance(at);
        let now = self.clock.unwrap_or(at);
        let update = self.features.on_event(event);
        for &i in self.interest.get(event.symbol()) {
            let engine = &mut self.engines[i];
            if let Some(update) = &update {
                engine.refresh_features(&self.features, event.symbol(), update);
            }
            engine.handle(Input::Market(event), now);
            drain(engine, i, &mut self.outputs);
        }
    }

    /// Applies an execution report to its portfolio's engine (after due deadlines). Returns
    /// `false` when no portfolio of this set owns it.
    pub fn on_report(&mut self, report: &ExecutionReport) -> bool {
        self.advance(report.ts);
        let Some(&i) = self.index.get(&report.portfolio_id) else {
            return false;
        };
        let now = self.clock.unwrap_or(report.ts);
        self.feed(i, Input::Execution(report), now);
        true
    }

    /// Feeds the answer to a request to the portfolio that made it, at the set's time (`now`
    /// when the set has none yet). Returns `false` when no portfolio of this set made it.
    pub fn on_response(&mut self, response: &super::Response, now: Timestamp) -> bool {
        let Some(&i) = self.index.get(&response.portfolio_id) else {
            return false;
        };
        let now = self.clock.map_or(now, |clock| clock.max(now));
        self.feed(i, Input::Response(response), now);
        true
    }

    /// Applies a control to one portfolio (`Some`) or to all (`None`), at the set's time.
    /// Returns how many portfolios it reached.
    pub fn control(&mut self, portfolio: Option<&PortfolioId>, control: &Control) -> usize {
        let now = self.clock.unwrap_or(Timestamp(0));
        let targets: Vec<usize> = match portfolio {
            Some(id) => self.index.get(id).copied().into_iter().collect(),
            None => (0..self.engines.len()).collect(),
        };
        for &i in &targets {
            self.feed(i, Input::Control(control), now);
        }
        targets.len()
    }

    /// Turns every engine's rehearsals on or off
    /// ([`PortfolioEngine::set_rehearsals`]).
    pub fn set_rehearsals(&mut self, enabled: bool) {
        for engine in &mut self.engines {
            engine.set_rehearsals(enabled);
        }
    }

    /// Ends the run: every strategy's stop hook, then no new orders.
    pub fn stop(&mut self) {
        self.control(None, &Control::Stop);
    }

    /// The next output of any engine, with its portfolio's index.
    pub fn poll_output(&mut self) -> Option<(usize, Output)> {
        self.outputs.pop_front()
    }

    /// Sets how features are computed (bar length, regime, data-quality limits). Call it
    /// before adding portfolios: features already asked for are kept, with the new settings.
    #[must_use]
    pub fn with_features(mut self, config: crate::features::FeaturesConfig) -> Self {
        let mut features = crate::features::FeatureEngine::new(config);
        for engine in &self.engines {
            for (symbol, spec) in engine.features().wanted() {
                features.require(symbol, spec);
            }
        }
        self.features = features;
        self
    }

    /// The features computed for the set's portfolios.
    pub fn features(&self) -> &crate::features::FeatureEngine {
        &self.features
    }

    /// The features' state for a checkpoint (see [`crate::features::FeatureEngine::save`]).
    ///
    /// # Errors
    /// When a value cannot be written.
    pub fn save_features(&self) -> Result<serde_json::Value, serde_json::Error> {
        self.features.save()
    }

    /// Restores the features' state from a checkpoint, so indicators, the regime and the
    /// data-quality state go on where they were instead of warming up again. Each engine's
    /// view is refreshed with the next market event of its symbols.
    ///
    /// # Errors
    /// When `state` is not a feature engine's state (the features then stay as they were).
    pub fn restore_features(&mut self, state: &serde_json::Value) -> Result<(), serde_json::Error> {
        self.features.restore(state)
    }

    /// The earliest deadline of any engine.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.engines
            .iter()
            .filter_map(PortfolioEngine::next_deadline)
            .min()
    }

    /// The set's time (none before the first input).
    pub fn clock(&self) -> Option<Timestamp> {
        self.clock
    }

    /// The engines, by index.
    pub fn engines(&self) -> &[PortfolioEngine] {
        &self.engines
    }

    /// One engine.
    pub fn engine(&self, i: usize) -> &PortfolioEngine {
        &self.engines[i]
    }

    /// The indexes of the portfolios trading `symbol`.
    pub fn interested(&self, symbol: &crate::ids::Symbol) -> &[usize] {
        self.interest.get(symbol)
    }

    /// The index of a portfolio.
    pub fn index_of(&self, id: &PortfolioId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Number of portfolios.
    pub fn len(&self) -> usize {
        self.engines.len()
    }

    /// No portfolio.
    pub fn is_empty(&self) -> bool {
        self.engines.is_empty()
    }

    /// Takes the engines back (e.g. to checkpoint or report on them).
    pub fn into_engines(self) -> Vec<PortfolioEngine> {
        self.engines
    }

    fn tick(&mut self, now: Timestamp) -> Timestamp {
        let now = self.clock.map_or(now, |c| c.max(now));
        self.clock = Some(now);
        now
    }

    fn feed(&mut self, i: usize, input: Input<'_>, now: Timestamp) {
        let engine = &mut self.engines[i];
        engine.handle(input, now);
        drain(engine, i, &mut self.outputs);
    }
}

fn drain(engine: &mut PortfolioEngine, i: usize, outputs: &mut VecDeque<(usize, Output)>) {
    while let Some(output) = engine.poll_output() {
        outputs.push_back((i, output));
    }
}
