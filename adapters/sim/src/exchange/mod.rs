//! [`SimExchange`]: the synchronous, deterministic matching core of the simulated venue.
//!
//! An order reaches the matching engine after the configured latency ([`admit`]: checks, then
//! trade, rest, arm or refuse), resting limit orders fill as the market reaches them
//! ([`resting`]: queue position on L2 data), contingent orders wait for their trigger
//! ([`triggers`]), and executions move the account ([`fills`]). Refusals carry Binance's code
//! and wording ([`rejects`]).

use crate::config::SimConfig;
use crate::known::{Knowledge, KnownOrders};
use crate::market::MarketState;
use crate::pairs;
use chimera_kernel::event::{ExecutionReport, Liquidity, MarketEvent, RejectReason, ReportKind};
use chimera_kernel::ids::{Asset, ClientOrderId, FastMap, PortfolioId, Symbol};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::order::{CancelRequest, Order, OrderIntent, TrailingTrigger};
use chimera_kernel::portfolio::Portfolio;
use chimera_kernel::rng::SeededRng;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Amount, Price, Quantity};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

mod admit;
mod amend;
mod fills;
mod liquidation;
mod lists;
mod pending_lists;
mod rehearsal;
mod rejects;
mod resting;
mod triggers;
mod working;

/// How a contingent order waits for its trigger.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "arming", rename_all = "snake_case")]
enum Arming {
    /// A fixed stop or take-profit level.
    Level,
    /// A trailing stop, with where it stands.
    Trailing(TrailingTrigger),
}

#[derive(Debug, Serialize, Deserialize)]
struct Working {
    order: Order,
    /// Market-event sequence number at which it started resting (it can only be traded
    /// through, or triggered, by later events).
    rested_at: u64,
    /// Waiting for its trigger (contingent orders until they fire).
    #[serde(default)]
    armed: Option<Arming>,
    /// Resting volume ahead of it at its price, when it rests on an L2 book (see
    /// [`crate::QueueModel`]); `None` where the book is unknown (trade-through rule).
    #[serde(default)]
    queue_ahead: Option<Quantity>,
}

/// The simulated venue's state: instruments, markets, accounts and orders.
///
/// Serializable as a whole, so a process fronting it (the live trade gateway) can checkpoint
/// the venue and restore it after a crash — a real exchange outlives its clients, and the
/// simulated one must too for restarts not to change results.
#[derive(Debug, Serialize, Deserialize)]
pub struct SimExchange {
    config: SimConfig,
    rng: SeededRng,
    instruments: FastMap<Symbol, Arc<Instrument>>,
    markets: FastMap<Symbol, MarketState>,
    accounts: BTreeMap<PortfolioId, Portfolio>,
    known: KnownOrders,
    /// Orders in flight to the matching engine, by arrival time then submit order.
    #[serde(with = "pairs")]
    inbound: BTreeMap<(Timestamp, u64), OrderIntent>,
    /// Market orders waiting for the next bar's open.
    awaiting_bar: Vec<Order>,
    resting: working::WorkingOrders,
    resting_index: FastMap<ClientOrderId, u64>,
    reports: VecDeque<ExecutionReport>,
    seq: u64,
    event_seq: u64,
    next_trade: u64,
    now: Timestamp,
    /// Per symbol, the latest market-event time seen: a symbol's reports are stamped with its
    /// own clock, so they do not depend on how other symbols' data interleaves with it (the
    /// live gateway feeds each symbol lazily, in its own event time).
    #[serde(default)]
    clocks: FastMap<Symbol, Timestamp>,
    /// Liquidations so far (numbers the venue's liquidation orders).
    #[serde(default)]
    liquidations: u64,
    /// Working order lists: list id → its legs.
    #[serde(default)]
    lists: BTreeMap<ClientOrderId, Vec<ClientOrderId>>,
    /// Each working leg's list.
    #[serde(default)]
    list_of: BTreeMap<ClientOrderId, ClientOrderId>,
    /// OTO/OTOCO: working order → the orders waiting for it to fill.
    #[serde(default)]
    pending: BTreeMap<ClientOrderId, pending_lists::PendingLegs>,
    /// A cache of marks at which accounts are provably above their maintenance margin.
    #[serde(skip)]
    safe_bands: liquidation::SafeBands,
}

/// A reject of `intent` with Binance's code and wording for `reason` and `detail` after it.
fn reject(
    intent: &OrderIntent,
    market: MarketKind,
    at: Timestamp,
    reason: RejectReason,
    detail: &str,
) -> ExecutionReport {
    let message = rejects::message(reason, market, detail);
    ExecutionReport {
        portfolio_id: intent.portfolio_id.clone(),
        client_order_id: intent.client_order_id.clone(),
        venue_order_id: None,
        symbol: intent.symbol.clone(),
        ts: at,
        kind: ReportKind::Rejected { reason, message },
    }
}

impl SimExchange {
    /// An empty venue.
    pub fn new(config: SimConfig) -> Self {
        Self {
            rng: SeededRng::new(config.seed),
            config,
            instruments: FastMap::default(),
            markets: FastMap::default(),
            accounts: BTreeMap::new(),
            known: KnownOrders::default(),
            inbound: BTreeMap::new(),
            awaiting_bar: Vec::new(),
            resting: working::WorkingOrders::default(),
            resting_index: FastMap::default(),
            reports: VecDeque::new(),
            seq: 0,
            event_seq: 0,
            next_trade: 0,
            now: Timestamp(0),
            clocks: FastMap::default(),
            liquidations: 0,
            lists: BTreeMap::new(),
            list_of: BTreeMap::new(),
            pending: BTreeMap::new(),
            safe_bands: liquidation::SafeBands::default(),
        }
    }

    /// Lists an instrument.
    pub fn add_instrument(&mut self, instrument: Instrument) {
        self.safe_bands.clear();
        for account in self.accounts.values_mut() {
            account.add_instrument(instrument.clone());
        }
        self.instruments
            .insert(instrument.symbol.clone(), Arc::new(instrument));
    }

    /// Credits an account (creating it if needed).
    pub fn deposit(&mut self, portfolio: &PortfolioId, asset: Asset, amount: Amount) {
        self.account(portfolio).deposit(asset, amount);
    }

    /// Opens an account holding `portfolio`'s balances (the simulation's funding rule: the
    /// venue account starts with what the portfolio's books say it has).
    pub fn fund(&mut self, portfolio: &Portfolio) {
        for (asset, amount) in &portfolio.balances {
            self.deposit(&portfolio.id, asset.clone(), *amount);
        }
    }

    /// The venue's view of an account, if it exists.
    pub fn account_of(&self, portfolio: &PortfolioId) -> Option<&Portfolio> {
        self.accounts.get(portfolio)
    }

    /// An account to change (which drops its cached liquidation bands).
    fn account(&mut self, portfolio: &PortfolioId) -> &mut Portfolio {
        self.safe_bands.forget(portfolio);
        let instruments = &self.instruments;
        self.accounts.entry(portfolio.clone()).or_insert_with(|| {
            let mut p = Portfolio::new(portfolio.clone(), Asset::new("USDT"));
            for i in instruments.values() {
                p.add_instrument(Instrument::clone(i));
            }
            p
        })
    }

    /// The venue's clock: the latest market-event time seen, any symbol.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// `symbol`'s clock: its latest market-event time, or `floor` when later (an order sent at
    /// `floor` is handled then, even before the next event of its symbol).
    fn clock(&self, symbol: &Symbol, floor: Timestamp) -> Timestamp {
        self.clocks.get(symbol).map_or(floor, |c| (*c).max(floor))
    }

    /// The best bid and ask the venue knows for `symbol` (from its book, else quotes).
    pub fn top_of_book(&self, symbol: &Symbol) -> (Option<Price>, Option<Price>) {
        self.markets
            .get(symbol)
            .map_or((None, None), |m| (m.bid, m.ask))
    }

    /// Up to `levels` best bid and ask levels of `symbol`: from its L2 book when the venue
    /// keeps one, else the best bid and ask of its quotes (with their sizes, when known).
    pub fn depth(
        &self,
        symbol: &Symbol,
        levels: usize,
    ) -> (
        Vec<chimera_kernel::event::BookLevel>,
        Vec<chimera_kernel::event::BookLevel>,
    ) {
        let Some(market) = self.markets.get(symbol) else {
            return (Vec::new(), Vec::new());
        };
        if market.uses_book() {
            return (
                market.book.bids().take(levels).collect(),
                market.book.asks().take(levels).collect(),
            );
        }
        let level = |price: Option<Price>, qty: Option<Quantity>| {
            price.map(|price| chimera_kernel::event::BookLevel {
                price,
                qty: qty.unwrap_or(Quantity::ZERO),
            })
        };
        (
            level(market.bid, market.bid_qty).into_iter().collect(),
            level(market.ask, market.ask_qty).into_iter().collect(),
        )
    }

    /// Notes `intent` in `costs` with the book this venue shows for its symbol now (the
    /// transaction-cost fields of its fills).
    pub fn note_submit(
        &self,
        costs: &mut chimera_kernel::tca::FillCostTracker,
        intent: &OrderIntent,
    ) {
        let (bids, asks) = self.depth(&intent.symbol, chimera_kernel::tca::TCA_LEVELS);
        costs.on_submit(intent, bids, asks);
    }

    /// Working orders of a portfolio.
    pub fn open_orders(&self, portfolio: &PortfolioId) -> Vec<Order> {
        self.resting
            .values()
            .map(|w| &w.order)
            .filter(|o| o.intent.portfolio_id == *portfolio)
            .cloned()
            .collect()
    }

    /// Whether the venue has received the order `id`, which `portfolio` created at
    /// `created_at`. An order the venue still holds (in flight to the matching engine, waiting
    /// for a bar, resting, or a list's leg waiting for its working order) is received whatever
    /// the window of recent ids says: the window only bounds what the venue remembers of
    /// orders it is done with, so its size is not what keeps a live order from being sent twice.
    pub fn knows(
        &self,
        id: &ClientOrderId,
        portfolio: &PortfolioId,
        created_at: Timestamp,
    ) -> Knowledge {
        match self.known.knows(id, portfolio, created_at) {
            Knowledge::Forgotten if self.holds(id) => Knowledge::Received,
            // Legs held for their list's working order are not in the window until placed.
            Knowledge::NeverReceived if self.working_of_pending(id).is_some() => {
                Knowledge::Received
            }
            knowledge => knowledge,
        }
    }

    /// Whether `intent` reached the venue before ([`Self::knows`]).
    fn received(&self, intent: &OrderIntent) -> bool {
        self.knows(
            &intent.client_order_id,
            &intent.portfolio_id,
            intent.created_at,
        ) == Knowledge::Received
    }

    /// Whether the venue holds order `id` now, in any state short of its end.
    fn holds(&self, id: &ClientOrderId) -> bool {
        self.resting_index.contains_key(id)
            || self.inbound.values().any(|i| i.client_order_id == *id)
            || self
                .awaiting_bar
                .iter()
                .any(|o| o.intent.client_order_id == *id)
            || self.working_of_pending(id).is_some()
    }

    /// Takes the next pending execution report.
    pub fn pop_report(&mut self) -> Option<ExecutionReport> {
        self.reports.pop_front()
    }

    /// Whether reports are waiting.
    pub fn has_reports(&self) -> bool {
        !self.reports.is_empty()
    }

    /// Receives an order sent at time `now`. Idempotent by client order id.
    ///
    /// With no latency configured it reaches the matching engine at once; otherwise with the
    /// first event of its symbol stamped at or after its arrival.
    pub fn submit(&mut self, intent: OrderIntent, now: Timestamp) {
        self.now = self.now.max(now);
        if self.received(&intent) {
            return;
        }
        self.known.insert(
            &intent.client_order_id,
            &intent.portfolio_id,
            intent.created_at,
        );
        let jitter = self
            .rng
            .below(u64::try_from(self.config.latency_jitter_ms).unwrap_or(0) + 1);
        let arrival = now.plus_millis(self.config.latency_ms + i64::try_from(jitter).unwrap_or(0));
        if arrival <= now {
            let at = self.clock(&intent.symbol, arrival);
            self.activate(intent, at);
        } else {
            self.seq += 1;
            self.inbound.insert((arrival, self.seq), intent);
        }
    }

    /// Receives a cancel request sent at `now` (processed at once).
    pub fn cancel(&mut self, request: &CancelRequest, now: Timestamp) {
        if let Some(working) = self.working_of_pending(&request.client_order_id) {
            // A pending order of an OTO/OTOCO: the whole list is canceled.
            let whole = CancelRequest {
                client_order_id: working,
                ..request.clone()
            };
            return self.cancel(&whole, now);
        }
        self.now = self.now.max(now);
        let at = self.clock(&request.symbol, now);
        let Some(id) = self.resting_index.remove(&request.client_order_id) else {
            self.reports.push_back(ExecutionReport {
                portfolio_id: request.portfolio_id.clone(),
                client_order_id: request.client_order_id.clone(),
                venue_order_id: None,
                symbol: request.symbol.clone(),
                ts: at,
                kind: ReportKind::CancelRejected {
                    reason: RejectReason::UnknownOrder,
                },
            });
            return;
        };
        if let Some(working) = self.resting.remove(id) {
            self.emit(working.order, at, ReportKind::Canceled);
        }
    }

    /// Feeds one market event: fills what it triggers, marks accounts, settles funding.
    pub fn on_market(&mut self, event: &MarketEvent) {
        self.event_seq += 1;
        let symbol = event.symbol();
        if let MarketEvent::Bar(bar) = event {
            let waiting: Vec<Order> = {
                let (matching, rest) = std::mem::take(&mut self.awaiting_bar)
                    .into_iter()
                    .partition(|o| o.intent.symbol == *symbol);
                self.awaiting_bar = rest;
                matching
            };
            for order in waiting {
                self.execute(order, &[(bar.open, None)], Liquidity::Taker, bar.ts);
            }
        }
        // Looked up before inserting: a symbol's id is cloned once, not per event.
        match self.markets.get_mut(symbol) {
            Some(market) => market.update(event),
            None => self
                .markets
                .entry(symbol.clone())
                .or_default()
                .update(event),
        }
        self.now = self.now.max(event.ts());
        match self.clocks.get_mut(symbol) {
            Some(clock) => *clock = (*clock).max(event.ts()),
            None => {
                self.clocks.insert(symbol.clone(), event.ts());
            }
        }
        let at = self.clock(symbol, event.ts());
        if let MarketEvent::Funding(f) = event {
            self.safe_bands.clear();
            for account in self.accounts.values_mut() {
                let _ = account.apply_funding(symbol, f.rate, f.mark_price);
            }
            self.check_liquidations(symbol, at);
        } else {
            // Book updates move marks without a margin check (the next trade or bar checks).
            let check = !matches!(
                event,
                MarketEvent::BookSnapshot(_) | MarketEvent::BookDelta(_)
            );
            self.mark_and_check(event, check, at);
        }
        self.activate_arrived(symbol, event.ts());
        self.fire_triggers(event);
        self.match_resting(event);
    }

    /// Activates `symbol`'s in-flight orders that arrived by `ts`, in arrival order.
    fn activate_arrived(&mut self, symbol: &Symbol, ts: Timestamp) {
        let arrived: Vec<(Timestamp, u64)> = self
            .inbound
            .range(..=(ts, u64::MAX))
            .filter(|(_, intent)| intent.symbol == *symbol)
            .map(|(key, _)| *key)
            .collect();
        for key in arrived {
            if let Some(intent) = self.inbound.remove(&key) {
                let at = self.clock(symbol, key.0);
                self.activate(intent, at);
            }
        }
    }
}
