//! The features of one symbol ([`FeatureSet`]) and of every symbol a node trades
//! ([`FeatureEngine`]): each feature is computed once per symbol, whatever the number of
//! portfolios that read it.

use super::bars::{BarBuilder, FBar};
use super::dqc::{DqcFlag, DqcLimits, DqcState};
use super::indicators::{Atr, Ema, RealizedVol, RollingCorrelation, Sma, TrueRange};
use super::micro::{depth_within, Top, TradeImbalance, Vwap};
use super::regime::{Regime, RegimeClassifier, RegimeConfig};
use super::spec::FeatureSpec;
use crate::event::{MarketEvent, OrderBook};
use crate::ids::Symbol;
use crate::order::Side;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How features are computed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    /// Length of the bars built from trades when the data has no bars of its own; also the
    /// bar length realised volatility is annualised for.
    pub bar_ms: i64,
    /// Periods per year for realised volatility; by default a year of bars of `bar_ms`
    /// (crypto trades every day: 365 days).
    pub periods_per_year: Option<f64>,
    /// Returns in the realised volatility the regime ranks.
    pub regime_window: usize,
    /// The regime's classification.
    pub regime: RegimeConfig,
    /// Data-quality limits.
    pub dqc: DqcLimits,
}

impl Default for FeaturesConfig {
    fn default() -> Self {
        Self {
            bar_ms: 60_000,
            periods_per_year: None,
            regime_window: 20,
            regime: RegimeConfig::default(),
            dqc: DqcLimits::default(),
        }
    }
}

impl FeaturesConfig {
    fn periods_per_year(&self) -> f64 {
        self.periods_per_year
            .unwrap_or(365.0 * 86_400_000.0 / self.bar_ms.max(1) as f64)
    }
}

/// What one market event did to a symbol's features.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureUpdate {
    /// The event's time.
    pub ts: Timestamp,
    /// Data-quality problems of this update (empty when none).
    pub flags: Vec<DqcFlag>,
    /// The bar this event completed (a bar of the data, or one built from trades).
    pub bar: Option<FBar>,
    /// A new regime evaluation, if one was due.
    pub regime: Option<Regime>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum State {
    Ema(Ema),
    Sma(Sma),
    TrueRange(TrueRange),
    Atr(Atr),
    RealizedVol(RealizedVol),
    /// Filled in by the engine (two symbols).
    Correlation(Option<f64>),
    Mid,
    SpreadBps,
    Depth(f64),
    Imbalance(TradeImbalance),
    Vwap(Vwap),
}

/// The features of one symbol.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct FeatureSet {
    symbol: Symbol,
    config: FeaturesConfig,
    specs: Vec<FeatureSpec>,
    states: Vec<State>,
    /// Not checkpointed (it can be large): rebuilt from the next snapshot after a restore.
    #[serde(skip)]
    book: OrderBook,
    /// A requested feature reads the local book.
    needs_book: bool,
    top: Top,
    bars: BarBuilder,
    has_bars: bool,
    dqc: DqcState,
    dq_atr: Atr,
    regime_vol: RealizedVol,
    regime: RegimeClassifier,
    prev_close: Option<f64>,
    last_return: Option<(Timestamp, f64)>,
}

impl FeatureSet {
    /// The features of `symbol`, none requested yet.
    pub fn new(symbol: Symbol, config: FeaturesConfig) -> Self {
        Self {
            symbol,
            config,
            specs: Vec::new(),
            states: Vec::new(),
            book: OrderBook::new(),
            needs_book: false,
            top: Top::default(),
            bars: BarBuilder::new(config.bar_ms),
            has_bars: false,
            dqc: DqcState::default(),
            dq_atr: Atr::new(14),
            regime_vol: RealizedVol::new(config.regime_window, config.periods_per_year()),
            regime: RegimeClassifier::new(config.regime),
            prev_close: None,
            last_return: None,
        }
    }

    /// The symbol.
    pub fn symbol(&self) -> &Symbol {
        &self.symbol
    }

    /// Adds `spec` (once: asking again changes nothing). A feature added late starts warming
    /// up then.
    pub fn require(&mut self, spec: &FeatureSpec) {
        if self.specs.contains(spec) {
            return;
        }
        let per_year = self.config.periods_per_year();
        let state = match spec {
            FeatureSpec::Ema(n) => State::Ema(Ema::new(*n)),
            FeatureSpec::Sma(n) => State::Sma(Sma::new(*n)),
            FeatureSpec::TrueRange => State::TrueRange(TrueRange::default()),
            FeatureSpec::Atr(n) => State::Atr(Atr::new(*n)),
            FeatureSpec::RealizedVol(n) => State::RealizedVol(RealizedVol::new(*n, per_year)),
            FeatureSpec::Correlation(..) => State::Correlation(None),
            FeatureSpec::Mid => State::Mid,
            FeatureSpec::SpreadBps => State::SpreadBps,
            FeatureSpec::Depth(bp) => State::Depth(*bp as f64),
            FeatureSpec::Imbalance(n) => State::Imbalance(TradeImbalance::new(*n)),
            FeatureSpec::Vwap(n) => State::Vwap(Vwap::new(*n)),
        };
        self.needs_book |= matches!(
            spec,
            FeatureSpec::Mid | FeatureSpec::SpreadBps | FeatureSpec::Depth(_)
        );
        self.specs.push(spec.clone());
        self.states.push(state);
    }

    /// The features requested, in the order they were.
    pub fn specs(&self) -> &[FeatureSpec] {
        &self.specs
    }

    /// The current value of `spec` (`None`: not requested, or warming up).
    pub fn value(&self, spec: &FeatureSpec) -> Option<f64> {
        let i = self.specs.iter().position(|s| s == spec)?;
        self.value_at(i)
    }

    fn value_at(&self, i: usize) -> Option<f64> {
        match &self.states[i] {
            State::Ema(x) => x.is_ready().then(|| x.value()),
            State::Sma(x) => x.value(),
            State::TrueRange(x) => x.value(),
            State::Atr(x) => x.value(),
            State::RealizedVol(x) => x.value(),
            State::Correlation(v) => *v,
            State::Mid => self.top.mid(),
            State::SpreadBps => self.top.spread_bps(),
            State::Depth(bp) => depth_within(&self.book, *bp),
            State::Imbalance(x) => x.value(),
            State::Vwap(x) => x.value(),
        }
    }

    /// Every requested feature's value, in [`Self::specs`] order.
    pub fn values(&self) -> Vec<Option<f64>> {
        (0..self.specs.len()).map(|i| self.value_at(i)).collect()
    }

    /// The latest regime evaluation.
    pub fn regime(&self) -> Option<Regime> {
        self.regime.current()
    }

    /// The return of the latest completed bar and the bar's start.
    pub fn last_return(&self) -> Option<(Timestamp, f64)> {
        self.last_return
    }

    fn set_correlation(&mut self, other: &Symbol, n: usize, value: Option<f64>) {
        for (spec, state) in self.specs.iter().zip(&mut self.states) {
            if matches!(spec, FeatureSpec::Correlation(s, m) if s == other && *m == n) {
                *state = State::Correlation(value);
            }
        }
    }

    /// Applies one event of this symbol.
    pub fn on_event(&mut self, event: &MarketEvent) -> FeatureUpdate {
        let ts = event.ts();
        let mut flags = Vec::new();
        let stale_after_ms = if matches!(event, MarketEvent::Bar(_)) {
            self.config
                .dqc
                .stale_after_ms
                .max(self.config.bar_ms.saturating_mul(2))
        } else {
            self.config.dqc.stale_after_ms
        };
        self.dqc.on_time(ts, stale_after_ms, &mut flags);
        let mut bar = None;
        match event {
            MarketEvent::Trade(t) => {
                let (price, qty) = (f(t.price.get()), f(t.qty.get()));
                self.dqc
                    .on_price(price, self.dq_atr.value(), &self.config.dqc, &mut flags);
                let signed = match t.aggressor {
                    Some(Side::Buy) => qty,
                    Some(Side::Sell) => -qty,
                    None => 0.0,
                };
                for state in &mut self.states {
                    match state {
                        State::Imbalance(x) => x.update(signed),
                        State::Vwap(x) if !self.has_bars => x.update(price, qty),
                        _ => {}
                    }
                }
                if !self.has_bars {
                    bar = self.bars.trade(ts, price, qty);
                }
            }
            MarketEvent::Quote(q) => {
                if !self.book.is_synced() {
                    self.top = Top {
                        bid: Some(f(q.bid.get())),
                        ask: Some(f(q.ask.get())),
                    };
                }
                DqcState::on_top(f(q.bid.get()), f(q.ask.get()), &mut flags);
            }
            // The local book is kept only when a feature reads it (mid, spread, depth); the
            // update sequence is checked either way.
            MarketEvent::BookSnapshot(s) if self.needs_book => {
                let _ = self.book.apply_snapshot(s);
                self.top_from_book(&mut flags);
            }
            MarketEvent::BookDelta(d) if self.needs_book => {
                if self.book.apply_delta(d).is_err() {
                    flags.push(DqcFlag::SequenceGap);
                }
                self.top_from_book(&mut flags);
            }
            MarketEvent::BookSnapshot(s) => self.dqc.on_snapshot(s.last_update_id),
            MarketEvent::BookDelta(d) => self.dqc.on_delta(d, &mut flags),
            MarketEvent::Bar(b) => {
                self.has_bars = true;
                let close = f(b.close.get());
                self.dqc
                    .on_price(close, self.dq_atr.value(), &self.config.dqc, &mut flags);
                bar = Some(FBar {
                    start: b.ts,
                    open: f(b.open.get()),
                    high: f(b.high.get()),
                    low: f(b.low.get()),
                    close,
                    volume: f(b.volume.get()),
                });
            }
            MarketEvent::MarkPrice(_) | MarketEvent::Funding(_) => {}
        }
        let regime = bar.and_then(|b| self.on_bar(&b));
        flags.sort_unstable();
        flags.dedup();
        FeatureUpdate {
            ts,
            flags,
            bar,
            regime,
        }
    }

    fn top_from_book(&mut self, flags: &mut Vec<DqcFlag>) {
        if !self.book.is_synced() {
            return;
        }
        let bid = self.book.best_bid().map(|l| f(l.price.get()));
        let ask = self.book.best_ask().map(|l| f(l.price.get()));
        if let (Some(b), Some(a)) = (bid, ask) {
            DqcState::on_top(b, a, flags);
        }
        self.top = Top { bid, ask };
    }

    fn on_bar(&mut self, bar: &FBar) -> Option<Regime> {
        for state in &mut self.states {
            match state {
                State::Ema(x) => {
                    x.update(bar.close);
                }
                State::Sma(x) => x.update(bar.close),
                State::TrueRange(x) => {
                    x.update(bar.high, bar.low, bar.close);
                }
                State::Atr(x) => x.update(bar.high, bar.low, bar.close),
                State::RealizedVol(x) => x.update(bar.close),
                State::Vwap(x) if self.has_bars => x.update(bar.close, bar.volume),
                _ => {}
            }
        }
        self.dq_atr.update(bar.high, bar.low, bar.close);
        if let Some(prev) = self.prev_close.filter(|p| *p != 0.0) {
            self.last_return = Some((bar.start, bar.close / prev - 1.0));
        }
        self.prev_close = Some(bar.close);
        self.regime_vol.update(bar.close);
        let vol = self.regime_vol.value()?;
        self.regime.update(vol, bar.start)
    }
}

fn f(d: rust_decimal::Decimal) -> f64 {
    crate::value::to_f64_fast(d)
}

/// Correlation between two symbols' bar returns.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Pair {
    a: Symbol,
    b: Symbol,
    n: usize,
    corr: RollingCorrelation,
    fed: Option<Timestamp>,
}

/// The features of every symbol of a node, each computed once and read by every portfolio.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct FeatureEngine {
    config: FeaturesConfig,
    sets: BTreeMap<Symbol, FeatureSet>,
    pairs: Vec<Pair>,
}

impl FeatureEngine {
    /// An engine computing nothing yet.
    pub fn new(config: FeaturesConfig) -> Self {
        Self {
            config,
            sets: BTreeMap::new(),
            pairs: Vec::new(),
        }
    }

    /// Asks for `spec` of `symbol` (a portfolio's requirement; the same feature asked by
    /// several portfolios is computed once).
    pub fn require(&mut self, symbol: &Symbol, spec: &FeatureSpec) {
        let config = self.config;
        self.sets
            .entry(symbol.clone())
            .or_insert_with(|| FeatureSet::new(symbol.clone(), config))
            .require(spec);
        if let FeatureSpec::Correlation(other, n) = spec {
            self.sets
                .entry(other.clone())
                .or_insert_with(|| FeatureSet::new(other.clone(), config));
            let known = self
                .pairs
                .iter()
                .any(|p| p.a == *symbol && p.b == *other && p.n == *n);
            if !known {
                self.pairs.push(Pair {
                    a: symbol.clone(),
                    b: other.clone(),
                    n: *n,
                    corr: RollingCorrelation::new(*n),
                    fed: None,
                });
            }
        }
    }

    /// Applies an event; `None` when no feature of its symbol is asked for.
    pub fn on_event(&mut self, event: &MarketEvent) -> Option<FeatureUpdate> {
        let symbol = event.symbol();
        let update = self.sets.get_mut(symbol)?.on_event(event);
        if update.bar.is_some() && !self.pairs.is_empty() {
            self.feed_pairs(symbol);
        }
        Some(update)
    }

    /// A bar of `symbol` completed: pairs whose other symbol has a return for the same bar
    /// take it (once per bar).
    fn feed_pairs(&mut self, symbol: &Symbol) {
        for pair in &mut self.pairs {
            if pair.a != *symbol && pair.b != *symbol {
                continue;
            }
            let ra = self.sets.get(&pair.a).and_then(FeatureSet::last_return);
            let rb = self.sets.get(&pair.b).and_then(FeatureSet::last_return);
            if let (Some((ta, a)), Some((tb, b))) = (ra, rb) {
                if ta == tb && pair.fed != Some(ta) {
                    pair.corr.update(a, b);
                    pair.fed = Some(ta);
                    let value = pair.corr.value();
                    if let Some(set) = self.sets.get_mut(&pair.a) {
                        set.set_correlation(&pair.b, pair.n, value);
                    }
                }
            }
        }
    }

    /// The features of `symbol`, if any are asked for.
    pub fn set(&self, symbol: &Symbol) -> Option<&FeatureSet> {
        self.sets.get(symbol)
    }

    /// The current value of `spec` of `symbol`.
    pub fn value(&self, symbol: &Symbol, spec: &FeatureSpec) -> Option<f64> {
        self.sets.get(symbol)?.value(spec)
    }

    /// No feature is asked for.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The engine's state for a checkpoint: every indicator, regime and data-quality state,
    /// not the local books (they resynchronise from the next snapshot).
    ///
    /// # Errors
    /// When a value cannot be written (a non-finite number in an indicator's state).
    pub fn save(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }

    /// Restores what [`Self::save`] wrote, then asks again for every feature `self` computes
    /// (so features added to the configuration since the checkpoint start warming up).
    ///
    /// # Errors
    /// When `state` is not a feature engine's state.
    pub fn restore(&mut self, state: &serde_json::Value) -> Result<(), serde_json::Error> {
        let mut restored: FeatureEngine = serde_json::from_value(state.clone())?;
        restored.config = self.config;
        for (symbol, set) in &self.sets {
            for spec in set.specs() {
                restored.require(symbol, spec);
            }
        }
        *self = restored;
        Ok(())
    }
}
