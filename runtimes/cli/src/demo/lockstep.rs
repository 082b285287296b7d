//! A single-process runtime in lockstep over the ports: a feed publishes market data on the
//! bus, a node routes it to the interested portfolios (interest map) and publishes their order
//! intents, a gateway sends intents to the venue and publishes its execution reports, and the
//! node applies them. Each market event is carried through every hop before the next is
//! published, so the run is deterministic even though every hop goes through the bus.

use chimera_kernel::engine::{Command, Output, PortfolioEngine, PortfolioSet};
use chimera_kernel::event::{ExecutionReport, MarketEvent};
use chimera_ports::{EventBus, ExecutionVenue, Subscription};
use chimera_sim::{
    finish_all, BacktestSummary, EquityCurves, FillCostTracker, FillRow, Recorder, SimVenue,
};
use std::time::Duration;

/// Topic names (with the demo prefix).
pub(crate) const MARKET_DATA: &str = "chimera.demo.market.data";
pub(crate) const ORDERS_SUBMISSION: &str = "chimera.demo.orders.submission";
pub(crate) const ORDERS_FEEDBACK: &str = "chimera.demo.orders.feedback";

/// The demo's node, gateway and feed sharing one bus and one venue.
pub(crate) struct Lockstep<'a> {
    bus: &'a dyn EventBus,
    venue: &'a SimVenue,
    set: PortfolioSet,
    recorders: Vec<Recorder>,
    node_market: Box<dyn Subscription>,
    node_feedback: Box<dyn Subscription>,
    gateway_market: Box<dyn Subscription>,
    gateway_orders: Box<dyn Subscription>,
    fills: Vec<FillRow>,
    /// The market at each order's send, for its fills' transaction costs.
    costs: FillCostTracker,
    events: u64,
    undecodable: u64,
    last_ts: chimera_kernel::time::Timestamp,
    /// Answers the engines' requests (budgets shared by the demo's portfolios, models).
    services: chimera_kernel::decision::LocalServices,
    decisions: Vec<chimera_kernel::decision::DecisionRecord>,
    refusals: Vec<chimera_kernel::engine::Refusal>,
}

fn decode<T: serde::de::DeserializeOwned>(payload: &[u8]) -> Option<T> {
    serde_json::from_slice(payload).ok()
}

impl<'a> Lockstep<'a> {
    /// Subscribes the node and the gateway.
    pub(crate) async fn new(
        bus: &'a dyn EventBus,
        venue: &'a SimVenue,
        engines: Vec<PortfolioEngine>,
        sample_ms: i64,
    ) -> anyhow::Result<Self> {
        let mut set = PortfolioSet::new();
        let recorders = engines.iter().map(|_| Recorder::new(sample_ms)).collect();
        for engine in engines {
            set.add(engine);
        }
        Ok(Self {
            node_market: bus.subscribe(MARKET_DATA, "node").await?,
            node_feedback: bus.subscribe(ORDERS_FEEDBACK, "node").await?,
            gateway_market: bus.subscribe(MARKET_DATA, "gateway").await?,
            gateway_orders: bus.subscribe(ORDERS_SUBMISSION, "gateway").await?,
            bus,
            venue,
            set,
            recorders,
            fills: Vec::new(),
            costs: FillCostTracker::default(),
            events: 0,
            undecodable: 0,
            last_ts: chimera_kernel::time::Timestamp(0),
            services: chimera_kernel::decision::LocalServices::default(),
            decisions: Vec::new(),
            refusals: Vec::new(),
        })
    }

    /// Carries one market event through feed → gateway/venue → node → gateway → node. Deadlines
    /// due by the event's time fire first and their orders reach the venue before the event,
    /// as in the backtest.
    pub(crate) async fn step(&mut self, event: &MarketEvent) -> anyhow::Result<()> {
        self.events += 1;
        self.last_ts = event.ts();
        self.set.advance(event.ts());
        self.node_publish_outputs().await?;
        self.gateway_take_orders().await?;
        self.node_take_feedback().await?;
        self.bus
            .publish(
                MARKET_DATA,
                event.symbol().as_str(),
                &serde_json::to_vec(event)?,
            )
            .await?;
        self.gateway_take_market().await?;
        self.node_take_market().await?;
        self.gateway_take_orders().await?;
        self.node_take_feedback().await?;
        Ok(())
    }

    async fn drain(
        sub: &mut Box<dyn Subscription>,
    ) -> anyhow::Result<Vec<chimera_ports::Delivery>> {
        let mut out = Vec::new();
        while let Some(d) = sub.poll(Duration::ZERO).await? {
            out.push(d);
        }
        Ok(out)
    }

    async fn gateway_take_market(&mut self) -> anyhow::Result<()> {
        for d in Self::drain(&mut self.gateway_market).await? {
            match decode::<MarketEvent>(&d.payload) {
                Some(event) => self.venue.on_market(&event),
                None => self.undecodable += 1,
            }
            self.gateway_market.ack(&d).await?;
        }
        self.gateway_publish_reports().await
    }

    async fn gateway_publish_reports(&mut self) -> anyhow::Result<()> {
        while let Some(report) = self.venue.next_report(Duration::ZERO).await? {
            self.bus
                .publish(
                    ORDERS_FEEDBACK,
                    report.portfolio_id.as_str(),
                    &serde_json::to_vec(&report)?,
                )
                .await?;
        }
        Ok(())
    }

    async fn gateway_take_orders(&mut self) -> anyhow::Result<()> {
        for d in Self::drain(&mut self.gateway_orders).await? {
            match decode::<Command>(&d.payload) {
                Some(Command::Submit(intent)) => {
                    let costs = &mut self.costs;
                    self.venue.with_exchange(|x| x.note_submit(costs, &intent));
                    self.venue.submit(&intent).await?;
                }
                Some(Command::Cancel(request)) => self.venue.cancel(&request).await?,
                Some(Command::Amend(request)) => self.venue.amend(&request).await?,
                Some(Command::SubmitList(list)) => {
                    let costs = &mut self.costs;
                    self.venue.with_exchange(|x| {
                        for leg in &list.orders {
                            x.note_submit(costs, leg);
                        }
                    });
                    self.venue.submit_list(&list).await?;
                }
                Some(Command::CancelReplace(request)) => {
                    let costs = &mut self.costs;
                    self.venue
                        .with_exchange(|x| x.note_submit(costs, &request.replacement));
                    self.venue.cancel_replace(&request).await?;
                }
                None => self.undecodable += 1,
            }
            self.gateway_orders.ack(&d).await?;
        }
        self.gateway_publish_reports().await
    }

    async fn node_take_market(&mut self) -> anyhow::Result<()> {
        for d in Self::drain(&mut self.node_market).await? {
            if let Some(event) = decode::<MarketEvent>(&d.payload) {
                self.set.on_market(&event);
                self.node_publish_outputs().await?;
                let now = event.ts();
                for &i in self.set.interested(event.symbol()) {
                    self.recorders[i].maybe_sample(self.set.engine(i), now);
                }
            } else {
                self.undecodable += 1;
            }
            self.node_market.ack(&d).await?;
        }
        Ok(())
    }

    /// Publishes the engines' commands on the submission topic, answers their requests in
    /// place and keeps their decisions and refusals for the report (other outputs are counted
    /// by the engines and reported in the summaries).
    async fn node_publish_outputs(&mut self) -> anyhow::Result<()> {
        while let Some((_, output)) = self.set.poll_output() {
            match output {
                Output::Command(command) => {
                    self.bus
                        .publish(
                            ORDERS_SUBMISSION,
                            command.portfolio_id().as_str(),
                            &serde_json::to_vec(&command)?,
                        )
                        .await?;
                }
                Output::Request(request) => {
                    let response = self.services.answer(&request);
                    self.set.on_response(&response, request.created_at);
                }
                Output::Decision(decision) => self.decisions.push(*decision),
                Output::Refused(refusal) => self.refusals.push(refusal),
                _ => {}
            }
        }
        Ok(())
    }

    /// The decisions and refusals so far.
    pub(crate) fn take_records(
        &mut self,
    ) -> (
        Vec<chimera_kernel::decision::DecisionRecord>,
        Vec<chimera_kernel::engine::Refusal>,
    ) {
        (
            std::mem::take(&mut self.decisions),
            std::mem::take(&mut self.refusals),
        )
    }

    async fn node_take_feedback(&mut self) -> anyhow::Result<()> {
        for d in Self::drain(&mut self.node_feedback).await? {
            match decode::<ExecutionReport>(&d.payload) {
                Some(report) => {
                    if let Some(i) = self.set.index_of(&report.portfolio_id) {
                        let costs = self.costs.on_report(&report);
                        if let Some(row) =
                            self.recorders[i].on_report(self.set.engine(i), &report, costs)
                        {
                            self.fills.push(row);
                        }
                        self.set.on_report(&report);
                    }
                }
                None => self.undecodable += 1,
            }
            self.node_feedback.ack(&d).await?;
        }
        self.node_publish_outputs().await
    }

    /// Stops every strategy and carries what their stop hooks sent through the venue.
    pub(crate) async fn stop(&mut self) -> anyhow::Result<()> {
        self.set.stop();
        self.node_publish_outputs().await?;
        self.gateway_take_orders().await?;
        self.node_take_feedback().await
    }

    /// Events carried so far.
    pub(crate) fn events(&self) -> u64 {
        self.events
    }

    /// Messages that could not be decoded (none are expected in the demo).
    pub(crate) fn undecodable(&self) -> u64 {
        self.undecodable
    }

    /// Summaries, curves and fills.
    pub(crate) fn finish(mut self) -> (Vec<BacktestSummary>, EquityCurves, Vec<FillRow>) {
        let runs = self.set.engines().iter().zip(self.recorders.iter_mut());
        let (summaries, curves) = finish_all(runs, self.last_ts, self.events);
        (summaries, curves, self.fills)
    }
}
