//! Executing order commands on the venue, recording orders and fills, publishing reports.

use super::GatewayFigures;
use crate::portfolio_spec::PortfolioSpec;
use crate::runtime::{fatal, Runtime};
use crate::sim_clock::EventTimeSim;
use chimera_kernel::engine::Command;
use chimera_kernel::event::{ExecutionReport, MarketEvent, RejectReason, ReportKind};
use chimera_kernel::ids::{ClientOrderId, PortfolioId};
use chimera_kernel::order::{Order, OrderIntent, OrderStatus};
use chimera_messages::{decode, AlertCode, AlertLevel, MessageType, Topic};
use chimera_ports::{
    ExecutionVenue, FillRecord, FillRepository, OrderRepository, PortfolioRepository, Subscription,
};
use chimera_sim::Knowledge;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

pub(super) struct Gateway {
    pub(super) rt: Arc<Runtime>,
    pub(super) market: Box<dyn Subscription>,
    pub(super) sim: EventTimeSim,
    orders: HashMap<ClientOrderId, Order>,
    pub(super) funded: BTreeSet<PortfolioId>,
    pub(super) figures: GatewayFigures,
}

/// How long an order waits for the market data it was decided on before it goes to the
/// venue regardless.
const MARKET_CATCH_UP: Duration = Duration::from_secs(30);

impl Gateway {
    pub(super) fn new(
        rt: Arc<Runtime>,
        market: Box<dyn Subscription>,
        sim: EventTimeSim,
        funded: BTreeSet<PortfolioId>,
    ) -> Self {
        Self {
            rt,
            market,
            sim,
            orders: HashMap::new(),
            funded,
            figures: GatewayFigures::default(),
        }
    }

    /// Buffers up to `max` market-data deliveries, waiting up to `wait` for the first; returns
    /// how many arrived.
    pub(super) async fn take_market(
        &mut self,
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
                    match decode::<MarketEvent>(&d.payload, MessageType::MarketEvent) {
                        Ok(env) => self.sim.buffer(env.payload, d),
                        Err(error) => {
                            self.rt
                                .dead_letter(&d, &error)
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

    /// Reads market data until `symbol` has reached `ts` (the order's own time), so the
    /// venue prices the order with the data it was decided on.
    async fn catch_up(
        &mut self,
        symbol: &chimera_kernel::ids::Symbol,
        ts: chimera_kernel::time::Timestamp,
    ) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        while !self.sim.covers(symbol, ts) {
            if started.elapsed() > MARKET_CATCH_UP || self.rt.shutdown.is_triggered() {
                self.rt
                    .alert(
                        AlertLevel::Warning,
                        AlertCode::MarketDataBehind,
                        format!("no {symbol} market data up to {ts} after {MARKET_CATCH_UP:?}; sending the order anyway"),
                        None,
                    )
                    .await;
                return Ok(());
            }
            self.take_market(512, Duration::from_millis(50)).await?;
        }
        Ok(())
    }

    pub(super) async fn handle(&mut self, command: Command) -> anyhow::Result<()> {
        match command {
            Command::Submit(intent) => self.submit(intent).await,
            Command::Cancel(request) => {
                self.sim.venue().cancel(&request).await?;
                self.publish_reports().await
            }
        }
    }

    async fn fund(&mut self, portfolio: &PortfolioId) -> anyhow::Result<bool> {
        if self.funded.contains(portfolio) {
            return Ok(true);
        }
        let Some(record) = self.rt.store.get_portfolio(portfolio).await? else {
            return Ok(false);
        };
        let spec: PortfolioSpec = serde_json::from_str(&record.config)?;
        let books = spec
            .build_portfolio()
            .map_err(|p| anyhow::anyhow!(p.join("; ")))?;
        self.sim.venue().with_exchange(|x| {
            for instrument in books.instruments.values() {
                x.add_instrument(instrument.clone());
            }
            for (asset, amount) in &books.balances {
                x.deposit(portfolio, asset.clone(), *amount);
            }
        });
        self.funded.insert(portfolio.clone());
        Ok(true)
    }

    async fn submit(&mut self, intent: OrderIntent) -> anyhow::Result<()> {
        let rt = Arc::clone(&self.rt);
        if !self.fund(&intent.portfolio_id).await? {
            rt.alert(
                AlertLevel::Error,
                AlertCode::UnknownPortfolio,
                format!(
                    "intent {} for unknown portfolio {}",
                    intent.intent_id, intent.portfolio_id
                ),
                Some(intent.portfolio_id.clone()),
            )
            .await;
            return Ok(());
        }
        let coid = intent.client_order_id.clone();
        let stored = rt
            .retry("read order", || rt.store.get_order(&coid))
            .await
            .map_err(|e| fatal("read order", &e))?;
        let knowledge = self
            .sim
            .venue()
            .with_exchange(|x| x.knows(&coid, intent.created_at));
        let handled_before = match knowledge {
            Knowledge::Received => true,
            // Too old for the venue to remember: the records decide.
            Knowledge::Forgotten => stored
                .as_ref()
                .is_some_and(|o| o.status != OrderStatus::PendingNew),
            // A record without the venue having it: the gateway died after executing it and
            // before its checkpoint. Executing it again on the restored venue reproduces the
            // same reports; the records (keyed by client order id and trade id) absorb them.
            Knowledge::NeverReceived => false,
        };
        if handled_before {
            self.figures.duplicates += 1;
            if let Some(order) = stored.filter(|o| o.status != OrderStatus::PendingNew) {
                // A pending one has its reports still to come.
                self.republish(&order).await?;
            }
            return Ok(());
        }
        if stored.is_none() {
            let order = Order::new(intent.clone());
            rt.retry("record order", || rt.store.upsert_order(&order))
                .await
                .map_err(|e| fatal("record order", &e))?;
        }
        self.orders.insert(coid, Order::new(intent.clone()));
        self.catch_up(&intent.symbol, intent.created_at).await?;
        self.sim.feed_until(&intent.symbol, intent.created_at);
        self.sim.venue().submit(&intent).await?;
        self.figures.submitted += 1;
        self.publish_reports().await
    }

    /// Publishes a recorded order's state again: acceptance, each fill, its end.
    async fn republish(&mut self, order: &Order) -> anyhow::Result<()> {
        let mut kinds = if order.status == OrderStatus::Rejected {
            // The venue's reason is not recorded with the order; the node still learns the end.
            vec![ReportKind::Rejected {
                reason: RejectReason::VenueError,
                message: "rejected earlier (reason not recorded); published again after a restart"
                    .into(),
            }]
        } else {
            vec![ReportKind::Accepted]
        };
        let n = order.fills.len();
        for (i, fill) in order.fills.iter().enumerate() {
            kinds.push(if i + 1 == n && order.status == OrderStatus::Filled {
                ReportKind::Filled(fill.clone())
            } else {
                ReportKind::PartiallyFilled(fill.clone())
            });
        }
        match order.status {
            OrderStatus::Canceled => kinds.push(ReportKind::Canceled),
            OrderStatus::Expired => kinds.push(ReportKind::Expired),
            _ => {}
        }
        for kind in kinds {
            let report = ExecutionReport {
                portfolio_id: order.intent.portfolio_id.clone(),
                client_order_id: order.intent.client_order_id.clone(),
                venue_order_id: order.venue_order_id.clone(),
                symbol: order.intent.symbol.clone(),
                ts: order.updated_at,
                kind,
            };
            self.publish(&report).await?;
        }
        Ok(())
    }

    pub(super) async fn publish_reports(&mut self) -> anyhow::Result<()> {
        while let Some(report) = self.sim.venue().next_report(Duration::ZERO).await? {
            self.record(&report).await?;
            self.publish(&report).await?;
        }
        Ok(())
    }

    async fn record(&mut self, report: &ExecutionReport) -> anyhow::Result<()> {
        let rt = Arc::clone(&self.rt);
        if !self.orders.contains_key(&report.client_order_id) {
            // Resting on a venue restored from a checkpoint: the record has the order.
            let coid = report.client_order_id.clone();
            let stored = rt
                .retry("read order", || rt.store.get_order(&coid))
                .await
                .map_err(|e| fatal("read order", &e))?;
            let Some(stored) = stored else {
                return Ok(());
            };
            self.orders.insert(coid, stored);
        }
        let Some(order) = self.orders.get_mut(&report.client_order_id) else {
            return Ok(());
        };
        if order.apply(report).is_err() {
            return Ok(()); // a duplicate or stale report: the recorded order stays as it is
        }
        let order = order.clone();
        rt.retry("record order", || rt.store.upsert_order(&order))
            .await
            .map_err(|e| fatal("record order", &e))?;
        if let Some(fill) = report.fill() {
            let record = FillRecord {
                portfolio_id: report.portfolio_id.clone(),
                client_order_id: report.client_order_id.clone(),
                symbol: report.symbol.clone(),
                side: order.intent.side,
                fill: fill.clone(),
                ts: report.ts,
            };
            rt.retry("record fill", || rt.store.record_fill(&record))
                .await
                .map_err(|e| fatal("record fill", &e))?;
            self.figures.fills += 1;
        }
        if order.status.is_terminal() {
            self.orders.remove(&report.client_order_id);
        }
        Ok(())
    }

    async fn publish(&mut self, report: &ExecutionReport) -> anyhow::Result<()> {
        let id = format!(
            "{}:{}:{}",
            report.client_order_id,
            report_tag(&report.kind),
            report.ts.0
        );
        self.rt
            .publish(
                Topic::OrdersFeedback,
                MessageType::ExecutionReport,
                id,
                report.portfolio_id.as_str(),
                report,
            )
            .await
            .map_err(|e| fatal("publish report", &e))?;
        self.figures.reports += 1;
        Ok(())
    }
}

fn report_tag(kind: &ReportKind) -> String {
    match kind {
        ReportKind::Accepted => "accepted".into(),
        ReportKind::Rejected { .. } => "rejected".into(),
        ReportKind::PartiallyFilled(f) | ReportKind::Filled(f) => format!("fill:{}", f.trade_id),
        ReportKind::Canceled => "canceled".into(),
        ReportKind::Expired => "expired".into(),
        ReportKind::CancelRejected { .. } => "cancel_rejected".into(),
    }
}
