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
pub use registry::{
    boolean, build_strategy, positive_qty, positive_usize, Params, StrategyBuilder,
    StrategyConfigError, StrategyParams, StrategyRegistry,
};
pub use scripted::{Scripted, ScriptedOrder};

use crate::event::{ExecutionReport, MarketEvent};
use crate::ids::{ClientOrderId, Symbol, Tag};
use crate::instrument::Instrument;
use crate::order::{Order, OrderKind, Side, TimeInForce};
use crate::portfolio::Portfolio;
use crate::time::Timestamp;
use crate::value::{Price, Quantity, SignedQty};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A new order a strategy asks the engine for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    /// Instrument.
    pub symbol: Symbol,
    /// Direction.
    pub side: Side,
    /// Quantity (the engine rounds it down to the lot size).
    pub qty: Quantity,
    /// Order type.
    pub kind: OrderKind,
    /// Only reduce an existing position.
    pub reduce_only: bool,
    /// How long it works (GTC unless said).
    #[serde(default)]
    pub time_in_force: TimeInForce,
    /// Close the whole position, whatever its size when the order executes (`qty` is then
    /// ignored: the engine sends the projected position's size).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub close_position: bool,
    /// How to execute it, overriding the engine's default (market orders only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<Box<crate::execution::ExecSpec>>,
    /// Why, for reports (`entry`, `close`, `scripted`, ...).
    pub tag: Tag,
}

impl OrderRequest {
    /// A market order request.
    pub fn market(symbol: Symbol, side: Side, qty: Quantity, tag: impl Into<Tag>) -> Self {
        Self {
            symbol,
            side,
            qty,
            kind: OrderKind::Market,
            reduce_only: false,
            time_in_force: TimeInForce::Gtc,
            close_position: false,
            exec: None,
            tag: tag.into(),
        }
    }

    /// A request for an order of any `kind`.
    pub fn new(
        symbol: Symbol,
        side: Side,
        qty: Quantity,
        kind: OrderKind,
        tag: impl Into<Tag>,
    ) -> Self {
        Self {
            kind,
            ..Self::market(symbol, side, qty, tag)
        }
    }

    /// A request that closes the whole position on `symbol` with an order of `kind` on
    /// `side` (the side that reduces it).
    pub fn close_position(
        symbol: Symbol,
        side: Side,
        kind: OrderKind,
        tag: impl Into<Tag>,
    ) -> Self {
        Self {
            reduce_only: true,
            close_position: true,
            ..Self::new(symbol, side, Quantity::ZERO, kind, tag)
        }
    }

    /// The same request, reduce-only.
    #[must_use]
    pub fn reduce_only(mut self) -> Self {
        self.reduce_only = true;
        self
    }

    /// The same request executed by `spec` instead of the engine's default.
    #[must_use]
    pub fn with_exec(mut self, spec: crate::execution::ExecSpec) -> Self {
        self.exec = Some(Box::new(spec));
        self
    }

    /// The same request with another time in force.
    #[must_use]
    pub fn with_time_in_force(mut self, time_in_force: TimeInForce) -> Self {
        self.time_in_force = time_in_force;
        self
    }

    /// A limit order request (`post_only`: refuse rather than take liquidity).
    pub fn limit(
        symbol: Symbol,
        side: Side,
        qty: Quantity,
        price: Price,
        post_only: bool,
        tag: impl Into<Tag>,
    ) -> Self {
        Self::new(
            symbol,
            side,
            qty,
            OrderKind::Limit { price, post_only },
            tag,
        )
    }
}

/// A strategy's statement about the market (a crossover, a breakout, a regime change), kept in
/// the decision record beside the orders it led to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signal {
    /// Instrument the signal is about.
    pub symbol: Symbol,
    /// What was seen (`cross_up`, `breakout`, ...).
    pub name: Tag,
    /// The direction it points to, if any.
    pub side: Option<Side>,
    /// A strength or level, if the strategy has one (exact decimal, serialised as a string).
    #[serde(default)]
    pub value: Option<Decimal>,
}

/// One thing a strategy asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Place an order.
    Submit(OrderRequest),
    /// Cancel one of the portfolio's working orders (idempotent: asking twice sends one cancel).
    Cancel {
        /// The order, as the engine named it (see [`StrategyContext::open_orders`]).
        client_order_id: ClientOrderId,
    },
    /// Change a working order's limit price or quantity in place (see
    /// [`crate::order::AmendRequest`] for what each venue allows).
    Amend {
        /// The order.
        client_order_id: ClientOrderId,
        /// The new limit price (`None`: unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        price: Option<crate::value::Price>,
        /// The new total quantity, including what executed (`None`: unchanged).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        qty: Option<Quantity>,
    },
    /// Cancel a working order and place another instead, in one request (see
    /// [`crate::order::CancelReplaceRequest`]).
    CancelReplace {
        /// The order to cancel.
        client_order_id: ClientOrderId,
        /// The order to place.
        replacement: OrderRequest,
        /// Whether the replacement is placed when the cancel fails.
        #[serde(default)]
        mode: crate::order::ReplaceMode,
    },
    /// Record a signal.
    Signal(Signal),
    /// Open (or add to) a position through the portfolio's decision pipeline (gates, rules,
    /// model, sizing, shared budgets): see [`crate::decision`].
    Enter(crate::decision::Entry),
    /// Ask a service something (a risk reservation, a model score); the answer, or a timeout
    /// after `timeout_ms`, comes back through [`Strategy::on_response`].
    Request {
        /// What to ask.
        kind: crate::request::RequestKind,
        /// How long to wait for the answer (engine time, ms).
        timeout_ms: i64,
    },
}

/// Where a strategy's callbacks put what they ask for. The engine takes the actions in order
/// after the callback returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    items: Vec<Action>,
}

impl Actions {
    /// Asks for a new order.
    pub fn submit(&mut self, request: OrderRequest) {
        self.items.push(Action::Submit(request));
    }

    /// Asks to cancel a working order.
    pub fn cancel(&mut self, client_order_id: ClientOrderId) {
        self.items.push(Action::Cancel { client_order_id });
    }

    /// Asks to change a working order's limit price and/or total quantity in place.
    pub fn amend(
        &mut self,
        client_order_id: ClientOrderId,
        price: Option<crate::value::Price>,
        qty: Option<Quantity>,
    ) {
        self.items.push(Action::Amend {
            client_order_id,
            price,
            qty,
        });
    }

    /// Asks to cancel a working order and place `replacement` instead, the replacement only
    /// if the cancel succeeds (Binance's `STOP_ON_FAILURE`).
    pub fn cancel_replace(&mut self, client_order_id: ClientOrderId, replacement: OrderRequest) {
        self.items.push(Action::CancelReplace {
            client_order_id,
            replacement,
            mode: crate::order::ReplaceMode::StopOnFailure,
        });
    }

    /// Asks to open (or add to) a position through the decision pipeline, which decides
    /// whether and how much, records why, and sends the order (tagged `entry`).
    pub fn enter(&mut self, entry: crate::decision::Entry) {
        self.items.push(Action::Enter(entry));
    }

    /// Records a signal.
    pub fn signal(&mut self, signal: Signal) {
        self.items.push(Action::Signal(signal));
    }

    /// Asks a service something, waiting at most `timeout_ms` (engine time) for the answer.
    pub fn request(&mut self, kind: crate::request::RequestKind, timeout_ms: i64) {
        self.items.push(Action::Request { kind, timeout_ms });
    }

    /// Nothing asked yet.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// What was asked so far, in order.
    pub fn as_slice(&self) -> &[Action] {
        &self.items
    }

    pub(crate) fn drain(&mut self) -> std::vec::Drain<'_, Action> {
        self.items.drain(..)
    }
}

/// Why a strategy refused its saved state (see [`Strategy::load_state`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{strategy} state rejected: {problem}")]
pub struct StrategyStateError {
    /// The strategy's name.
    pub strategy: String,
    /// What does not fit.
    pub problem: String,
}

impl StrategyStateError {
    /// An error for `strategy`.
    pub fn new(strategy: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            strategy: strategy.into(),
            problem: problem.into(),
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
    pub working: &'a BTreeMap<Symbol, SignedQty>,
    /// The portfolio's working orders, by client order id.
    pub orders: &'a BTreeMap<ClientOrderId, Order>,
    /// The features the strategy asked for ([`Strategy::features`]).
    pub features: &'a crate::features::FeatureView,
}

impl<'a> StrategyContext<'a> {
    /// Signed position quantity (0 when flat or unknown).
    pub fn position_qty(&self, symbol: &Symbol) -> SignedQty {
        self.portfolio
            .position(symbol)
            .map_or(SignedQty::ZERO, |p| p.qty)
    }

    /// Signed quantity of working orders.
    pub fn working_qty(&self, symbol: &Symbol) -> SignedQty {
        self.working.get(symbol).copied().unwrap_or(SignedQty::ZERO)
    }

    /// The position once every working order has filled. Strategies that decide on the
    /// position should use this, so an order in flight is not sent twice.
    pub fn projected_qty(&self, symbol: &Symbol) -> SignedQty {
        self.position_qty(symbol) + self.working_qty(symbol)
    }

    /// The portfolio's working orders (not yet filled, canceled, rejected or expired).
    pub fn open_orders(&self) -> impl Iterator<Item = &'a Order> {
        self.orders.values()
    }

    /// A feature's current value (`None` while it warms up, or when the strategy did not ask
    /// for it in [`Strategy::features`]).
    pub fn feature(&self, symbol: &Symbol, spec: &crate::features::FeatureSpec) -> Option<f64> {
        self.features.value(symbol, spec)
    }

    /// The instrument definition.
    pub fn instrument(&self, symbol: &Symbol) -> Option<&Instrument> {
        self.portfolio.instruments.get(symbol)
    }
}

/// Decision logic for one portfolio.
///
/// Every callback gets the read-only [`StrategyContext`] and an [`Actions`] buffer for what it
/// asks (orders, cancels, signals). Callbacks never fail: a strategy that cannot act simply
/// asks for nothing.
pub trait Strategy: Send {
    /// Short name, e.g. `ema-cross`.
    fn name(&self) -> &str;

    /// The features the strategy reads through [`StrategyContext::feature`]: asked once, when
    /// its portfolio joins a [`crate::engine::PortfolioSet`], which computes each feature once
    /// for every portfolio that asks for it. None by default.
    fn features(&self) -> Vec<(Symbol, crate::features::FeatureSpec)> {
        Vec::new()
    }

    /// Reacts to a market event of one of the portfolio's instruments.
    fn on_market(&mut self, event: &MarketEvent, ctx: &StrategyContext<'_>, out: &mut Actions);

    /// Told about every execution report the engine applied to one of the portfolio's orders
    /// (accepted, rejected, partially filled, filled, canceled, expired, cancel rejected), after
    /// accounting. Duplicated (replayed) reports are not told twice. `order` is the order as it
    /// stands after the report.
    fn on_report(
        &mut self,
        _report: &ExecutionReport,
        _order: &Order,
        _ctx: &StrategyContext<'_>,
        _out: &mut Actions,
    ) {
    }

    /// When the strategy wants to be called back without a market event.
    fn next_deadline(&self) -> Option<Timestamp> {
        None
    }

    /// Called once the deadline passed (`ctx.now` is the deadline, or later).
    fn on_timer(&mut self, _ctx: &StrategyContext<'_>, _out: &mut Actions) {}

    /// The answer to a request this strategy made ([`Actions::request`]), or
    /// [`crate::request::Outcome::TimedOut`] at its deadline. Told exactly once per request.
    fn on_response(
        &mut self,
        _request: &crate::request::Request,
        _outcome: &crate::request::Outcome,
        _ctx: &StrategyContext<'_>,
        _out: &mut Actions,
    ) {
    }

    /// Called once when the run stops (end of a backtest, a stop command): the last chance to
    /// cancel orders and close positions. After it the strategy is not called again and the
    /// engine refuses new orders.
    fn on_stop(&mut self, _ctx: &StrategyContext<'_>, _out: &mut Actions) {}

    /// The strategy's internal state (indicators, cursors) for an engine checkpoint, so a
    /// restarted node resumes exactly where it stopped instead of warming up again. `None`
    /// (the default) means the strategy keeps no state worth saving.
    fn save_state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Restores what [`Self::save_state`] produced.
    ///
    /// # Errors
    /// [`StrategyStateError`] saying what in `state` does not fit this strategy.
    fn load_state(&mut self, _state: &serde_json::Value) -> Result<(), StrategyStateError> {
        Ok(())
    }
}
