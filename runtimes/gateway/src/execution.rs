//! Executing order commands on the venue, recording orders and fills, publishing reports —
//! over any [`GatewayVenue`], deciding with [`super::decide`].

use super::decide::{decide_submit, report_id, republished_reports, SubmitDecision};
use super::venue::GatewayVenue;
use super::GatewayFigures;
use chimera_kernel::engine::Command;
use chimera_kernel::event::{ExecutionReport, RejectReason, ReportKind};
use chimera_kernel::ids::ClientOrderId;
use chimera_kernel::order::{Order, OrderIntent};
use chimera_kernel::risk::KillMode;
use chimera_kernel::tca::FillCostTracker;
use chimera_messages::{AlertCode, AlertLevel, MessageType, Topic};
use chimera_ports::{FillRecord, FillRepository, OrderRepository};
use chimera_runtime::runtime::{fatal, Runtime};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct Gateway {
    pub(super) rt: Arc<Runtime>,
    pub(super) venue: Box<dyn GatewayVenue>,
    orders: HashMap<ClientOrderId, Order>,
    /// The market at each order's send, for the transaction costs of its fills (not
    /// checkpointed: an order sent before a restart records its fills without costs).
    costs: FillCostTracker,
    pub(super) figures: GatewayFigures,
    /// When each order still waiting for its first fill was sent (order-to-fill latency).
    sent: HashMap<ClientOrderId, std::time::Instant>,
    order_to_fill: metrics::Histogram,
    /// The kill switches, refreshed by the gateway's loop.
    pub(super) kill: super::kill_guard::KillGuard,
}

impl Gateway {
    /// A command refused by the fence: counted and alerted, never executed nor answered (an
    /// answer on `orders.feedback` would reach the portfolio's legitimate owner, whose orders
    /// may carry the same client ids).
    pub(super) async fn fenced(
        &mut self,
        envelope: &chimera_messages::Envelope<Command>,
        fenced: super::fence::Fenced,
    ) {
        self.figures.fenced += 1;
        let portfolio = envelope.payload.portfolio_id().clone();
        self.rt
            .alert(
                chimera_messages::AlertLevel::Critical,
                chimera_messages::AlertCode::FencedOrder,
                format!(
                    "refused {} from {} for portfolio {portfolio}: epoch {} is older than the \
                     current assignment's {}",
                    envelope.id, envelope.source, fenced.got, fenced.current
                ),
                Some(portfolio),
            )
            .await;
    }

    pub(super) fn new(rt: Arc<Runtime>, venue: Box<dyn GatewayVenue>) -> Self {
        let order_to_fill = metrics::histogram!(
            "chimera_order_to_fill_seconds",
            "component" => rt.source.clone()
        );
        let kill = super::kill_guard::KillGuard::new(&rt);
        Self {
            rt,
            venue,
            orders: HashMap::new(),
            costs: FillCostTracker::default(),
            figures: GatewayFigures::default(),
            sent: HashMap::new(),
            kill,
            order_to_fill,
        }
    }

    pub(super) async fn handle(&mut self, command: Command) -> anyhow::Result<()> {
        match command {
            Command::Submit(intent) => self.submit(intent).await,
            Command::Cancel(request) => {
                {
                    let trading = self.venue.trading();
                    until_sent(&self.rt, "cancel", || trading.cancel(&request))
                }
                .await?;
                self.publish_reports().await
            }
            Command::Amend(request) => {
                {
                    let trading = self.venue.trading();
                    until_sent(&self.rt, "amend", || trading.amend(&request))
                }
                .await?;
                self.publish_reports().await
            }
            Command::SubmitList(list) => {
                // Admitted leg by leg (each recorded first); a list whose legs were all handled
                // before is not sent again. A kill switch that refuses one leg refuses them all.
                let kill = list.orders.iter().find_map(|leg| self.kill.refuses(leg));
                let mut send = false;
                for leg in &list.orders {
                    send |= self.admit(leg, kill).await?;
                }
                if !send {
                    return Ok(());
                }
                {
                    let trading = self.venue.trading();
                    until_sent(&self.rt, "submit list", || trading.submit_list(&list))
                }
                .await?;
                self.figures.submitted += 1;
                self.publish_reports().await
            }
            Command::CancelReplace(request) => {
                let kill = self.kill.refuses(&request.replacement);
                if !self.admit(&request.replacement, kill).await? {
                    if kill.is_some() {
                        // The replacement is refused; the order it replaced still goes.
                        {
                            let trading = self.venue.trading();
                            until_sent(&self.rt, "cancel", || trading.cancel(&request.cancel))
                        }
                        .await?;
                        self.publish_reports().await?;
                    }
                    return Ok(());
                }
                {
                    let trading = self.venue.trading();
                    until_sent(&self.rt, "cancel-replace", || {
                        trading.cancel_replace(&request)
                    })
                }
                .await?;
                self.figures.submitted += 1;
                self.publish_reports().await
            }
        }
    }

    async fn submit(&mut self, intent: OrderIntent) -> anyhow::Result<()> {
        let kill = self.kill.refuses(&intent);
        if !self.admit(&intent, kill).await? {
            return Ok(());
        }
        {
            let trading = self.venue.trading();
            until_sent(&self.rt, "submit", || trading.submit(&intent))
        }
        .await?;
        self.figures.submitted += 1;
        self.publish_reports().await
    }

    /// Whether `intent` goes to the venue: not when it was handled before (its recorded state
    /// is published again instead), names a portfolio the venue cannot trade for, or `kill`
    /// (a kill switch's mode) refuses it: then it is recorded and answered as rejected. An
    /// order to send is recorded first.
    async fn admit(
        &mut self,
        intent: &OrderIntent,
        kill: Option<KillMode>,
    ) -> anyhow::Result<bool> {
        let rt = Arc::clone(&self.rt);
        let coid = intent.client_order_id.clone();
        let stored = rt
            .retry("read order", || rt.store.get_order(&coid))
            .await
            .map_err(|e| fatal("read order", &e))?;
        let decision = decide_submit(self.venue.knowledge(intent), stored);
        let record_first = match decision {
            SubmitDecision::Duplicate { republish } => {
                self.figures.duplicates += 1;
                if let Some(order) = republish {
                    for report in republished_reports(&order) {
                        self.publish(&report).await?;
                    }
                }
                return Ok(false);
            }
            SubmitDecision::Send { record_first } => record_first,
        };
        if let Some(mode) = kill {
            self.refuse_killed(intent, record_first, mode).await?;
            return Ok(false);
        }
        if !self.venue.prepare(&rt, intent).await? {
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
            return Ok(false);
        }
        if record_first {
            let order = Order::new(intent.clone());
            rt.retry("record order", || rt.store.upsert_order(&order))
                .await
                .map_err(|e| fatal("record order", &e))?;
        }
        self.sent.insert(coid.clone(), std::time::Instant::now());
        self.orders.insert(coid, Order::new(intent.clone()));
        let (bids, asks) = self.venue.depth(&intent.symbol);
        self.costs.on_submit(intent, bids, asks);
        Ok(true)
    }

    /// Records `intent` as rejected by the kill switch `mode`, answers the node and alerts.
    async fn refuse_killed(
        &mut self,
        intent: &OrderIntent,
        record_first: bool,
        mode: KillMode,
    ) -> anyhow::Result<()> {
        let rt = Arc::clone(&self.rt);
        let order = Order::new(intent.clone());
        if record_first {
            rt.retry("record order", || rt.store.upsert_order(&order))
                .await
                .map_err(|e| fatal("record order", &e))?;
        }
        self.orders.insert(intent.client_order_id.clone(), order);
        let report = ExecutionReport {
            portfolio_id: intent.portfolio_id.clone(),
            client_order_id: intent.client_order_id.clone(),
            venue_order_id: None,
            symbol: intent.symbol.clone(),
            ts: intent.created_at,
            kind: ReportKind::Rejected {
                reason: RejectReason::KillSwitch,
                message: format!("kill switch {mode} holds: only reduce-only orders go out"),
            },
        };
        self.record(&report).await?;
        self.publish(&report).await?;
        self.figures.killed += 1;
        rt.alert(
            AlertLevel::Error,
            AlertCode::KillSwitchRefused,
            format!(
                "refused {} ({:?} {}) of portfolio {}: kill switch {mode}",
                intent.client_order_id, intent.side, intent.symbol, intent.portfolio_id
            ),
            Some(intent.portfolio_id.clone()),
        )
        .await;
        Ok(())
    }

    /// Records and publishes every report the venue has ready.
    pub(super) async fn publish_reports(&mut self) -> anyhow::Result<()> {
        while let Some(report) = self.venue.trading().next_report(Duration::ZERO).await? {
            self.record(&report).await?;
            self.publish(&report).await?;
        }
        Ok(())
    }

    async fn record(&mut self, report: &ExecutionReport) -> anyhow::Result<()> {
        let rt = Arc::clone(&self.rt);
        let costs = self.costs.on_report(report);
        if let ReportKind::Liquidated { side, fill } = &report.kind {
            // The venue's own order: no record of ours to update, but the fill is recorded
            // (idempotent by trade id) like any other.
            let record = FillRecord {
                portfolio_id: report.portfolio_id.clone(),
                client_order_id: report.client_order_id.clone(),
                symbol: report.symbol.clone(),
                side: *side,
                fill: fill.clone(),
                ts: report.ts,
                costs: None,
            };
            rt.retry("record fill", || rt.store.record_fill(&record))
                .await
                .map_err(|e| fatal("record fill", &e))?;
            self.figures.fills += 1;
            return Ok(());
        }
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
        if let Some(sent) = report
            .fill()
            .and_then(|_| self.sent.remove(&report.client_order_id))
        {
            self.order_to_fill.record(sent.elapsed().as_secs_f64());
        }
        if let Some(fill) = report.fill() {
            let record = FillRecord {
                portfolio_id: report.portfolio_id.clone(),
                client_order_id: report.client_order_id.clone(),
                symbol: report.symbol.clone(),
                side: order.intent.side,
                fill: fill.clone(),
                ts: report.ts,
                costs,
            };
            rt.retry("record fill", || rt.store.record_fill(&record))
                .await
                .map_err(|e| fatal("record fill", &e))?;
            self.figures.fills += 1;
        }
        if order.status.is_terminal() {
            self.orders.remove(&report.client_order_id);
            self.sent.remove(&report.client_order_id);
        }
        Ok(())
    }

    async fn publish(&mut self, report: &ExecutionReport) -> anyhow::Result<()> {
        self.rt
            .publish(
                Topic::OrdersFeedback,
                MessageType::ExecutionReport,
                report_id(report),
                report.portfolio_id.as_str(),
                report,
            )
            .await
            .map_err(|e| fatal("publish report", &e))?;
        self.figures.reports += 1;
        if let ReportKind::Rejected { reason, .. } = &report.kind {
            let reason = serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            metrics::counter!(
                "chimera_rejects_total",
                "component" => self.rt.source.clone(),
                "reason" => reason
            )
            .increment(1);
        }
        Ok(())
    }
}

/// A venue call given up at shutdown while the venue was unavailable: the command it served
/// is neither applied nor acknowledged, so it runs again after the restart.
#[derive(Debug)]
pub(crate) struct Interrupted(String);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stopped while the venue was unavailable ({})", self.0)
    }
}

impl std::error::Error for Interrupted {}

/// Runs a venue call, again and again while the venue is unavailable (a transient error: the
/// request was not executed, so the same one may go again — an exchange throttling us, a lost
/// connection), with backoff from 100 ms to 5 s. A fatal error ends it with that error;
/// shutdown while waiting with [`Interrupted`]: the command is then neither recorded as
/// applied nor acknowledged, so it is executed after a restart (idempotent by client id).
///
/// # Errors
/// A fatal venue error, or [`Interrupted`].
async fn until_sent<'a, F, Fut>(rt: &Runtime, what: &str, call: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = chimera_ports::PortResult<()>> + 'a,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        match call().await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() && rt.shutdown.is_triggered() => {
                return Err(anyhow::Error::new(Interrupted(format!(
                    "venue {what}: {e}"
                ))));
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(component = %rt.source, "venue {what}: {e}; again in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(fatal(&format!("venue {what}"), &e)),
        }
    }
}
