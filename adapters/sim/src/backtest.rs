//! [`Backtest`]: portfolio engines against the simulated exchange over a market-event stream,
//! synchronously and deterministically.
//!
//! Per market event: (1) the exchange sees it first (resting orders trade, accounts mark),
//! (2) its reports reach the engines, (3) the engines interested in the symbol (interest map)
//! see the event and their commands go to the exchange, (4) the resulting reports reach the
//! engines. A strategy that acts on a bar's close is therefore filled on that same bar (or at
//! the next open, per [`crate::BarFill`]).

use crate::config::SimConfig;
use crate::exchange::SimExchange;
use chimera_kernel::engine::{Command, PortfolioEngine};
use chimera_kernel::event::{Event, ExecutionReport, Liquidity, MarketEvent};
use chimera_kernel::ids::{ClientOrderId, PortfolioId, Symbol, TradeId};
use chimera_kernel::instrument::Instrument;
use chimera_kernel::order::Side;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};
use chimera_kernel::Decimal;
use serde::Serialize;
use std::collections::HashMap;

/// One point of an equity curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EquityPoint {
    /// Market time.
    pub ts: Timestamp,
    /// Equity in the reporting asset.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub equity: Decimal,
}

/// One fill, as written to `fills.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FillRow {
    /// Portfolio.
    pub portfolio_id: PortfolioId,
    /// Fill time.
    pub ts: Timestamp,
    /// Instrument.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Quantity.
    pub qty: Quantity,
    /// Price.
    pub price: Price,
    /// Fee amount.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub fee: Decimal,
    /// Fee asset.
    pub fee_asset: String,
    /// Maker or taker.
    pub liquidity: Liquidity,
    /// Order.
    pub client_order_id: ClientOrderId,
    /// Venue trade id.
    pub trade_id: TradeId,
}

/// A portfolio's results. Decimals are strings in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BacktestSummary {
    /// Portfolio.
    pub portfolio_id: PortfolioId,
    /// Strategy name.
    pub strategy: String,
    /// Equity before the first event (at the first marks).
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub initial_equity: Decimal,
    /// Equity after the last event.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub final_equity: Decimal,
    /// `final / initial − 1`.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub total_return: Decimal,
    /// Σ realised PnL.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub realized_pnl: Decimal,
    /// Open PnL at the end.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub unrealized_pnl: Decimal,
    /// Σ fees.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub fees: Decimal,
    /// Σ funding.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub funding: Decimal,
    /// Largest peak-to-trough equity fall as a fraction of the peak (0.1 = 10%), over the
    /// sampled curve.
    #[serde(with = "chimera_kernel::value::decimal_str")]
    pub max_drawdown: Decimal,
    /// Orders sent.
    pub orders: u64,
    /// Fills received.
    pub fills: u64,
    /// Strategy requests refused before reaching the venue.
    pub refusals: u64,
    /// Orders the venue rejected.
    pub rejections: u64,
    /// Market events processed (all symbols).
    pub events: u64,
}

/// Progress of a running backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Events processed.
    pub events: u64,
    /// Market time of the last event.
    pub ts: Timestamp,
}

struct Book {
    engine: PortfolioEngine,
    curve: Vec<EquityPoint>,
    last_sample: Option<Timestamp>,
    initial_equity: Option<Decimal>,
    peak: Decimal,
    max_drawdown: Decimal,
    rejections: u64,
}

/// A multi-portfolio backtest over the simulated exchange.
pub struct Backtest {
    exchange: SimExchange,
    books: Vec<Book>,
    index: HashMap<PortfolioId, usize>,
    interest: HashMap<Symbol, std::sync::Arc<[usize]>>,
    fills: Vec<FillRow>,
    commands: Vec<Command>,
    sample_ms: i64,
    events: u64,
    last_ts: Timestamp,
}

impl std::fmt::Debug for Backtest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backtest")
            .field("portfolios", &self.books.len())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl Backtest {
    /// A backtest whose equity curves are sampled at most once per `sample_ms` of market time.
    pub fn new(config: SimConfig, sample_ms: i64) -> Self {
        Self {
            exchange: SimExchange::new(config),
            books: Vec::new(),
            index: HashMap::new(),
            interest: HashMap::new(),
            fills: Vec::new(),
            commands: Vec::new(),
            sample_ms: sample_ms.max(0),
            events: 0,
            last_ts: Timestamp(0),
        }
    }

    /// Lists an instrument on the simulated exchange.
    pub fn add_instrument(&mut self, instrument: Instrument) {
        self.exchange.add_instrument(instrument);
    }

    /// Adds a portfolio. Its venue account is funded with the portfolio's balances, and it
    /// receives market events for the instruments it holds.
    pub fn add_portfolio(&mut self, engine: PortfolioEngine) {
        let i = self.books.len();
        let portfolio = engine.portfolio();
        for (asset, amount) in &portfolio.balances {
            self.exchange.deposit(&portfolio.id, asset.clone(), *amount);
        }
        for symbol in portfolio.instruments.keys() {
            let mut subscribers = self
                .interest
                .get(symbol)
                .map(|s| s.to_vec())
                .unwrap_or_default();
            subscribers.push(i);
            self.interest.insert(symbol.clone(), subscribers.into());
        }
        self.index.insert(portfolio.id.clone(), i);
        self.books.push(Book {
            engine,
            curve: Vec::new(),
            last_sample: None,
            initial_equity: None,
            peak: Decimal::ZERO,
            max_drawdown: Decimal::ZERO,
            rejections: 0,
        });
    }

    /// Processes one market event.
    pub fn step(&mut self, event: &MarketEvent) {
        let now = event.ts();
        self.events += 1;
        self.last_ts = now;
        self.fire_timers(now);
        self.exchange.on_market(event);
        self.deliver_reports(now);
        let Some(interested) = self.interest.get(event.symbol()).cloned() else {
            return;
        };
        let wrapped = Event::Market(event.clone());
        for &i in interested.iter() {
            self.books[i]
                .engine
                .handle_into(&wrapped, now, &mut self.commands);
        }
        self.send_commands(now);
        self.deliver_reports(now);
        for &i in interested.iter() {
            let book = &mut self.books[i];
            let due = book
                .last_sample
                .is_none_or(|t| now.0 - t.0 >= self.sample_ms);
            if due {
                sample(book, now);
            }
        }
    }

    fn fire_timers(&mut self, now: Timestamp) {
        for book in &mut self.books {
            if book.engine.next_deadline().is_some_and(|d| d <= now) {
                book.engine
                    .handle_into(&Event::Timer { ts: now }, now, &mut self.commands);
            }
        }
        self.send_commands(now);
    }

    fn send_commands(&mut self, now: Timestamp) {
        for command in self.commands.drain(..) {
            match command {
                Command::Submit(intent) => self.exchange.submit(intent, now),
                Command::Cancel(request) => self.exchange.cancel(&request, now),
            }
        }
    }

    fn deliver_reports(&mut self, now: Timestamp) {
        while let Some(report) = self.exchange.pop_report() {
            let Some(&i) = self.index.get(&report.portfolio_id) else {
                continue;
            };
            self.record(i, &report);
            let book = &mut self.books[i];
            book.engine
                .handle_into(&Event::Execution(report), now, &mut self.commands);
        }
        if !self.commands.is_empty() {
            self.send_commands(now);
        }
    }

    fn record(&mut self, i: usize, report: &ExecutionReport) {
        if matches!(
            report.kind,
            chimera_kernel::event::ReportKind::Rejected { .. }
        ) {
            self.books[i].rejections += 1;
        }
        let Some(fill) = report.fill() else { return };
        let side = self.books[i]
            .engine
            .open_orders()
            .find(|o| o.intent.client_order_id == report.client_order_id)
            .map_or(Side::Buy, |o| o.intent.side);
        self.fills.push(FillRow {
            portfolio_id: report.portfolio_id.clone(),
            ts: report.ts,
            symbol: report.symbol.clone(),
            side,
            qty: fill.qty,
            price: fill.price,
            fee: fill.fee.amount,
            fee_asset: fill.fee.asset.to_string(),
            liquidity: fill.liquidity,
            client_order_id: report.client_order_id.clone(),
            trade_id: fill.trade_id.clone(),
        });
    }

    /// Events processed so far and the last market time.
    pub fn progress(&self) -> Progress {
        Progress {
            events: self.events,
            ts: self.last_ts,
        }
    }

    /// The engines (read-only), e.g. for live inspection.
    pub fn engines(&self) -> impl Iterator<Item = &PortfolioEngine> {
        self.books.iter().map(|b| &b.engine)
    }

    /// Ends the run: final equity samples, summaries, curves and fills.
    pub fn finish(
        mut self,
    ) -> (
        Vec<BacktestSummary>,
        Vec<(PortfolioId, Vec<EquityPoint>)>,
        Vec<FillRow>,
    ) {
        let now = self.last_ts;
        let mut summaries = Vec::new();
        let mut curves = Vec::new();
        for book in &mut self.books {
            if book.curve.last().is_none_or(|p| p.ts != now) {
                sample(book, now);
            }
            let p = book.engine.portfolio();
            let stats = book.engine.stats();
            let initial = book.initial_equity.unwrap_or(Decimal::ZERO);
            let final_equity = p.equity();
            let total_return = if initial.is_zero() {
                Decimal::ZERO
            } else {
                final_equity / initial - Decimal::ONE
            };
            summaries.push(BacktestSummary {
                portfolio_id: p.id.clone(),
                strategy: book.engine.strategy_name().to_owned(),
                initial_equity: initial,
                final_equity,
                total_return: total_return.round_dp(8),
                realized_pnl: p.realized_pnl,
                unrealized_pnl: p.unrealized_pnl(),
                fees: p.fees,
                funding: p.funding,
                max_drawdown: book.max_drawdown.round_dp(8),
                orders: stats.orders,
                fills: stats.fills,
                refusals: stats.refusals,
                rejections: book.rejections,
                events: self.events,
            });
            curves.push((p.id.clone(), std::mem::take(&mut book.curve)));
        }
        // Fill sides are looked up among open orders at record time; orders filled at once are
        // already finished, so resolve sides from the finished orders too.
        let mut sides: HashMap<ClientOrderId, Side> = HashMap::new();
        for book in &mut self.books {
            for order in book
                .engine
                .drain_finished()
                .into_iter()
                .chain(book.engine.open_orders().cloned())
            {
                sides.insert(order.intent.client_order_id.clone(), order.intent.side);
            }
        }
        for row in &mut self.fills {
            if let Some(side) = sides.get(&row.client_order_id) {
                row.side = *side;
            }
        }
        (summaries, curves, self.fills)
    }
}

fn sample(book: &mut Book, now: Timestamp) {
    let equity = book.engine.portfolio().equity();
    book.initial_equity.get_or_insert(equity);
    book.peak = book.peak.max(equity);
    if book.peak > Decimal::ZERO {
        let drawdown = (book.peak - equity) / book.peak;
        book.max_drawdown = book.max_drawdown.max(drawdown);
    }
    book.last_sample = Some(now);
    book.curve.push(EquityPoint { ts: now, equity });
}
