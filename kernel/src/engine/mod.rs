//! The per-portfolio engine: a synchronous state machine in the sans-I/O style (anchor:
//! quinn-proto's `Connection`).
//!
//! - Inputs arrive through one entry point, [`PortfolioEngine::handle`]`(`[`Input`]`, now)`:
//!   market data, execution reports, the passing of time, operator controls.
//! - Outputs leave through one drain, [`PortfolioEngine::poll_output`], of one [`Output`] enum:
//!   commands for the venue, refusals, issues, signals and finished orders. The engine keeps
//!   nothing else that grows with the length of a run.
//! - One [`TimerTable`] holds every deadline; [`PortfolioEngine::next_deadline`] reads it, and
//!   any input at a time past a deadline fires it first.
//! - The clock rule: the engine's time is the greatest `now` it has been given, so time never
//!   goes backwards for the strategy or in the intents it produces, whatever order a runtime's
//!   inputs arrive in.
//!
//! The engine never calls out: results come back as inputs. Everything is deterministic: the
//! same inputs at the same times produce the same outputs, with the same ids. Refusals are data:
//! a strategy request the engine will not send becomes a [`Refusal`]; a report that cannot be
//! applied becomes an [`EngineIssue`]. Neither panics nor stops the engine.

/// The strategy's view, borrowed field by field so the strategy itself can be borrowed mutably
/// beside it.
macro_rules! context {
    ($engine:ident) => {
        StrategyContext {
            now: $engine.clock,
            portfolio: &$engine.portfolio,
            working: &$engine.working,
            orders: &$engine.open_orders,
            features: &$engine.features,
        }
    };
}

mod actions;
mod algos;
mod amend;
mod decide;
mod decide_answers;
mod interest;
mod io;
mod issues;
mod kill;
mod manage;
mod market_view;
mod rehearsal;
mod reports;
mod requests;
mod risk_exits;
mod set;
mod snapshot;
mod timers;

pub use crate::request::{Outcome, Request, RequestKind, Response};
pub use decide::{GateState, HeldReservation};
pub use interest::InterestMap;
pub use io::{Command, Control, Input, Output, SignalRecord};
pub use issues::{EngineIssue, IssueKind, Refusal, RefusalReason, RefusedAction};
pub use kill::{FLATTEN_RETRY_MS, FLATTEN_TAG};
pub use set::PortfolioSet;
pub use snapshot::{DecisionState, EngineSnapshot, ManagerState, SnapshotError};
pub use timers::{TimerKey, TimerTable};

use crate::ids::{ClientOrderId, Symbol};
use crate::order::Order;
use crate::portfolio::Portfolio;
use crate::strategy::{Actions, Strategy, StrategyContext};
use crate::time::Timestamp;
use crate::value::SignedQty;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Counters for reports and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineStats {
    /// Inputs handled (market events, reports, timer calls; controls are not counted).
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
    working: BTreeMap<Symbol, SignedQty>,
    /// Client order ids of the last [`RECENTLY_FINISHED`] terminal orders, oldest first, so
    /// late or replayed reports for them are recognised as duplicates, not unknown orders.
    recently_finished: VecDeque<ClientOrderId>,
    outputs: VecDeque<Output>,
    timers: TimerTable,
    clock: Timestamp,
    next_seq: u64,
    /// Reused buffer for the strategy's actions (no allocation per event).
    actions: Actions,
    stats: EngineStats,
    /// Why trading is paused, when it is: requests are refused, the market is still followed.
    halted: Option<String>,
    /// The strategy's stop hook ran: it is not called again and new orders are refused.
    stopped: bool,
    /// Requests waiting for an answer, by id.
    requests: BTreeMap<u64, Request>,
    next_request: u64,
    /// How the strategy's market orders are executed by default.
    exec: crate::execution::ExecSpec,
    /// Parent orders being worked by execution algorithms, by their number.
    parents: BTreeMap<u64, crate::execution::ParentOrder>,
    /// The parent of each working child order.
    child_parent: BTreeMap<ClientOrderId, u64>,
    next_parent: u64,
    /// Top of book per symbol, for the algorithms.
    market_view: market_view::MarketView,
    /// The features the strategy reads (refreshed by the portfolio set).
    features: crate::features::FeatureView,
    /// Pre-trade risk limits (none by default).
    risk: crate::risk::RiskLimits,
    /// When recent orders were sent (the rate limit's window).
    order_rate: crate::risk::OrderRate,
    /// The highest equity seen (the drawdown breaker's and the rules' reference).
    peak_equity: Option<rust_decimal::Decimal>,
    /// How entries are decided.
    policy: crate::decision::DecisionPolicy,
    /// A rule reads `drawdown_pct`: the peak equity is followed on every event.
    rules_read_drawdown: bool,
    /// Health, as the runtime last said.
    gate_state: GateState,
    /// The kill switches in force, as the runtime last said.
    kill: crate::risk::KillState,
    /// Symbols whose flattening the venue rejected, and when to try again (engine time).
    flatten_retry: BTreeMap<crate::ids::Symbol, Timestamp>,
    /// Entries waiting for a model score or a reservation, by request id.
    pending_entries: BTreeMap<u64, decide::PendingEntry>,
    /// Release requests in flight (their answers need nothing).
    releases: std::collections::BTreeSet<u64>,
    /// Shared-budget reservations held, by key.
    reservations: BTreeMap<String, HeldReservation>,
    /// The next decision's number.
    next_signal: u64,
    /// The intent id the next order takes (an entry reserved its budget under it).
    preassigned_intent: Option<crate::ids::IntentId>,
    /// How positions are managed.
    manager: crate::position_manager::ManagerConfig,
    /// Positions under management.
    managed: BTreeMap<Symbol, crate::position_manager::ManagedPosition>,
    /// What decisions asked of positions not yet open.
    plans: BTreeMap<Symbol, manage::Plan>,
    /// What to rehearse, when rehearsals are on.
    rehearsal: rehearsal::Rehearsal,
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
            recently_finished: VecDeque::new(),
            outputs: VecDeque::new(),
            timers: TimerTable::default(),
            clock: Timestamp(i64::MIN),
            next_seq,
            actions: Actions::default(),
            stats: EngineStats::default(),
            halted: None,
            stopped: false,
            requests: BTreeMap::new(),
            next_request: 0,
            exec: crate::execution::ExecSpec::Direct,
            parents: BTreeMap::new(),
            child_parent: BTreeMap::new(),
            next_parent: 0,
            market_view: market_view::MarketView::default(),
            features: crate::features::FeatureView::default(),
            risk: crate::risk::RiskLimits::default(),
            order_rate: crate::risk::OrderRate::default(),
            peak_equity: None,
            policy: crate::decision::DecisionPolicy::default(),
            rules_read_drawdown: false,
            gate_state: GateState::default(),
            kill: crate::risk::KillState::default(),
            flatten_retry: BTreeMap::new(),
            pending_entries: BTreeMap::new(),
            releases: std::collections::BTreeSet::new(),
            reservations: BTreeMap::new(),
            next_signal: 0,
            preassigned_intent: None,
            manager: crate::position_manager::ManagerConfig::default(),
            managed: BTreeMap::new(),
            plans: BTreeMap::new(),
            rehearsal: rehearsal::Rehearsal::default(),
        };
        for order in open_orders.into_iter().filter(|o| !o.status.is_terminal()) {
            engine
                .open_orders
                .insert(order.intent.client_order_id.clone(), order);
        }
        engine.rebuild_feature_view();
        engine.recompute_working();
        engine.sync_strategy_timer();
        engine
    }

    /// Handles one input at time `now`; what it produced waits in [`Self::poll_output`].
    ///
    /// Deadlines due at `now` fire first (each at its own time), then the input is applied at
    /// the engine's time: `now`, or the latest time already seen if `now` is earlier.
    pub fn handle(&mut self, input: Input<'_>, now: Timestamp) {
        self.fire_due(now);
        self.clock = self.clock.max(now);
        match input {
            Input::Market(event) => {
                self.stats.events += 1;
                self.on_market(event);
            }
            Input::Execution(report) => {
                self.stats.events += 1;
                self.on_report(report);
            }
            Input::Timer => self.stats.events += 1,
            Input::Control(control) => self.on_control(control),
            Input::Response(response) => self.on_response(response),
        }
    }

    /// The next output, oldest first.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Outputs waiting to be drained.
    pub fn pending_outputs(&self) -> usize {
        self.outputs.len()
    }

    /// When the engine wants [`Input::Timer`]: the earliest deadline of its timer table.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.timers.next()
    }

    /// Sets the portfolio's pre-trade risk limits (see [`crate::risk`]); a refused order is
    /// recorded as a refusal with the check's reason.
    #[must_use]
    pub fn with_risk(mut self, limits: crate::risk::RiskLimits) -> Self {
        self.risk = limits;
        self.rebuild_feature_view();
        self
    }

    /// The features the strategy asks for, and the ATR of every instrument when the risk
    /// exits use it.
    fn rebuild_feature_view(&mut self) {
        let mut wanted = self.strategy.features();
        let mut extra = self.policy_features();
        let atr_specs = [
            self.risk.atr_feature(),
            self.manager.needs_atr().then(|| self.manager.atr_spec()),
        ];
        for spec in atr_specs.into_iter().flatten() {
            for symbol in self.portfolio.instruments.keys() {
                extra.push((symbol.clone(), spec.clone()));
            }
        }
        for pair in extra {
            if !wanted.contains(&pair) {
                wanted.push(pair);
            }
        }
        self.features = crate::features::FeatureView::new(wanted);
    }

    /// The features the strategy reads.
    pub fn features(&self) -> &crate::features::FeatureView {
        &self.features
    }

    /// Copies the features this engine reads from `engine` after `update` of `symbol`.
    pub(crate) fn refresh_features(
        &mut self,
        engine: &crate::features::FeatureEngine,
        symbol: &crate::ids::Symbol,
        update: &crate::features::FeatureUpdate,
    ) {
        self.features.refresh(engine, symbol, update);
    }

    /// The engine's time: the latest `now` it was given (or a deadline it fired).
    pub fn clock(&self) -> Option<Timestamp> {
        (self.clock.0 != i64::MIN).then_some(self.clock)
    }

    fn fire_due(&mut self, now: Timestamp) {
        while let Some((deadline, key)) = self.timers.pop_due(now) {
            self.clock = self.clock.max(deadline);
            match key {
                TimerKey::Strategy => {
                    if self.stopped {
                        continue;
                    }
                    let ctx = context!(self);
                    self.strategy.on_timer(&ctx, &mut self.actions);
                    self.take_actions();
                }
                TimerKey::Request(id) => self.expire_request(id),
                TimerKey::Exec(seq) => self.parent_timer(seq),
            }
        }
    }

    fn on_market(&mut self, event: &crate::event::MarketEvent) {
        if !self.portfolio.instruments.contains_key(event.symbol()) {
            return;
        }
        if let crate::event::MarketEvent::Funding(funding) = event {
            // Registered instrument: cannot fail.
            let _ = self
                .portfolio
                .apply_funding(&funding.symbol, funding.rate, funding.mark_price);
        } else if let Some(price) = event.mark_price() {
            self.portfolio.mark(event.symbol(), price);
        }
        self.market_view.update(event);
        if !self.parents.is_empty() {
            self.parents_on_market(event.symbol());
        }
        if self.stopped {
            return;
        }
        if self.risk.has_exits() {
            self.in_trade_risk(event);
        }
        if self.rules_read_drawdown && self.risk.max_drawdown_pct.is_none() {
            self.follow_peak_equity();
        }
        if !self.managed.is_empty() {
            self.manage(event.symbol());
        }
        if !self.kill.is_clear() {
            self.kill_follow_up(event.symbol());
        }
        let ctx = context!(self);
        self.strategy.on_market(event, &ctx, &mut self.actions);
        if !self.actions.is_empty() {
            self.rehearsal.acted(event, &self.actions);
        }
        self.take_actions();
    }

    fn on_control(&mut self, control: &Control) {
        match control {
            Control::Pause { reason } => {
                self.halted = Some(reason.clone());
                self.cancel_parents();
            }
            Control::KillSwitch { state } => self.on_kill(state),
            Control::Health { level } => self.gate_state.health = *level,
            Control::Resume => {
                self.halted = None;
                // The drawdown breaker measures again from here.
                self.peak_equity = None;
            }
            Control::CancelAll => {
                self.cancel_parents();
                self.cancel_all();
            }
            Control::Stop => {
                if !self.stopped {
                    self.cancel_parents();
                    let ctx = context!(self);
                    self.strategy.on_stop(&ctx, &mut self.actions);
                    self.take_actions();
                    self.stopped = true;
                    self.timers.set(TimerKey::Strategy, None);
                }
            }
        }
    }

    fn cancel_all(&mut self) {
        let now = self.clock;
        for order in self.open_orders.values_mut() {
            if let Some(request) = order.request_cancel(now) {
                self.outputs
                    .push_back(Output::Command(Command::Cancel(request)));
            }
        }
    }

    fn recompute_working(&mut self) {
        self.working.clear();
        for order in self.open_orders.values() {
            *self.working.entry(order.intent.symbol.clone()).or_default() +=
                order.projected_open_qty();
        }
        // What parents have yet to send will be bought or sold too.
        for parent in self.parents.values() {
            *self
                .working
                .entry(parent.intent.symbol.clone())
                .or_default() += SignedQty::from_side(parent.intent.side, parent.unsent());
        }
    }

    fn sync_strategy_timer(&mut self) {
        let deadline = (!self.stopped)
            .then(|| self.strategy.next_deadline())
            .flatten();
        self.timers.set(TimerKey::Strategy, deadline);
    }

    /// Why trading is paused, if it is.
    pub fn halted(&self) -> Option<&str> {
        self.halted.as_deref()
    }

    /// Whether the run was stopped ([`Control::Stop`]).
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// The portfolio's books.
    pub fn portfolio(&self) -> &Portfolio {
        &self.portfolio
    }

    /// Orders still working.
    pub fn open_orders(&self) -> impl Iterator<Item = &Order> {
        self.open_orders.values()
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
