//! Strategies: the open set of decision logic plugged into a portfolio engine.
//!
//! A [`Strategy`] sees market events together with a read-only [`StrategyContext`] (its
//! portfolio, its working orders, the time) and answers with [`OrderRequest`]s. It never talks
//! to a venue: the engine turns requests into order intents (ids, rounding, pre-trade checks)
//! and the runtime sends them. Indicators may compute in `f64` (IEEE-754, deterministic on a
//! given platform); anything that is money stays in exact decimals.

mod ema_cross;
mod registry;
mod scripted;

pub use ema_cross::{EmaCross, ExponentialMovingAverage};
pub use registry::{build_strategy, StrategyConfigError, StrategyParams, STRATEGY_NAMES};
pub use scripted::{Scripted, ScriptedOrder};

use crate::event::{Fill, MarketEvent};
use crate::ids::Symbol;
use crate::instrument::Instrument;
use crate::order::{OrderKind, Side};
use crate::portfolio::Portfolio;
use crate::time::Timestamp;
use crate::value::Quantity;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// What a strategy asks the engine to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// Instrument.
    pub symbol: Symbol,
    /// Direction.
    pub side: Side,
    /// Quantity (the engine rounds it down to the lot size).
    pub qty: Quantity,
    /// Market or limit.
    pub kind: OrderKind,
    /// Only reduce an existing position.
    pub reduce_only: bool,
    /// Why, for reports (`entry`, `close`, `scripted`, ...).
    pub tag: &'static str,
}

impl OrderRequest {
    /// A market order request.
    pub fn market(symbol: Symbol, side: Side, qty: Quantity, tag: &'static str) -> Self {
        Self {
            symbol,
            side,
            qty,
            kind: OrderKind::Market,
            reduce_only: false,
            tag,
        }
    }
}

/// The read-only view a strategy gets of its portfolio.
#[derive(Debug, Clone, Copy)]
pub struct StrategyContext<'a> {
    /// Current time.
    pub now: Timestamp,
    /// The portfolio's books.
    pub portfolio: &'a Portfolio,
    /// Signed quantity still working in open orders, per symbol.
    pub working: &'a BTreeMap<Symbol, Decimal>,
}

impl StrategyContext<'_> {
    /// Signed position quantity (0 when flat or unknown).
    pub fn position_qty(&self, symbol: &Symbol) -> Decimal {
        self.portfolio
            .position(symbol)
            .map_or(Decimal::ZERO, |p| p.qty)
    }

    /// Signed quantity of working orders.
    pub fn working_qty(&self, symbol: &Symbol) -> Decimal {
        self.working.get(symbol).copied().unwrap_or(Decimal::ZERO)
    }

    /// The position once every working order has filled. Strategies that decide on the
    /// position should use this, so an order in flight is not sent twice.
    pub fn projected_qty(&self, symbol: &Symbol) -> Decimal {
        self.position_qty(symbol) + self.working_qty(symbol)
    }

    /// The instrument definition.
    pub fn instrument(&self, symbol: &Symbol) -> Option<&Instrument> {
        self.portfolio.instruments.get(symbol)
    }
}

/// Decision logic for one portfolio.
pub trait Strategy: Send {
    /// Short name, e.g. `ema-cross`.
    fn name(&self) -> &str;

    /// Reacts to a market event; pushes any requests into `out`.
    fn on_market(
        &mut self,
        event: &MarketEvent,
        ctx: &StrategyContext<'_>,
        out: &mut Vec<OrderRequest>,
    );

    /// Told about each new fill of the portfolio's orders (after accounting).
    fn on_fill(&mut self, _symbol: &Symbol, _side: Side, _fill: &Fill, _ctx: &StrategyContext<'_>) {
    }

    /// When the strategy wants to be called back without a market event.
    fn next_deadline(&self) -> Option<Timestamp> {
        None
    }

    /// Called when the deadline passed.
    fn on_timer(&mut self, _ctx: &StrategyContext<'_>, _out: &mut Vec<OrderRequest>) {}

    /// The strategy's internal state (indicators, cursors) for an engine checkpoint, so a
    /// restarted node resumes exactly where it stopped instead of warming up again. `None`
    /// (the default) means the strategy keeps no state worth saving.
    fn save_state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Restores what [`Self::save_state`] produced.
    ///
    /// # Errors
    /// A description of what in `state` does not fit this strategy.
    fn load_state(&mut self, _state: &serde_json::Value) -> Result<(), String> {
        Ok(())
    }
}
