//! [`Books`]: what the gateway keeps about the orders it sent, to make the records of their
//! reports (each order's new state, its fills with their transaction costs, its time to a
//! first fill).
//!
//! Kept apart from the gateway's I/O so that a rehearsal ([`super::rehearsal`]) runs the very
//! same bookkeeping on a stage of its own (an empty [`Books`] and journal) as a real order runs
//! on the gateway's.

use super::journal::Journal;
use chimera_kernel::event::{BookLevel, ExecutionReport, Fill, ReportKind};
use chimera_kernel::ids::ClientOrderId;
use chimera_kernel::order::{Order, OrderIntent, OrderUpdate, Side};
use chimera_kernel::tca::{FillCostTracker, FillCosts};
use chimera_ports::FillRecord;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The orders in flight: their states, the market at their send (for the costs of their
/// fills; not checkpointed: an order sent before a restart records its fills without costs)
/// and when those still waiting for a first fill were sent.
#[derive(Debug, Default)]
pub(super) struct Books {
    orders: HashMap<ClientOrderId, Order>,
    costs: FillCostTracker,
    sent: HashMap<ClientOrderId, Instant>,
}

/// What recording one report found.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Recorded {
    /// The report carried a fill, now in the journal.
    pub(super) fill: bool,
    /// The report was its order's first fill, this long after the order was sent.
    pub(super) waited: Option<Duration>,
}

impl Books {
    /// `intent` goes to the venue now, which shows `bids` and `asks` for its symbol.
    pub(super) fn sending(
        &mut self,
        intent: &OrderIntent,
        bids: Vec<BookLevel>,
        asks: Vec<BookLevel>,
    ) {
        let coid = intent.client_order_id.clone();
        self.sent.insert(coid.clone(), Instant::now());
        self.orders.insert(coid, Order::new(intent.clone()));
        self.costs.on_submit(intent, bids, asks);
    }

    /// `intent` is answered without going to the venue (a kill switch refused it): known, so
    /// the answer's report is recorded.
    pub(super) fn answered(&mut self, intent: &OrderIntent) {
        self.orders
            .insert(intent.client_order_id.clone(), Order::new(intent.clone()));
    }

    /// Whether recording `report` needs its order's record read first: the order is not in
    /// flight here (one resting on a venue restored from a checkpoint), and the report is not
    /// the venue's own order (a liquidation).
    pub(super) fn lacks_order(&self, report: &ExecutionReport) -> bool {
        !matches!(report.kind, ReportKind::Liquidated { .. })
            && !self.orders.contains_key(&report.client_order_id)
    }

    /// Takes `order`, read from the records, back in flight.
    pub(super) fn restore(&mut self, order: Order) {
        self.orders
            .insert(order.intent.client_order_id.clone(), order);
    }

    /// Notes in `journal` what `report`, made at `at`, records: its order's new state, its
    /// fill with the fill's costs. A report for an order not in flight ([`Self::lacks_order`]
    /// and not [`Self::restore`]d), or a repeated, stale or illegal one, records nothing.
    pub(super) fn record(
        &mut self,
        report: &ExecutionReport,
        at: Instant,
        journal: &mut Journal,
    ) -> Recorded {
        let costs = self.costs.on_report(report);
        if let ReportKind::Liquidated { side, fill } = &report.kind {
            // The venue's own order: no record of ours to update, but the fill is recorded
            // (idempotent by trade id) like any other.
            journal.fill(fill_record(report, *side, fill, None));
            return Recorded {
                fill: true,
                waited: None,
            };
        }
        let Some(order) = self.orders.get_mut(&report.client_order_id) else {
            return Recorded::default();
        };
        let applied = order.apply(report);
        let terminal = order.status.is_terminal();
        if matches!(applied, Err(_) | Ok(OrderUpdate::Duplicate)) {
            // A repeated, stale or illegal report: nothing new to record (a repeated fill is
            // neither noted nor counted again). An order already finished (read back from the
            // records) is done with.
            if terminal {
                self.forget(&report.client_order_id);
            }
            return Recorded::default();
        }
        let order = order.clone();
        let side = order.intent.side;
        journal.order(order);
        let mut recorded = Recorded::default();
        if let Some(fill) = report.fill() {
            recorded.waited = self
                .sent
                .remove(&report.client_order_id)
                .map(|sent| at.saturating_duration_since(sent));
            journal.fill(fill_record(report, side, fill, costs));
            recorded.fill = true;
        }
        if terminal {
            self.forget(&report.client_order_id);
        }
        recorded
    }

    /// `id` is finished: no longer in flight.
    fn forget(&mut self, id: &ClientOrderId) {
        self.orders.remove(id);
        self.sent.remove(id);
    }
}

/// The record of `fill`, reported by `report` for an order on `side`.
fn fill_record(
    report: &ExecutionReport,
    side: Side,
    fill: &Fill,
    costs: Option<FillCosts>,
) -> FillRecord {
    FillRecord {
        portfolio_id: report.portfolio_id.clone(),
        client_order_id: report.client_order_id.clone(),
        symbol: report.symbol.clone(),
        side,
        fill: fill.clone(),
        ts: report.ts,
        costs,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use chimera_kernel::ids::PortfolioId;
    use chimera_kernel::order::OrderStatus;
    use chimera_kernel::testing::{fill_report, pending_order, PORTFOLIO};
    use rust_decimal::Decimal;

    fn d(n: i64) -> Decimal {
        Decimal::from(n)
    }

    fn sent() -> (Books, OrderIntent) {
        let intent = pending_order(&PortfolioId::new(PORTFOLIO), 1).intent;
        let mut books = Books::default();
        books.sending(&intent, Vec::new(), Vec::new());
        (books, intent)
    }

    #[test]
    fn fills_are_recorded_with_the_order_and_only_the_first_is_timed() {
        let (mut books, intent) = sent();
        let coid = &intent.client_order_id;
        let mut journal = Journal::default();
        let first = fill_report(coid, "t1", d(42_000), d(1), Decimal::new(1, 1), false);
        let recorded = books.record(&first, Instant::now(), &mut journal);
        assert!(recorded.fill && recorded.waited.is_some(), "{recorded:?}");
        let last = fill_report(coid, "t2", d(42_000), d(1), Decimal::new(1, 1), true);
        let recorded = books.record(&last, Instant::now(), &mut journal);
        assert!(recorded.fill && recorded.waited.is_none(), "{recorded:?}");

        let turn = journal.take();
        assert_eq!(turn.fills.len(), 2);
        assert_eq!(turn.orders.len(), 1);
        assert_eq!(turn.orders[0].status, OrderStatus::Filled);
        // Done: no longer in flight, so a late report would read the records first.
        assert!(books.lacks_order(&last));
    }

    #[test]
    fn a_report_the_order_cannot_take_records_nothing() {
        let (mut books, intent) = sent();
        let coid = &intent.client_order_id;
        let mut journal = Journal::default();
        let fill = fill_report(coid, "t1", d(1), d(1), d(0), false);
        assert!(books.record(&fill, Instant::now(), &mut journal).fill);
        let mut rejected = fill;
        rejected.kind = ReportKind::Rejected {
            reason: chimera_kernel::event::RejectReason::UnknownOrder,
            message: "late".into(),
        };
        assert_eq!(
            books.record(&rejected, Instant::now(), &mut journal),
            Recorded::default()
        );
        let turn = journal.take();
        assert_eq!(turn.fills.len(), 1);
        assert_eq!(turn.orders[0].status, OrderStatus::PartiallyFilled);
    }

    #[test]
    fn a_repeated_fill_is_neither_noted_nor_counted_again() {
        let (mut books, intent) = sent();
        let mut journal = Journal::default();
        let fill = fill_report(&intent.client_order_id, "t1", d(1), d(1), d(0), false);
        assert!(books.record(&fill, Instant::now(), &mut journal).fill);
        assert_eq!(
            books.record(&fill, Instant::now(), &mut journal),
            Recorded::default()
        );
        assert_eq!(journal.take().fills.len(), 1);
    }

    #[test]
    fn a_finished_order_read_back_is_let_go_after_a_repeated_report() {
        let mut books = Books::default();
        let intent = pending_order(&PortfolioId::new(PORTFOLIO), 3).intent;
        let last = fill_report(&intent.client_order_id, "t3", d(42_000), d(2), d(0), true);
        let mut filled = Order::new(intent);
        filled.apply(&last).unwrap();
        books.restore(filled);
        let mut journal = Journal::default();
        assert_eq!(
            books.record(&last, Instant::now(), &mut journal),
            Recorded::default()
        );
        assert!(journal.is_empty());
        assert!(books.lacks_order(&last), "still in flight");
    }

    #[test]
    fn an_order_not_in_flight_is_read_first_unless_the_venue_liquidated() {
        let books = Books::default();
        let other = pending_order(&PortfolioId::new(PORTFOLIO), 2).intent;
        let mut report = fill_report(&other.client_order_id, "t9", d(1), d(1), d(0), true);
        assert!(books.lacks_order(&report));
        let ReportKind::Filled(fill) = report.kind else {
            unreachable!("a last fill")
        };
        report.kind = ReportKind::Liquidated {
            side: chimera_kernel::order::Side::Sell,
            fill,
        };
        assert!(!books.lacks_order(&report));
        let mut books = books;
        let mut journal = Journal::default();
        assert!(books.record(&report, Instant::now(), &mut journal).fill);
        assert!(journal.take().orders.is_empty());
    }
}
