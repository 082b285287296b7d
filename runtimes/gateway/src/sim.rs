//! [`SimGatewayVenue`]: the simulated venue under the gateway. What only the simulation needs
//! lives here and in [`chimera_sim::EventTimeVenue`]: it reads `market.data` to keep the venue
//! in event time (an order is priced with the market data it was decided on, however late it
//! arrives), funds each portfolio's account from its books the first time it trades, and puts
//! the venue, which market deliveries it consumed, and the funded accounts in the gateway's
//! checkpoint. The nodes' progress promises ([`chimera_messages::Progress`]) let it feed
//! market data between orders rather than on their path.

use super::rehearsal::Rehearsals;
use super::venue::{GatewayVenue, Knowledge, Rehearsal};
use async_trait::async_trait;
use chimera_kernel::event::MarketEvent;
use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::order::OrderIntent;
use chimera_kernel::time::Timestamp;
use chimera_messages::{decode, AlertCode, AlertLevel, Envelope, MessageType, Topic};
use chimera_ports::{Delivery, ExecutionVenue, PortfolioRepository, Subscription};
use chimera_runtime::portfolio_spec::PortfolioSpec;
use chimera_runtime::runtime::{fatal, Runtime};
use chimera_sim::{EventTimeVenue, SimState};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long an order waits for the market data it was decided on before it goes to the
/// venue regardless.
const MARKET_CATCH_UP: Duration = Duration::from_secs(30);
/// Market deliveries read per turn.
const MARKET_BATCH: usize = 512;

/// The simulation's part of the gateway checkpoint.
#[derive(Debug, Deserialize)]
pub(super) struct SimCheckpoint {
    sim: SimState,
    #[serde(default)]
    funded: BTreeSet<PortfolioId>,
}

/// The simulated venue in event time, fed from `market.data`.
pub struct SimGatewayVenue {
    sim: EventTimeVenue,
    market: Box<dyn Subscription>,
    funded: BTreeSet<PortfolioId>,
    /// Market data fed to the venue and not yet covered by a checkpoint.
    acks: Vec<Delivery>,
    /// What the last [`GatewayVenue::checkpoint`] covers: acknowledged once it is durable,
    /// while the loop goes on reading into `acks`.
    covered: Vec<Delivery>,
    /// A portfolio still reading holds market data older than the hold: read no more until it
    /// moves on ([`EventTimeVenue::flush_old`]); the bus keeps the rest.
    held: bool,
    /// Orders that found the venue fed past their stamp ([`GatewayVenue::priced_late`]).
    priced_late: u64,
    /// Orders of portfolios sharing a symbol go in the order of their stamps
    /// ([`GatewayVenue::in_turn`]).
    lockstep: bool,
    /// The portfolios heard from since this gateway started ([`GatewayVenue::meet`]): the
    /// first word of each reads the registry again.
    heard: BTreeSet<PortfolioId>,
    /// `[gateway] sim_rehearse_us`: the last order run again on a copy while idle.
    rehearsals: Option<Rehearsals>,
}

impl SimGatewayVenue {
    /// Subscribes to market data (group `<gateway id>.sim`) and restores the venue from
    /// `checkpoint` when there is one.
    ///
    /// # Errors
    /// The subscription fails, or the checkpoint is not the simulation's.
    pub async fn start(
        rt: &Runtime,
        gateway_id: &str,
        hold_ms: i64,
        lockstep: bool,
        rehearse_every: Option<Duration>,
        checkpoint: Option<serde_json::Value>,
    ) -> anyhow::Result<Self> {
        let market = rt
            .bus
            .subscribe(
                &rt.topics.name(Topic::MarketData),
                &rt.topics.group(&format!("{gateway_id}.sim")),
            )
            .await?;
        let (sim, funded) = match checkpoint {
            Some(state) => {
                let state: SimCheckpoint = serde_json::from_value(state)
                    .map_err(|e| anyhow::anyhow!("not a simulated venue's checkpoint: {e}"))?;
                (EventTimeVenue::restore(state.sim, hold_ms), state.funded)
            }
            None => (EventTimeVenue::new(hold_ms), BTreeSet::new()),
        };
        let mut venue = Self {
            sim,
            market,
            funded,
            acks: Vec::new(),
            covered: Vec::new(),
            held: false,
            priced_late: 0,
            lockstep,
            heard: BTreeSet::new(),
            rehearsals: rehearse_every.map(Rehearsals::new),
        };
        venue.learn_registered(rt).await;
        Ok(venue)
    }

    /// Registers every portfolio the registry runs (active or paused) as a trader of its
    /// symbols before any market data is read: one that first speaks after the gateway has
    /// read a day of a replay would otherwise find that data fed past it. Read again at each
    /// portfolio's first word ([`GatewayVenue::meet`]): a read while a node was registering
    /// its portfolios one by one saw only some of them, and the orders of one it saw would
    /// then move the venue past those of one it missed. Best effort: a portfolio missed
    /// (the store is down, or it is registered after the others spoke) is learnt from its
    /// first progress or order. Returns whether the registry was read.
    async fn learn_registered(&mut self, rt: &Runtime) -> bool {
        let records = match rt.store.list_portfolios().await {
            Ok(records) => records,
            Err(e) => {
                tracing::warn!("portfolios not listed; each is learnt when it first speaks: {e}");
                return false;
            }
        };
        let now = Instant::now();
        for record in records {
            // One already met keeps when it last spoke (a silent one stays silent).
            if record.status == chimera_ports::PortfolioStatus::Stopped
                || self.sim.knows_trader(&record.id)
            {
                continue;
            }
            match books_of(&record) {
                Ok(books) => self.sim.trade(&record.id, &symbols_of(&books), now),
                Err(e) => {
                    tracing::warn!(portfolio = %record.id, "not followed by the venue: {e:#}");
                }
            }
        }
        true
    }

    /// Buffers up to `max` market-data deliveries, waiting up to `wait` for the first.
    async fn take_market(
        &mut self,
        rt: &Runtime,
        max: usize,
        wait: Duration,
    ) -> anyhow::Result<usize> {
        let mut n = 0;
        while n < max {
            let polled = self
                .market
                .poll(if n == 0 { wait } else { Duration::ZERO })
                .await;
            match polled {
                Ok(Some(d)) => {
                    n += 1;
                    // In process, the feed's envelope as it was encoded (`Delivery::shared`).
                    let shared = d
                        .shared
                        .as_ref()
                        .and_then(|s| s.get::<Envelope<MarketEvent>>());
                    let decoded = match shared {
                        Some(env) => Ok(env.payload.clone()),
                        None => decode::<MarketEvent>(&d.payload, MessageType::MarketEvent)
                            .map(|env| env.payload),
                    };
                    match decoded {
                        Ok(event) => self.sim.buffer(event, d),
                        Err(error) => {
                            rt.dead_letter(&d, &error)
                                .await
                                .map_err(|e| fatal("dead letter", &e))?;
                            self.sim.skip(d);
                        }
                    }
                }
                Ok(None) => break,
                Err(e) if e.is_transient() => break,
                Err(e) => return Err(fatal("poll market data", &e)),
            }
        }
        Ok(n)
    }

    /// Reads market data until `symbol` has reached `ts` (the order's own time), so the venue
    /// prices the order with the data it was decided on.
    async fn catch_up(
        &mut self,
        rt: &Runtime,
        symbol: &Symbol,
        ts: Timestamp,
    ) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        while !self.sim.covers(symbol, ts) {
            if started.elapsed() > MARKET_CATCH_UP || rt.shutdown.is_triggered() {
                rt.alert(
                    AlertLevel::Warning,
                    AlertCode::MarketDataBehind,
                    format!(
                        "no {symbol} market data up to {ts} after {MARKET_CATCH_UP:?}; sending \
                         the order anyway"
                    ),
                    None,
                );
                return Ok(());
            }
            self.take_market(rt, MARKET_BATCH, Duration::from_millis(50))
                .await?;
        }
        Ok(())
    }

    /// Opens and funds `portfolio`'s account from its registered books, once.
    async fn fund(&mut self, rt: &Runtime, portfolio: &PortfolioId) -> anyhow::Result<bool> {
        if self.funded.contains(portfolio) {
            return Ok(true);
        }
        let Some(books) = books(rt, portfolio).await? else {
            return Ok(false);
        };
        self.learn(portfolio, Some(&books));
        Ok(true)
    }

    /// At `portfolio`'s first word, from one read of its registered books: opens and funds
    /// its account, so its first order does not wait for that read (a database round trip:
    /// 125–380 µs of the first order's time on SQLite in process, a network round trip on
    /// PostgreSQL), and registers which symbols it trades. A portfolio the store does not
    /// know or cannot build is registered as trading nothing: its promises then govern no
    /// data, and its first order reads its books again and is refused or fails with the
    /// reason.
    ///
    /// # Errors
    /// The store failed.
    async fn learn_portfolio(
        &mut self,
        rt: &Runtime,
        portfolio: &PortfolioId,
    ) -> anyhow::Result<()> {
        let books = match books(rt, portfolio).await {
            Ok(books) => books,
            Err(e) if e.is::<chimera_ports::PortError>() => return Err(e),
            Err(e) => {
                tracing::warn!(%portfolio, "no account, and its progress feeds nothing: {e:#}");
                None
            }
        };
        self.learn(portfolio, books.as_ref());
        Ok(())
    }

    /// What `portfolio`'s books (`None`: none to read) open: its funded account, once, and
    /// the symbols it trades, once.
    fn learn(
        &mut self,
        portfolio: &PortfolioId,
        books: Option<&chimera_kernel::portfolio::Portfolio>,
    ) {
        if let Some(books) = books {
            if self.funded.insert(portfolio.clone()) {
                self.sim.fund(books);
            }
        }
        if !self.sim.knows_trader(portfolio) {
            let symbols = books.map(symbols_of).unwrap_or_default();
            self.sim.trade(portfolio, &symbols, Instant::now());
        }
    }
}

/// `portfolio`'s books from its registered spec (`None`: not registered).
///
/// # Errors
/// The store failed ([`chimera_ports::PortError`] in the chain), or the spec does not parse or
/// build.
async fn books(
    rt: &Runtime,
    portfolio: &PortfolioId,
) -> anyhow::Result<Option<chimera_kernel::portfolio::Portfolio>> {
    let Some(record) = rt.store.get_portfolio(portfolio).await? else {
        return Ok(None);
    };
    books_of(&record).map(Some)
}

/// The books `record`'s spec describes.
///
/// # Errors
/// The spec does not parse or build.
fn books_of(
    record: &chimera_ports::PortfolioRecord,
) -> anyhow::Result<chimera_kernel::portfolio::Portfolio> {
    let spec: PortfolioSpec = serde_json::from_str(&record.config)?;
    spec.build_portfolio()
        .map_err(|p| anyhow::anyhow!(p.join("; ")))
}

/// The symbols `books` trades.
fn symbols_of(books: &chimera_kernel::portfolio::Portfolio) -> Vec<Symbol> {
    books.instruments.keys().cloned().collect()
}

#[async_trait]
impl GatewayVenue for SimGatewayVenue {
    fn trading(&self) -> &dyn ExecutionVenue {
        self.sim.venue()
    }

    async fn turn(&mut self, rt: &std::sync::Arc<Runtime>) -> anyhow::Result<usize> {
        // Without waiting: market data first, so the venue knows prices before the orders
        // stamped with them arrive; none while a portfolio still reading holds data older than
        // the hold (an order it needs data for reads it on its own path, `catch_up`).
        let read = if self.held {
            0
        } else {
            self.take_market(rt, MARKET_BATCH, Duration::ZERO).await?
        };
        let now = Instant::now();
        if read > 0 {
            self.sim.feed_all_promised(now);
        }
        self.held = self.sim.flush_old(now);
        self.acks.extend(self.sim.take_acks());
        Ok(read)
    }

    async fn prepare(&mut self, rt: &Runtime, intent: &OrderIntent) -> anyhow::Result<bool> {
        if !self.fund(rt, &intent.portfolio_id).await? {
            return Ok(false);
        }
        self.catch_up(rt, &intent.symbol, intent.created_at).await?;
        if self.sim.fed_past(&intent.symbol, intent.created_at) {
            self.priced_late += 1;
        }
        self.sim.feed_until(&intent.symbol, intent.created_at);
        if let Some(rehearsals) = &mut self.rehearsals {
            rehearsals.executed(intent);
        }
        // Its stamp promises as much as a progress message would.
        self.sim
            .promise(&intent.portfolio_id, intent.created_at, Instant::now());
        Ok(true)
    }

    async fn progress(
        &mut self,
        rt: &Runtime,
        portfolio: &PortfolioId,
        clock: Timestamp,
    ) -> anyhow::Result<()> {
        self.meet(rt, portfolio).await?;
        self.sim.promise(portfolio, clock, Instant::now());
        Ok(())
    }

    async fn meet(&mut self, rt: &Runtime, portfolio: &PortfolioId) -> anyhow::Result<()> {
        if self.heard.contains(portfolio) {
            return Ok(());
        }
        // Its first word since the gateway started, known from the registry or not: the
        // registry may hold more since it was read (a node registers all its portfolios
        // before any of them speaks, but one row at a time), and they all trade from now on.
        let listed = self.learn_registered(rt).await;
        if !self.funded.contains(portfolio) || !self.sim.knows_trader(portfolio) {
            self.learn_portfolio(rt, portfolio).await?;
        }
        // A registry that could not be read is read again at its next word.
        if listed {
            self.heard.insert(portfolio.clone());
        }
        Ok(())
    }

    fn fed_ahead(&self) -> u64 {
        self.sim.fed_on_promises()
    }

    fn priced_late(&self) -> u64 {
        self.priced_late
    }

    fn in_turn(&self, portfolio: &PortfolioId, symbol: &Symbol, ts: Timestamp) -> bool {
        !self.lockstep || self.sim.in_turn(portfolio, symbol, ts, Instant::now())
    }

    fn knowledge(&self, intent: &OrderIntent) -> Knowledge {
        let known = self.sim.venue().with_exchange(|x| {
            x.knows(
                &intent.client_order_id,
                &intent.portfolio_id,
                intent.created_at,
            )
        });
        match known {
            chimera_sim::Knowledge::Received => Knowledge::Received,
            chimera_sim::Knowledge::NeverReceived => Knowledge::NeverReceived,
            chimera_sim::Knowledge::Forgotten => Knowledge::Unknown,
        }
    }

    fn checkpoint(&mut self, out: &mut Vec<u8>) -> anyhow::Result<bool> {
        self.acks.extend(self.sim.take_acks());
        self.covered.append(&mut self.acks);
        // A delivery per partition per turn since the last checkpoint: the newest of each
        // stands for the rest (on Kafka each would be a commit the loop waits for).
        self.covered = chimera_ports::newest_per_partition(self.covered.drain(..));
        // `{"sim":…,"funded":[…]}`, written in place.
        out.extend_from_slice(b"{\"sim\":");
        self.sim.checkpoint_into(out)?;
        out.extend_from_slice(b",\"funded\":");
        serde_json::to_writer(&mut *out, &self.funded)?;
        out.push(b'}');
        Ok(true)
    }

    fn rehearsal_due(&self) -> Option<Duration> {
        self.rehearsals.as_ref()?.left()
    }

    fn rehearsal(&mut self) -> Option<Rehearsal> {
        let intent = self.rehearsals.as_mut()?.take()?;
        // What `prepare` reads of an order that finds its account funded and its market data
        // fed (nothing to change, so nothing is).
        std::hint::black_box((
            self.funded.contains(&intent.portfolio_id),
            self.sim.covers(&intent.symbol, intent.created_at),
            self.sim.fed_past(&intent.symbol, intent.created_at),
        ));
        let stage = self.sim.venue().inspect(|x| x.stage(&intent));
        Some(Rehearsal {
            intent,
            stage: Box::new(chimera_sim::SimVenue::from_exchange(stage)),
        })
    }

    fn rehearsals(&self) -> u64 {
        self.rehearsals.as_ref().map_or(0, Rehearsals::runs)
    }

    fn has_unacknowledged(&self) -> bool {
        !self.acks.is_empty()
    }

    async fn acknowledge(&mut self, rt: &Runtime) -> anyhow::Result<()> {
        for d in self.covered.drain(..) {
            rt.ack(&mut self.market, &d)
                .await
                .map_err(|e| fatal("ack", &e))?;
        }
        Ok(())
    }

    fn now(&self) -> Timestamp {
        self.sim
            .venue()
            .with_exchange(|x| x.now())
            .max(Timestamp(0))
    }

    fn depth(
        &self,
        symbol: &chimera_kernel::ids::Symbol,
    ) -> (
        Vec<chimera_kernel::event::BookLevel>,
        Vec<chimera_kernel::event::BookLevel>,
    ) {
        self.sim
            .venue()
            .with_exchange(|x| x.depth(symbol, chimera_kernel::tca::TCA_LEVELS))
    }
}
