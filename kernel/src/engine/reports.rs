//! Applies execution reports: the order's state machine, then accounting for fills, then the
//! strategy's [`crate::strategy::Strategy::on_report`]; an order that reached a terminal state
//! leaves the engine as [`Output::Finished`].

use super::{EngineIssue, Output, PortfolioEngine, RECENTLY_FINISHED};
use crate::event::{ExecutionReport, Fill, ReportKind};
use crate::order::Side;
use crate::order::{Order, OrderUpdate};
use crate::strategy::StrategyContext;

impl PortfolioEngine {
    pub(super) fn on_report(&mut self, report: &ExecutionReport) {
        let now = self.clock;
        if let ReportKind::Liquidated { side, fill } = &report.kind {
            self.on_liquidation(report, *side, fill);
            return;
        }
        let Some(order) = self.open_orders.get_mut(&report.client_order_id) else {
            if !self.recently_finished.contains(&report.client_order_id) {
                self.stats.issues += 1;
                self.outputs
                    .push_back(Output::Issue(EngineIssue::unknown_order(report, now)));
            }
            return;
        };
        let side = order.intent.side;
        let symbol = order.intent.symbol.clone();
        let before = order.projected_open_qty();
        let update = order.apply(report);
        let delta = order.projected_open_qty() - before;
        *self.working.entry(symbol.clone()).or_default() += delta;
        let told = match update {
            Ok(OrderUpdate::Filled(fill)) => {
                if let Err(e) = self.portfolio.apply_fill(&symbol, side, &fill) {
                    self.stats.issues += 1;
                    self.outputs
                        .push_back(Output::Issue(EngineIssue::accounting(report, now, &e)));
                }
                self.stats.fills += 1;
                true
            }
            Ok(
                OrderUpdate::Status(_)
                | OrderUpdate::CancelRejected
                | OrderUpdate::Amended
                | OrderUpdate::AmendRejected,
            ) => true,
            Ok(OrderUpdate::Duplicate) => false,
            Err(e) => {
                self.stats.issues += 1;
                self.outputs
                    .push_back(Output::Issue(EngineIssue::order(report, now, &e)));
                false
            }
        };
        if told && !self.child_parent.is_empty() {
            self.parent_on_report(report);
        }
        let finished = self.retire_if_terminal(report);
        if told && !self.stopped {
            let order = finished
                .as_ref()
                .or_else(|| self.open_orders.get(&report.client_order_id));
            if let Some(order) = order {
                let ctx = context!(self);
                self.strategy
                    .on_report(report, order, &ctx, &mut self.actions);
                self.take_actions();
            }
        }
        if let Some(order) = finished {
            self.outputs.push_back(Output::Finished(order));
        }
        if told {
            self.manage(&symbol);
            self.release_flat();
            if !self.kill.is_clear() {
                self.kill_after_report(&symbol, report);
            }
        }
    }

    /// Removes the order if the report finished it, remembering its id for late reports.
    /// The venue liquidated a position: the fill goes to the books (once: the venue's id is
    /// remembered like a finished order's), and the liquidation is recorded as an issue of its
    /// own kind. The strategy hears of it through its portfolio.
    fn on_liquidation(&mut self, report: &ExecutionReport, side: Side, fill: &Fill) {
        let now = self.clock;
        if self.recently_finished.contains(&report.client_order_id) {
            return;
        }
        if let Err(e) = self.portfolio.apply_fill(&report.symbol, side, fill) {
            self.stats.issues += 1;
            self.outputs
                .push_back(Output::Issue(EngineIssue::accounting(report, now, &e)));
            return;
        }
        self.stats.fills += 1;
        self.remember_finished(report.client_order_id.clone());
        self.stats.issues += 1;
        let detail = format!(
            "liquidated: {side:?} {} {} at {}",
            fill.qty, report.symbol, fill.price
        );
        self.outputs
            .push_back(Output::Issue(EngineIssue::liquidation(report, now, detail)));
        self.recompute_working();
    }

    fn remember_finished(&mut self, id: crate::ids::ClientOrderId) {
        if self.recently_finished.len() == RECENTLY_FINISHED {
            self.recently_finished.pop_front();
        }
        self.recently_finished.push_back(id);
    }

    fn retire_if_terminal(&mut self, report: &ExecutionReport) -> Option<Order> {
        let terminal = self
            .open_orders
            .get(&report.client_order_id)
            .is_some_and(|o| o.status.is_terminal());
        if !terminal {
            return None;
        }
        let order = self.open_orders.remove(&report.client_order_id)?;
        self.remember_finished(order.intent.client_order_id.clone());
        Some(order)
    }
}
