//! The trade gateway: consumes `orders.submission`, executes each command on the venue, records
//! orders and fills, and publishes the venue's reports on `orders.feedback`.
//!
//! Idempotent by intent id across restarts: the client order id derives from the intent id; an
//! intent whose order is already recorded is not sent again — its recorded state is published
//! again instead (the node recognises fills it has by trade id). An order recorded as pending
//! but unknown to the venue (the gateway died between recording and sending) is sent.
//!
//! With the simulated venue the gateway also consumes `market.data` and keeps the venue in
//! event time ([`crate::sim_clock::EventTimeSim`]), so fills do not depend on message timing.

use crate::config::GatewayConfig;
use crate::portfolio_spec::PortfolioSpec;
use crate::runtime::{fatal, Runtime};
use crate::sim_clock::EventTimeSim;
use chimera_kernel::engine::Command;
use chimera_kernel::event::{ExecutionReport, MarketEvent, RejectReason, ReportKind};
use chimera_kernel::ids::{ClientOrderId, PortfolioId};
use chimera_kernel::order::{Order, OrderIntent, OrderStatus};
use chimera_messages::{decode, AlertLevel, MessageType, Topic};
use chimera_ports::{
    ExecutionVenue, FillRecord, FillRepository, OrderRepository, PortfolioRepository, Subscription,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Gateway counters at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GatewayFigures {
    /// Intents sent to the venue.
    pub submitted: u64,
    /// Intents recognised as already handled.
    pub duplicates: u64,
    /// Fills recorded.
    pub fills: u64,
    /// Reports published.
    pub reports: u64,
}

struct Gateway {
    rt: Arc<Runtime>,
    market: Box<dyn Subscription>,
    sim: EventTimeSim,
    orders: HashMap<ClientOrderId, Order>,
    funded: HashSet<PortfolioId>,
    figures: GatewayFigures,
}

/// Runs the gateway until shutdown or a fatal error.
///
/// # Errors
/// A fatal bus or database failure.
pub async fn run_gateway(
    rt: Arc<Runtime>,
    config: &GatewayConfig,
) -> anyhow::Result<GatewayFigures> {
    let mut orders = rt
        .bus
        .subscribe(&rt.topics.name(Topic::OrdersSubmission), &config.id)
        .await?;
    let market = rt
        .bus
        .subscribe(
            &rt.topics.name(Topic::MarketData),
            &format!("{}.sim", config.id),
        )
        .await?;
    let mut gw = Gateway {
        market,
        sim: EventTimeSim::new(config.sim_hold_ms),
        rt: Arc::clone(&rt),
        orders: HashMap::new(),
        funded: HashSet::new(),
        figures: GatewayFigures::default(),
    };
    let mut shutdown = rt.shutdown.clone();
    loop {
        // Market data first (without waiting), so the venue knows prices before the orders
        // stamped with them arrive.
        let idle = gw.take_market(512, Duration::ZERO).await? == 0;
        gw.sim.flush_old();
        gw.publish_reports().await?;
        for d in gw.sim.take_acks() {
            rt.ack(&mut gw.market, &d)
                .await
                .map_err(|e| fatal("ack", &e))?;
        }
        let wait = if idle {
            Duration::from_millis(20)
        } else {
            Duration::ZERO
        };
        let polled = tokio::select! {
            polled = orders.poll(wait) => polled,
            () = shutdown.wait() => break,
        };
        match polled {
            Ok(Some(d)) => {
                match decode::<Command>(&d.payload, MessageType::OrderCommand) {
                    Ok(env) => gw.handle(env.payload).await?,
                    Err(error) => rt
                        .dead_letter(&d, &error)
                        .await
                        .map_err(|e| fatal("dead letter", &e))?,
                }
                rt.ack(&mut orders, &d)
                    .await
                    .map_err(|e| fatal("ack", &e))?;
            }
            Ok(None) => {}
            Err(e) if e.is_transient() => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => return Err(fatal("poll orders", &e)),
        }
    }
    Ok(gw.figures)
}

/// How long an order waits for the market data it was decided on before it goes to the
/// venue regardless.
const MARKET_CATCH_UP: Duration = Duration::from_secs(30);

impl Gateway {
    /// Buffers up to `max` market-data deliveries, waiting up to `wait` for the first; returns
    /// how many arrived.
    async fn take_market(&mut self, max: usize, wait: Duration) -> anyhow::Result<usize> {
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
                        "market_data_behind",
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

    async fn handle(&mut self, command: Command) -> anyhow::Result<()> {
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
                "unknown_portfolio",
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
        let venue_knows = self
            .sim
            .venue()
            .open_orders(&intent.portfolio_id)
            .await?
            .iter()
            .any(|o| o.intent.client_order_id == coid);
        match stored {
            Some(order) if order.status != OrderStatus::PendingNew || venue_knows => {
                self.figures.duplicates += 1;
                self.republish(&order).await?;
                self.orders.insert(coid, order);
                return Ok(());
            }
            Some(order) => {
                self.orders.insert(coid, order);
            }
            None => {
                let order = Order::new(intent.clone());
                rt.retry("record order", || rt.store.upsert_order(&order))
                    .await
                    .map_err(|e| fatal("record order", &e))?;
                self.orders.insert(coid, order);
            }
        }
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

    async fn publish_reports(&mut self) -> anyhow::Result<()> {
        while let Some(report) = self.sim.venue().next_report(Duration::ZERO).await? {
            self.record(&report).await?;
            self.publish(&report).await?;
        }
        Ok(())
    }

    async fn record(&mut self, report: &ExecutionReport) -> anyhow::Result<()> {
        let rt = Arc::clone(&self.rt);
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
