//! The per-portfolio engine: a synchronous state machine in the sans-I/O style.
//!
//! `handle(event, now)` takes one event and returns the [`Command`]s the runtime must perform
//! (submit an order intent, cancel an order). The engine never calls out: results come back as
//! execution-report events. [`PortfolioEngine::next_deadline`] tells the runtime when to deliver
//! an [`Event::Timer`]. Everything is deterministic: the same events at the same times produce
//! the same commands, with the same ids.
//!
//! Refusals are data: a strategy request the engine will not send becomes a [`Refusal`]; a
//! report that cannot be applied (unknown order, illegal transition) becomes an
//! [`EngineIssue`]. Neither panics nor stops the engine.

mod issues;
mod snapshot;

pub use issues::{EngineIssue, Refusal};
pub use snapshot::{EngineSnapshot, SnapshotError};

use crate::event::{Event, ExecutionReport, MarketEvent};
use crate::ids::{ClientOrderId, IntentId, Symbol};
use crate::order::{CancelRequest, Order, OrderIntent, OrderUpdate, TimeInForce};
use crate::portfolio::Portfolio;
use crate::strategy::{OrderRequest, Strategy, StrategyContext};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the runtime must do on the engine's behalf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Place an order.
    Submit(OrderIntent),
    /// Cancel a working order.
    Cancel(CancelRequest),
}

/// Counters for reports and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Events handled.
    pub events: u64,
    /// Intents emitted.
    pub orders: u64,
    /// Fills applied.
    pub fills: u64,
    /// Strategy requests refused.
    pub refusals: u64,
    /// Reports that could not be applied.
    pub issues: u64,
}

/// How many finished orders an engine remembers to recognise late reports for them.
pub const RECENTLY_FINISHED: usize = 256;

/// One portfolio, its strategy and its working orders.
pub struct PortfolioEngine {
    portfolio: Portfolio,
    strategy: Box<dyn Strategy>,
    open_orders: BTreeMap<ClientOrderId, Order>,
    working: BTreeMap<Symbol, Decimal>,
    finished: Vec<Order>,
    /// Client order ids of the last [`RECENTLY_FINISHED`] terminal orders, oldest first, so
    /// late or replayed reports for them are recognised as duplicates, not unknown orders.
    recently_finished: std::collections::VecDeque<ClientOrderId>,
    refusals: Vec<Refusal>,
    issues: Vec<EngineIssue>,
    next_seq: u64,
    requests: Vec<OrderRequest>,
    stats: EngineStats,
    /// Why trading is paused, when it is: requests are refused, the market is still followed.
    halted: Option<String>,
}

impl std::fmt::Debug for PortfolioEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortfolioEngine")
            .field("portfolio", &self.portfolio.id)
            .field("strategy", &self.strategy.name())
            .field("open_orders", &self.open_orders.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl PortfolioEngine {
    /// A fresh engine.
    pub fn new(portfolio: Portfolio, strategy: Box<dyn Strategy>) -> Self {
        Self::restore(portfolio, strategy, Vec::new(), 0)
    }

    /// An engine rebuilt from persisted state: the portfolio's books, its open orders and the
    /// next intent sequence number (so new intent ids never collide with old ones).
    pub fn restore(
        portfolio: Portfolio,
        strategy: Box<dyn Strategy>,
        open_orders: Vec<Order>,
        next_seq: u64,
    ) -> Self {
        let mut engine = Self {
            portfolio,
            strategy,
            open_orders: BTreeMap::new(),
            working: BTreeMap::new(),
            finished: Vec::new(),
            recently_finished: std::collections::VecDeque::new(),
            refusals: Vec::new(),
            issues: Vec::new(),
            next_seq,
            requests: Vec::new(),
            stats: EngineStats::default(),
            halted: None,
        };
        for order in open_orders.into_iter().filter(|o| !o.status.is_terminal()) {
            engine
                .open_orders
                .insert(order.intent.client_order_id.clone(), order);
        }
        engine.recompute_working();
        engine
    }

    /// Handles one event at time `now` and returns the commands to perform.
    pub fn handle(&mut self, event: &Event, now: Timestamp) -> Vec<Command> {
        let mut out = Vec::new();
        self.handle_into(event, now, &mut out);
        out
    }

    /// As [`Self::handle`], appending to a caller-owned buffer (no allocation per event).
    pub fn handle_into(&mut self, event: &Event, now: Timestamp, out: &mut Vec<Command>) {
        self.stats.events += 1;
        match event {
            Event::Market(market) => {
                self.stats.events -= 1;
                self.handle_market(market, now, out);
            }
            Event::Execution(report) => self.on_report(report, now),
            Event::Timer { .. } => {
                let mut requests = std::mem::take(&mut self.requests);
                let ctx = StrategyContext {
                    now,
                    portfolio: &self.portfolio,
                    working: &self.working,
                };
                self.strategy.on_timer(&ctx, &mut requests);
                self.emit(&mut requests, now, out);
                self.requests = requests;
            }
        }
    }

    /// When the engine wants an [`Event::Timer`].
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.strategy.next_deadline()
    }

    /// Asks to cancel every working order (e.g. on shutdown or a kill switch).
    pub fn cancel_all(&mut self, now: Timestamp) -> Vec<Command> {
        self.open_orders
            .values_mut()
            .filter(|o| !o.cancel_requested)
            .map(|o| {
                o.cancel_requested = true;
                Command::Cancel(CancelRequest {
                    portfolio_id: o.intent.portfolio_id.clone(),
                    client_order_id: o.intent.client_order_id.clone(),
                    symbol: o.intent.symbol.clone(),
                    created_at: now,
                })
            })
            .collect()
    }

    /// Pauses trading: from now on every strategy request becomes a [`Refusal`] ("trading is
    /// paused"), while market data, fills and timers are still applied, so the strategy stays
    /// warm and the books stay exact. Working orders are left alone ([`Self::cancel_all`]
    /// cancels them). Pausing again only replaces the reason.
    pub fn halt(&mut self, reason: impl Into<String>) {
        self.halted = Some(reason.into());
    }

    /// Resumes trading after [`Self::halt`].
    pub fn resume(&mut self) {
        self.halted = None;
    }

    /// Why trading is paused, if it is.
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Handles a market event without wrapping it in an [`Event`] (the hot path of replays).
    pub fn handle_market(&mut self, event: &MarketEvent, now: Timestamp, out: &mut Vec<Command>) {
        self.stats.events += 1;
        if !self.portfolio.instruments.contains_key(event.symbol()) {
            return;
        }
        if let MarketEvent::Funding(funding) = event {
            // Registered instrument: cannot fail.
            let _ = self
                .portfolio
                .apply_funding(&funding.symbol, funding.rate, funding.mark_price);
        } else if let Some(price) = event.mark_price() {
            self.portfolio.mark(event.symbol(), price);
        }
        let mut requests = std::mem::take(&mut self.requests);
        let ctx = StrategyContext {
            now,
            portfolio: &self.portfolio,
            working: &self.working,
        };
        self.strategy.on_market(event, &ctx, &mut requests);
        self.emit(&mut requests, now, out);
        self.requests = requests;
    }

    fn emit(&mut self, requests: &mut Vec<OrderRequest>, now: Timestamp, out: &mut Vec<Command>) {
        for request in requests.drain(..) {
            if self.halted.is_some() {
                self.stats.refusals += 1;
                self.refusals
                    .push(Refusal::new(request, now, "trading is paused"));
                continue;
            }
            match self.intent_from_request(request, now) {
                Ok(intent) => {
                    self.stats.orders += 1;
                    let order = Order::new(intent.clone());
                    *self.working.entry(intent.symbol.clone()).or_default() +=
                        order.signed_open_qty();
                    self.open_orders
                        .insert(intent.client_order_id.clone(), order);
                    out.push(Command::Submit(intent));
                }
                Err(refusal) => {
                    self.stats.refusals += 1;
                    self.refusals.push(refusal);
                }
            }
        }
    }

    fn intent_from_request(
        &mut self,
        request: OrderRequest,
        now: Timestamp,
    ) -> Result<OrderIntent, Refusal> {
        let Some(instrument) = self.portfolio.instruments.get(&request.symbol) else {
            return Err(Refusal::new(
                request,
                now,
                "instrument not registered with the portfolio",
            ));
        };
        let qty = instrument.round_qty_down(request.qty);
        if qty.is_zero() {
            return Err(Refusal::new(
                request,
                now,
                "quantity rounds down to zero lots",
            ));
        }
        if request.reduce_only {
            // Against the projected position: the venue executes a portfolio's orders in the
            // order they were sent, so a working order that opens the position is filled
            // before this one arrives. Using the booked position alone would make decisions
            // depend on how fast fills come back.
            let position = self
                .portfolio
                .position(&request.symbol)
                .map_or(Decimal::ZERO, |p| p.qty)
                + self
                    .working
                    .get(&request.symbol)
                    .copied()
                    .unwrap_or_default();
            let reduces =
                position * request.side.sign() < Decimal::ZERO && qty.get() <= position.abs();
            if !reduces {
                return Err(Refusal::new(
                    request,
                    now,
                    "reduce-only order would not reduce the position",
                ));
            }
        }
        let intent_id = IntentId::for_portfolio(&self.portfolio.id, self.next_seq);
        self.next_seq += 1;
        Ok(OrderIntent {
            client_order_id: ClientOrderId::for_intent(&intent_id),
            intent_id,
            portfolio_id: self.portfolio.id.clone(),
            symbol: request.symbol,
            side: request.side,
            qty,
            kind: request.kind,
            time_in_force: TimeInForce::Gtc,
            reduce_only: request.reduce_only,
            created_at: now,
            tag: request.tag.to_owned(),
        })
    }

    fn on_report(&mut self, report: &ExecutionReport, now: Timestamp) {
        let Some(order) = self.open_orders.get_mut(&report.client_order_id) else {
            let known_finished = self.recently_finished.contains(&report.client_order_id);
            if !known_finished {
                self.stats.issues += 1;
                self.issues.push(EngineIssue::unknown_order(report, now));
            }
            return;
        };
        let side = order.intent.side;
        let before = order.signed_open_qty();
        match order.apply(report) {
            Ok(OrderUpdate::Filled(fill)) => {
                let symbol = order.intent.symbol.clone();
                let delta = order.signed_open_qty() - before;
                *self.working.entry(symbol.clone()).or_default() += delta;
                if let Err(e) = self.portfolio.apply_fill(&symbol, side, &fill) {
                    self.stats.issues += 1;
                    self.issues.push(EngineIssue::accounting(report, now, &e));
                }
                self.stats.fills += 1;
                let ctx = StrategyContext {
                    now,
                    portfolio: &self.portfolio,
                    working: &self.working,
                };
                self.strategy.on_fill(&symbol, side, &fill, &ctx);
            }
            Ok(OrderUpdate::Status(_) | OrderUpdate::Duplicate | OrderUpdate::CancelRejected) => {
                let delta = order.signed_open_qty() - before;
                *self.working.entry(order.intent.symbol.clone()).or_default() += delta;
            }
            Err(e) => {
                self.stats.issues += 1;
                self.issues.push(EngineIssue::order(report, now, &e));
            }
        }
        if self
            .open_orders
            .get(&report.client_order_id)
            .is_some_and(|o| o.status.is_terminal())
        {
            if let Some(order) = self.open_orders.remove(&report.client_order_id) {
                if self.recently_finished.len() == RECENTLY_FINISHED {
                    self.recently_finished.pop_front();
                }
                self.recently_finished
                    .push_back(order.intent.client_order_id.clone());
                self.finished.push(order);
            }
        }
    }

    fn recompute_working(&mut self) {
        self.working.clear();
        for order in self.open_orders.values() {
            *self.working.entry(order.intent.symbol.clone()).or_default() +=
                order.signed_open_qty();
        }
    }

    /// The portfolio's books.
    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    /// Orders still working.
    pub fn open_orders(&self) -> impl Iterator<Item = &Order> {
        self.open_orders.values()
    }

    /// Takes the orders that reached a terminal state since the last call.
    pub fn drain_finished(&mut self) -> Vec<Order> {
        std::mem::take(&mut self.finished)
    }

    /// Takes the refusals recorded since the last call.
    pub fn drain_refusals(&mut self) -> Vec<Refusal> {
        std::mem::take(&mut self.refusals)
    }

    /// Takes the issues recorded since the last call.
    pub fn drain_issues(&mut self) -> Vec<EngineIssue> {
        std::mem::take(&mut self.issues)
    }

    /// Counters.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// The sequence number the next intent will use (persist it to restore).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The strategy's name.
    pub fn strategy_name(&self) -> &str {
        self.strategy.name()
    }
}
