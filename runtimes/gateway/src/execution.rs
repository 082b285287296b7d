//! Executing order commands on the venue, recording orders and fills, publishing reports —
//! over any [`GatewayVenue`], deciding with [`super::decide`].

use super::books::Books;
use super::decide::{decide_submit, report_id, republished_reports, SubmitDecision};
use super::figures::GatewayFigures;
use super::journal::Journal;
use super::recorder::{recorded, Recorder};
use super::venue::GatewayVenue;
use super::venue::Knowledge;
use super::venue_call::until_sent;
pub(crate) use super::venue_call::Interrupted;
use chimera_kernel::engine::Command;
use chimera_kernel::event::{ExecutionReport, RejectReason, ReportKind};
use chimera_kernel::order::{Order, OrderIntent};
use chimera_kernel::risk::KillMode;
use chimera_messages::{AlertCode, AlertLevel, MessageType, Topic};
use chimera_ports::OrderRepository;
use chimera_runtime::runtime::{fatal, Runtime};
use std::sync::Arc;
use std::time::Duration;

pub(super) struct Gateway {
    pub(super) rt: Arc<Runtime>,
    pub(super) venue: Box<dyn GatewayVenue>,
    /// The orders in flight, for the records of their reports.
    books: Books,
    pub(super) figures: GatewayFigures,
    /// Order sent → its first fill (`chimera_order_to_fill_seconds`).
    order_to_fill: metrics::Histogram,
    /// One command from read to executed (`chimera_gateway_command_seconds`), one turn's
    /// reports published (`chimera_gateway_publish_seconds`), then its records written by the
    /// [`Recorder`] (`chimera_gateway_record_seconds`), and one checkpoint
    /// (`chimera_gateway_checkpoint_seconds`): the gateway's hops. Inside a command, the venue
    /// made ready for an order (`chimera_gateway_prepare_seconds`: a simulated venue reads
    /// the market data the order was decided on, and feeds what it held back).
    pub(super) command_time: metrics::Histogram,
    prepare_time: metrics::Histogram,
    publish_time: metrics::Histogram,
    pub(super) checkpoint_time: metrics::Histogram,
    /// The kill switches, refreshed by the gateway's loop.
    pub(super) kill: super::kill_guard::KillGuard,
    /// This turn's records and reports, written and published by [`Self::flush`].
    journal: Journal,
    /// Writes the turns' records beside the loop.
    recorder: Recorder,
    /// Record an order's reports after they are published, not before
    /// ([`Self::record_published`]): set where each command's reports go out before the next
    /// command is read (the in-memory bus).
    pub(super) defer_records: bool,
    /// Reports published and not yet recorded, in order, with when they were published.
    unrecorded: Vec<(ExecutionReport, std::time::Instant)>,
}

impl Gateway {
    /// A command refused by the fence: counted and alerted, never executed nor answered (an
    /// answer on `orders.feedback` would reach the portfolio's legitimate owner, whose orders
    /// may carry the same client ids).
    pub(super) fn fenced(
        &mut self,
        envelope: &chimera_messages::Envelope<Command>,
        fenced: super::fence::Fenced,
    ) {
        self.figures.fenced += 1;
        let portfolio = envelope.payload.portfolio_id().clone();
        self.rt.alert(
            chimera_messages::AlertLevel::Critical,
            chimera_messages::AlertCode::FencedOrder,
            format!(
                "refused {} from {} for portfolio {portfolio}: epoch {} is older than the \
                     current assignment's {}",
                envelope.id, envelope.source, fenced.got, fenced.current
            ),
            Some(portfolio),
        );
    }

    pub(super) fn new(rt: Arc<Runtime>, venue: Box<dyn GatewayVenue>) -> Self {
        let histogram =
            |name: &'static str| metrics::histogram!(name, "component" => rt.source.clone());
        let order_to_fill = histogram("chimera_order_to_fill_seconds");
        let command_time = histogram("chimera_gateway_command_seconds");
        let prepare_time = histogram("chimera_gateway_prepare_seconds");
        let publish_time = histogram("chimera_gateway_publish_seconds");
        let recorder =
            Recorder::start(Arc::clone(&rt), histogram("chimera_gateway_record_seconds"));
        let checkpoint_time = histogram("chimera_gateway_checkpoint_seconds");
        let kill = super::kill_guard::KillGuard::new(&rt);
        Self {
            rt,
            venue,
            books: Books::default(),
            figures: GatewayFigures::default(),
            kill,
            order_to_fill,
            command_time,
            prepare_time,
            publish_time,
            checkpoint_time,
            journal: Journal::default(),
            recorder,
            defer_records: false,
            unrecorded: Vec::new(),
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
        if !self.defer_records {
            return self.publish_reports().await;
        }
        // The order's reports go out first; their records are made once the commands read
        // with it have gone out too (`record_published`).
        while let Some(report) = self.venue.trading().next_report(Duration::ZERO).await? {
            self.journal.report_unrecorded(report);
        }
        Ok(())
    }

    /// Records the reports published before their records were made
    /// ([`Self::defer_records`]), in order, publishing first those still queued. Everything
    /// that reads or makes records calls it first, so records are made in report order and
    /// none is read stale.
    ///
    /// # Errors
    /// As [`Self::flush`], or a record could not be read.
    pub(super) async fn record_published(&mut self) -> anyhow::Result<()> {
        if self.journal.has_unrecorded() {
            self.flush().await?;
        }
        for (report, published) in std::mem::take(&mut self.unrecorded) {
            self.record(&report, published).await?;
        }
        Ok(())
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
        let knowledge = self.venue.knowledge(intent);
        // A venue that never received the order decides alone: no record needs reading.
        let stored = match knowledge {
            Knowledge::NeverReceived => None,
            Knowledge::Received | Knowledge::Unknown => {
                self.record_published().await?;
                recorded(&self.journal, &self.recorder, &self.rt, &coid).await?
            }
        };
        let decision = decide_submit(knowledge, stored);
        let record_first = match decision {
            SubmitDecision::Duplicate { republish } => {
                self.figures.duplicates += 1;
                if let Some(order) = republish {
                    for report in republished_reports(&order) {
                        self.journal.report(report);
                    }
                }
                return Ok(false);
            }
            SubmitDecision::Send { record_first } => record_first,
        };
        if let Some(mode) = kill {
            self.refuse_killed(intent, mode).await?;
            return Ok(false);
        }
        let preparing = std::time::Instant::now();
        let prepared = self.venue.prepare(&rt, intent).await?;
        self.prepare_time.record(preparing.elapsed());
        if !prepared {
            rt.alert(
                AlertLevel::Error,
                AlertCode::UnknownPortfolio,
                format!(
                    "intent {} for unknown portfolio {}",
                    intent.intent_id, intent.portfolio_id
                ),
                Some(intent.portfolio_id.clone()),
            );
            return Ok(false);
        }
        if record_first {
            let order = Order::new(intent.clone());
            if knowledge == Knowledge::NeverReceived {
                // The venue's state goes in the gateway's checkpoint: a crash before this
                // turn's records are written loses the send with them, so the record can wait
                // for the batch.
                self.journal.order(order);
            } else {
                // Write-ahead: the record says the order may have reached the venue.
                rt.retry("record order", || rt.store.upsert_order(&order))
                    .await
                    .map_err(|e| fatal("record order", &e))?;
            }
        }
        let (bids, asks) = self.venue.depth(&intent.symbol);
        self.books.sending(intent, bids, asks);
        Ok(true)
    }

    /// Records `intent` as rejected by the kill switch `mode`, answers the node and alerts.
    async fn refuse_killed(&mut self, intent: &OrderIntent, mode: KillMode) -> anyhow::Result<()> {
        let rt = Arc::clone(&self.rt);
        // Never sent: its record, rejected, goes with the turn's batch (`record` below).
        self.books.answered(intent);
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
        self.record_published().await?;
        self.record(&report, std::time::Instant::now()).await?;
        self.journal.report(report);
        self.figures.killed += 1;
        rt.alert(
            AlertLevel::Error,
            AlertCode::KillSwitchRefused,
            format!(
                "refused {} ({:?} {}) of portfolio {}: kill switch {mode}",
                intent.client_order_id, intent.side, intent.symbol, intent.portfolio_id
            ),
            Some(intent.portfolio_id.clone()),
        );
        Ok(())
    }

    /// Takes every report the venue has ready into the turn's journal (recorded and published
    /// by [`Self::flush`]).
    pub(super) async fn publish_reports(&mut self) -> anyhow::Result<()> {
        self.record_published().await?;
        while let Some(report) = self.venue.trading().next_report(Duration::ZERO).await? {
            self.record(&report, std::time::Instant::now()).await?;
            self.journal.report(report);
        }
        Ok(())
    }

    /// Publishes the turn's reports in order (one round trip), then hands its records to the
    /// [`Recorder`], which writes them in one batch beside the loop; see
    /// [`journal`](super::journal) for why that order is safe. The fills reach the nodes
    /// without waiting for the database, and the next command does not wait for it either.
    ///
    /// # Errors
    /// A fatal bus failure, or an earlier turn's records could not be written.
    pub(super) async fn flush(&mut self) -> anyhow::Result<()> {
        if self.journal.is_empty() {
            return Ok(());
        }
        let turn = self.journal.take();
        self.publish(turn.reports, turn.unrecorded).await?;
        self.recorder.write(turn.orders, turn.fills).await
    }

    /// Publishes the turn's reports only, leaving its records for the next [`Self::flush`]
    /// (with [`Self::defer_records`]: a command's reports go out before the next command is
    /// read; its records, and the handing over of the commands' records read with it, wait).
    ///
    /// # Errors
    /// A fatal bus failure.
    pub(super) async fn publish_now(&mut self) -> anyhow::Result<()> {
        let (reports, unrecorded) = self.journal.take_reports();
        self.publish(reports, unrecorded).await
    }

    /// Publishes `reports` in order (one round trip); the last `unrecorded` of them are
    /// recorded later ([`Self::record_published`]).
    async fn publish(
        &mut self,
        mut reports: Vec<ExecutionReport>,
        unrecorded: usize,
    ) -> anyhow::Result<()> {
        if reports.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        self.rt
            .publish_keyed(
                Topic::OrdersFeedback,
                MessageType::ExecutionReport,
                feedback(&reports),
            )
            .await
            .map_err(|e| fatal("publish reports", &e))?;
        self.publish_time.record(started.elapsed());
        for report in &reports {
            self.count_published(report);
        }
        let recorded_now = reports.len() - unrecorded;
        let published = std::time::Instant::now();
        self.unrecorded
            .extend(reports.drain(recorded_now..).map(|r| (r, published)));
        Ok(())
    }

    /// Makes and hands over every pending record (publishing first the reports still queued),
    /// and returns what completes once they are all written: `false` if the writer stopped
    /// ([`Self::records_failure`] says why). A checkpoint waits for it beside the loop before
    /// it is saved, so it acknowledges no command whose records could still be lost.
    ///
    /// # Errors
    /// As [`Self::flush`], or a record could not be read.
    pub(super) async fn hand_over_records(
        &mut self,
    ) -> anyhow::Result<impl std::future::Future<Output = bool> + Send + 'static> {
        self.record_published().await?;
        self.flush().await?;
        Ok(self.recorder.settled())
    }

    /// Why the record writer stopped.
    pub(super) fn records_failure(&mut self) -> anyhow::Error {
        self.recorder.failure()
    }

    /// Records `report`, made at `at` (published then, when its record waited): the order's
    /// new state, its fill and the fill's costs ([`Books::record`]), and the order's time to
    /// its first fill. An order not in flight here is read from the records first.
    ///
    /// # Errors
    /// The order's record could not be read.
    async fn record(
        &mut self,
        report: &ExecutionReport,
        at: std::time::Instant,
    ) -> anyhow::Result<()> {
        if self.books.lacks_order(report) {
            // Resting on a venue restored from a checkpoint: the record has the order.
            let coid = &report.client_order_id;
            if let Some(stored) = recorded(&self.journal, &self.recorder, &self.rt, coid).await? {
                self.books.restore(stored);
            }
        }
        let recorded = self.books.record(report, at, &mut self.journal);
        if recorded.fill {
            self.figures.fills += 1;
        }
        if let Some(waited) = recorded.waited {
            self.order_to_fill.record(waited.as_secs_f64());
        }
        Ok(())
    }

    /// Counts a published report, and a rejection by its reason.
    fn count_published(&mut self, report: &ExecutionReport) {
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
    }
}

/// `reports` as messages for `orders.feedback`: each keyed by its portfolio, with its id.
pub(super) fn feedback(
    reports: &[ExecutionReport],
) -> impl Iterator<Item = (&str, String, ExecutionReport)> {
    reports
        .iter()
        .map(|r| (r.portfolio_id.as_str(), report_id(r), r.clone()))
}
