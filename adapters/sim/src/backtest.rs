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
use crate::recorder::{finish_all, BacktestSummary, EquityCurves, FillRow, Recorder};
use chimera_kernel::engine::{Command, PortfolioEngine};
use chimera_kernel::event::{Event, MarketEvent};
use chimera_kernel::ids::{FastMap, PortfolioId, Symbol};
use chimera_kernel::instrument::Instrument;
use chimera_kernel::time::Timestamp;
use std::sync::Arc;

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
    recorder: Recorder,
}

/// A multi-portfolio backtest over the simulated exchange.
pub struct Backtest {
    exchange: SimExchange,
    books: Vec<Book>,
    index: FastMap<PortfolioId, usize>,
    interest: FastMap<Symbol, Arc<[usize]>>,
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
            index: FastMap::default(),
            interest: FastMap::default(),
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
            recorder: Recorder::new(self.sample_ms),
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
        for &i in interested.iter() {
            self.books[i]
                .engine
                .handle_market(event, now, &mut self.commands);
        }
        self.send_commands(now);
        self.deliver_reports(now);
        for &i in interested.iter() {
            let book = &mut self.books[i];
            book.recorder.maybe_sample(&book.engine, now);
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
            let book = &mut self.books[i];
            if let Some(row) = book.recorder.on_report(&book.engine, &report) {
                self.fills.push(row);
            }
            book.engine
                .handle_into(&Event::Execution(report), now, &mut self.commands);
        }
        if !self.commands.is_empty() {
            self.send_commands(now);
        }
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
    pub fn finish(mut self) -> (Vec<BacktestSummary>, EquityCurves, Vec<FillRow>) {
        let runs = self.books.iter_mut().map(|b| (&b.engine, &mut b.recorder));
        let (summaries, curves) = finish_all(runs, self.last_ts, self.events);
        (summaries, curves, self.fills)
    }
}
