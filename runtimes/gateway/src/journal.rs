//! What the gateway recorded and is about to publish in one turn, written as one batch.
//!
//! Why: recording each report on its own cost a database commit per order state and per fill
//! (four or five per order), and on SQLite each commit waits for the one write lock; that
//! capped the gateway at a few hundred orders a second. Now a turn's order states and fills
//! go to [`chimera_ports::ExecutionJournal::record_execution`] together, right after the turn's
//! reports are published (in the order they were made, one round trip). Reports go first
//! because the nodes wait for them and nothing waits for the records: on PostgreSQL the write
//! was more than half of order-to-fill.
//!
//! Crash safety is unchanged: a turn's commands are acknowledged only after its reports are on
//! the bus and its records written (the gateway checkpoints after [`Journal`] is flushed), and
//! a crash before then replays the commands as it did when the records went first: the
//! simulated venue, restored from the checkpoint, executes them again (the records absorb the
//! repeats by client order id and trade id, the nodes recognise repeated reports by their
//! ids), and an order for an exchange was recorded before it was sent (write-ahead) and is
//! de-duplicated by its client order id. What changed is only that a node may see a report a
//! moment before the database holds it.
//!
//! In process (the in-memory bus), a submitted order's reports go out before their records are
//! even made ([`Journal::report_unrecorded`]): each command's reports are published before the
//! next command is read, and the records of the commands read together are made, and handed
//! to the writer, once all their reports are out. The second order of a pair then waits only
//! for the first's execution, not its bookkeeping. Whatever reads or makes records first makes
//! the pending ones, in report order.

use chimera_kernel::event::ExecutionReport;
use chimera_kernel::ids::ClientOrderId;
use chimera_kernel::order::Order;
use chimera_ports::FillRecord;
use std::collections::HashMap;

/// A turn's pending records and reports.
#[derive(Debug, Default)]
pub(super) struct Journal {
    /// The newest state of each order changed this turn, in first-change order.
    orders: Vec<Order>,
    /// Where each order is in `orders`.
    positions: HashMap<ClientOrderId, usize>,
    fills: Vec<FillRecord>,
    /// Reports to publish once the records are written, in order.
    outbox: Vec<ExecutionReport>,
    /// How many of the last reports in `outbox` are recorded only once published
    /// ([`Journal::report_unrecorded`]).
    unrecorded: usize,
}

impl Journal {
    /// Notes `order`'s state; a state that does not supersede the one already noted (stale,
    /// or the same) is ignored, as the store would.
    pub(super) fn order(&mut self, order: Order) {
        if let Some(&at) = self.positions.get(&order.intent.client_order_id) {
            if order.supersedes(&self.orders[at]) {
                self.orders[at] = order;
            }
        } else {
            self.positions
                .insert(order.intent.client_order_id.clone(), self.orders.len());
            self.orders.push(order);
        }
    }

    /// Notes a fill.
    pub(super) fn fill(&mut self, fill: FillRecord) {
        self.fills.push(fill);
    }

    /// Queues a report for publishing after the records.
    pub(super) fn report(&mut self, report: ExecutionReport) {
        debug_assert_eq!(self.unrecorded, 0, "a report queued behind unrecorded ones");
        self.outbox.push(report);
    }

    /// Queues a report for publishing whose records are made after it is published (by
    /// [`super::execution::Gateway`], which takes it back from [`Turn::unrecorded`]). Such
    /// reports come last: nothing is queued behind them until the journal is taken.
    pub(super) fn report_unrecorded(&mut self, report: ExecutionReport) {
        self.outbox.push(report);
        self.unrecorded += 1;
    }

    /// Whether reports queued with [`Self::report_unrecorded`] wait to be published.
    pub(super) fn has_unrecorded(&self) -> bool {
        self.unrecorded > 0
    }

    /// The state of an order noted this turn and not yet written.
    pub(super) fn recorded(&self, id: &ClientOrderId) -> Option<&Order> {
        self.positions.get(id).map(|&at| &self.orders[at])
    }

    /// Nothing to write nor publish.
    pub(super) fn is_empty(&self) -> bool {
        self.orders.is_empty() && self.fills.is_empty() && self.outbox.is_empty()
    }

    /// Hands over the reports to publish (and how many of the last are still to be recorded),
    /// keeping the records.
    pub(super) fn take_reports(&mut self) -> (Vec<ExecutionReport>, usize) {
        (
            std::mem::take(&mut self.outbox),
            std::mem::take(&mut self.unrecorded),
        )
    }

    /// Hands over the turn's records and reports and leaves the journal empty.
    pub(super) fn take(&mut self) -> Turn {
        self.positions.clear();
        Turn {
            orders: std::mem::take(&mut self.orders),
            fills: std::mem::take(&mut self.fills),
            reports: std::mem::take(&mut self.outbox),
            unrecorded: std::mem::take(&mut self.unrecorded),
        }
    }
}

/// One turn's output: the records to write and the reports to publish, in order.
#[derive(Debug)]
pub(super) struct Turn {
    pub(super) orders: Vec<Order>,
    pub(super) fills: Vec<FillRecord>,
    pub(super) reports: Vec<ExecutionReport>,
    /// How many of the last `reports` are still to be recorded.
    pub(super) unrecorded: usize,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use chimera_kernel::ids::PortfolioId;
    use chimera_kernel::order::OrderStatus;
    use chimera_kernel::time::Timestamp;

    fn order(n: u64) -> Order {
        chimera_kernel::testing::pending_order(&PortfolioId::new("p"), n)
    }

    #[test]
    fn keeps_the_newest_state_of_each_order_in_first_change_order() {
        let mut journal = Journal::default();
        assert!(journal.is_empty());
        let pending = order(1);
        let mut done = pending.clone();
        done.status = OrderStatus::Canceled;
        done.updated_at = Timestamp(2_000);
        journal.order(pending.clone());
        journal.order(order(2));
        journal.order(done.clone());
        journal.order(pending.clone()); // stale: ignored
        assert_eq!(
            journal.recorded(&pending.intent.client_order_id),
            Some(&done)
        );
        let turn = journal.take();
        assert_eq!(turn.orders, [done.clone(), order(2)]);
        assert!(turn.fills.is_empty());
        assert!(turn.reports.is_empty());
        assert!(journal.is_empty());
        assert_eq!(journal.recorded(&pending.intent.client_order_id), None);
    }
}
