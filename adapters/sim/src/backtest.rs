//! [`Backtest`]: portfolio engines against the simulated exchange over a market-event stream,
//! synchronously and deterministically.
//!
//! The portfolios run in a [`PortfolioSet`], the same loop the demo and the live node drive.
//! Per market event: (0) deadlines due by its time fire and their orders reach the venue,
//! (1) the exchange sees it first (resting orders trade, accounts mark),
//! (2) its reports reach the engines, (3) the engines interested in the symbol (interest map)
//! see the event and their commands go to the exchange, (4) the resulting reports reach the
//! engines. A strategy that acts on a bar's close is therefore filled on that same bar (or at
//! the next open, per [`crate::BarFill`]). [`Backtest::finish`] stops every strategy (its stop
//! hook may close positions) before the final summaries.

use crate::config::SimConfig;
use crate::exchange::SimExchange;
use crate::recorder::{finish_all, BacktestSummary, EquityCurves, FillRow, Recorder};
use chimera_kernel::engine::{Command, Output, PortfolioEngine, PortfolioSet};
use chimera_kernel::event::MarketEvent;
use chimera_kernel::instrument::Instrument;
use chimera_kernel::time::Timestamp;

/// Market data on its way to the strategies.
#[derive(Debug)]
struct DelayedFeed {
    latency_ms: i64,
    jitter_ms: i64,
    rng: chimera_kernel::rng::SeededRng,
    pending: std::collections::VecDeque<(Timestamp, MarketEvent)>,
    last_delivery: Timestamp,
}

impl DelayedFeed {
    fn new(config: &SimConfig) -> Self {
        Self {
            latency_ms: config.market_data_latency_ms,
            jitter_ms: config.market_data_jitter_ms,
            // A stream of its own, so order latency draws do not shift with the data's.
            rng: chimera_kernel::rng::SeededRng::new(config.seed ^ 0x6d61_726b_6574),
            pending: std::collections::VecDeque::new(),
            last_delivery: Timestamp(i64::MIN),
        }
    }

    fn delay(&mut self) -> i64 {
        if self.latency_ms == 0 && self.jitter_ms == 0 {
            return 0;
        }
        let jitter = self
            .rng
            .below(u64::try_from(self.jitter_ms).unwrap_or(0) + 1);
        self.latency_ms + i64::try_from(jitter).unwrap_or(0)
    }
}

/// Everything a finished backtest produced.
#[derive(Debug)]
pub struct BacktestResults {
    /// One summary per portfolio.
    pub summaries: Vec<BacktestSummary>,
    /// Equity curves.
    pub curves: EquityCurves,
    /// Every fill.
    pub fills: Vec<FillRow>,
    /// The final progress of every parent order an execution algorithm worked, in the order
    /// they finished.
    pub executions: Vec<chimera_kernel::execution::ExecProgress>,
    /// Every decision the pipeline took, in order.
    pub decisions: Vec<chimera_kernel::decision::DecisionRecord>,
    /// Every strategy request the engines refused, in order.
    pub refusals: Vec<chimera_kernel::engine::Refusal>,
    /// Every exit the engines' in-trade risk took.
    pub risk_actions: Vec<chimera_kernel::risk::RiskAction>,
}

/// Progress of a running backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Events processed.
    pub events: u64,
    /// Market time of the last event.
    pub ts: Timestamp,
}

/// A multi-portfolio backtest over the simulated exchange.
pub struct Backtest {
    exchange: SimExchange,
    set: PortfolioSet,
    recorders: Vec<Recorder>,
    fills: Vec<FillRow>,
    executions: Vec<chimera_kernel::execution::ExecProgress>,
    costs: crate::FillCostTracker,
    feed: DelayedFeed,
    /// Answers the engines' requests (shared budgets, model scores) in place.
    services: chimera_kernel::decision::LocalServices,
    decisions: Vec<chimera_kernel::decision::DecisionRecord>,
    refusals: Vec<chimera_kernel::engine::Refusal>,
    risk_actions: Vec<chimera_kernel::risk::RiskAction>,
    sample_ms: i64,
    events: u64,
    last_ts: Timestamp,
}

impl std::fmt::Debug for Backtest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backtest")
            .field("portfolios", &self.set.len())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl Backtest {
    /// A backtest whose equity curves are sampled at most once per `sample_ms` of market time.
    pub fn new(config: SimConfig, sample_ms: i64) -> Self {
        let feed = DelayedFeed::new(&config);
        Self {
            exchange: SimExchange::new(config),
            set: PortfolioSet::new(),
            recorders: Vec::new(),
            fills: Vec::new(),
            sample_ms: sample_ms.max(0),
            events: 0,
            last_ts: Timestamp(0),
            executions: Vec::new(),
            costs: crate::FillCostTracker::default(),
            feed,
            services: chimera_kernel::decision::LocalServices::default(),
            decisions: Vec::new(),
            refusals: Vec::new(),
            risk_actions: Vec::new(),
        }
    }

    /// Registers a model the portfolios' decision policies may name.
    pub fn add_scorer(&mut self, scorer: Box<dyn chimera_kernel::decision::Scorer>) {
        self.services.scorers.register(scorer);
    }

    /// Lists an instrument on the simulated exchange.
    pub fn add_instrument(&mut self, instrument: Instrument) {
        self.exchange.add_instrument(instrument);
    }

    /// Adds a portfolio. Its venue account is funded with the portfolio's balances, and it
    /// receives market events for the instruments it holds.
    pub fn add_portfolio(&mut self, engine: PortfolioEngine) {
        self.exchange.fund(engine.portfolio());
        self.set.add(engine);
        self.recorders.push(Recorder::new(self.sample_ms));
    }

    /// Processes one market event. The venue sees it at its time; the strategies see it after
    /// the configured market-data latency (`SimConfig::market_data_latency_ms`, plus seeded
    /// jitter), in the order it was published.
    pub fn step(&mut self, event: &MarketEvent) {
        let now = event.ts();
        self.events += 1;
        self.last_ts = now;
        self.deliver_delayed(now);
        // Orders placed by timers due by now reach the venue before it sees the event.
        self.set.advance(now);
        self.send_outputs();
        self.exchange.on_market(event);
        self.deliver_reports();
        if self.set.interested(event.symbol()).is_empty() {
            return;
        }
        let delay = self.feed.delay();
        if delay > 0 {
            let at = now.plus_millis(delay).max(self.feed.last_delivery);
            self.feed.last_delivery = at;
            self.feed.pending.push_back((at, event.clone()));
            return;
        }
        self.hand_to_engines(event, now);
    }

    /// Hands the engines every delayed event that has reached them by `now`.
    fn deliver_delayed(&mut self, now: Timestamp) {
        while let Some((at, _)) = self.feed.pending.front() {
            if *at > now {
                break;
            }
            if let Some((at, event)) = self.feed.pending.pop_front() {
                self.set.advance(at);
                self.send_outputs();
                self.hand_to_engines(&event, at);
            }
        }
    }

    fn hand_to_engines(&mut self, event: &MarketEvent, at: Timestamp) {
        self.set.on_market_at(event, at);
        self.send_outputs();
        self.deliver_reports();
        for &i in self.set.interested(event.symbol()) {
            self.recorders[i].maybe_sample(self.set.engine(i), at);
        }
    }

    /// Sends the engines' commands to the venue, each at the time the engine made it (a
    /// timer's order leaves at the timer's time, not at the next event's); drops the other
    /// outputs (the engines count refusals and issues, which the summary reports). Requests
    /// are answered at once by in-memory services (shared budgets kept for the run, scorers
    /// registered with [`Self::add_scorer`]); a model not registered answers with an error, so
    /// the decision falls back to its rules and records why.
    fn send_outputs(&mut self) {
        while let Some((_, output)) = self.set.poll_output() {
            match output {
                Output::Command(Command::Submit(intent)) => {
                    self.exchange.note_submit(&mut self.costs, &intent);
                    let at = intent.created_at;
                    self.exchange.submit(intent, at);
                }
                Output::Command(Command::Cancel(request)) => {
                    self.exchange.cancel(&request, request.created_at);
                }
                Output::Command(Command::Amend(request)) => {
                    self.exchange.amend(&request, request.created_at);
                }
                Output::Command(Command::SubmitList(list)) => {
                    for leg in &list.orders {
                        self.exchange.note_submit(&mut self.costs, leg);
                    }
                    let at = list
                        .orders
                        .first()
                        .map_or(self.exchange.now(), |o| o.created_at);
                    self.exchange.submit_list(&list, at);
                }
                Output::Command(Command::CancelReplace(request)) => {
                    self.exchange
                        .note_submit(&mut self.costs, &request.replacement);
                    let at = request.replacement.created_at;
                    self.exchange.cancel_replace(&request, at);
                }
                Output::Execution(progress) if progress.state.is_terminal() => {
                    self.executions.push(progress);
                }
                Output::Request(request) => {
                    let response = self.services.answer(&request);
                    self.set.on_response(&response, request.created_at);
                }
                Output::Decision(record) => self.decisions.push(*record),
                Output::Refused(refusal) => self.refusals.push(refusal),
                Output::Risk(action) => self.risk_actions.push(action),
                Output::Issue(_)
                | Output::Signal(_)
                | Output::Finished(_)
                | Output::Execution(_) => {}
            }
        }
    }

    fn deliver_reports(&mut self) {
        while let Some(report) = self.exchange.pop_report() {
            let Some(i) = self.set.index_of(&report.portfolio_id) else {
                continue;
            };
            let costs = self.costs.on_report(&report);
            if let Some(row) = self.recorders[i].on_report(self.set.engine(i), &report, costs) {
                self.fills.push(row);
            }
            self.set.on_report(&report);
        }
        self.send_outputs();
    }

    /// Events processed so far and the last market time.
    pub fn progress(&self) -> Progress {
        Progress {
            events: self.events,
            ts: self.last_ts,
        }
    }

    /// The features computed for the portfolios (read-only), e.g. to chart them.
    pub fn features(&self) -> &chimera_kernel::features::FeatureEngine {
        self.set.features()
    }

    /// The engines (read-only), e.g. for live inspection.
    pub fn engines(&self) -> impl Iterator<Item = &PortfolioEngine> {
        self.set.engines().iter()
    }

    /// Ends the run: every strategy's stop hook (its orders reach the venue at the last market
    /// time), then final equity samples, summaries, curves and fills.
    pub fn finish(self) -> (Vec<BacktestSummary>, EquityCurves, Vec<FillRow>) {
        let results = self.finish_results();
        (results.summaries, results.curves, results.fills)
    }

    /// As [`Self::finish`], with the execution algorithms' parent orders as well.
    pub fn finish_results(mut self) -> BacktestResults {
        self.deliver_delayed(Timestamp(i64::MAX));
        self.set.stop();
        self.send_outputs();
        self.deliver_reports();
        let engines = self.set.engines();
        let runs = engines.iter().zip(self.recorders.iter_mut());
        let (summaries, curves) = finish_all(runs, self.last_ts, self.events);
        BacktestResults {
            summaries,
            curves,
            fills: self.fills,
            executions: self.executions,
            decisions: self.decisions,
            refusals: self.refusals,
            risk_actions: self.risk_actions,
        }
    }
}
