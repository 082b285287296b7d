//! Rehearsals: while the gateway is idle, the last order it executed runs again on a stage,
//! through the gateway's own path, so that path is warm in the processor's caches when the
//! next real order comes.
//!
//! [`Rehearsals`] is when a simulated venue's next rehearsal is due and on what: the last
//! order executed, every `[gateway] sim_rehearse_us` (a command arriving meanwhile waits for
//! it: a few microseconds). The loop waits for commands no longer than the next rehearsal is
//! away, so with no market data to wake it they come at the timer's resolution (a
//! millisecond). Nothing is rehearsed before the first real order. Sides alternate, so both a
//! buy's and a sell's path stay warm (the reference strategies reverse).
//!
//! [`Gateway::rehearse`] runs it: the venue's stage (a copy of what the order touches,
//! [`chimera_sim::SimExchange::stage`]) takes it through the port a real order goes through,
//! and the gateway does with it what it does with a real one, on a stage of its own: the
//! decision, the bookkeeping ([`Books`] and a [`Journal`], empty), the reports made ready to
//! publish. Then everything is dropped: nothing is published or recorded, no figure but the
//! rehearsals' own counts it, and the gateway and venue are left as they were. Why: executing
//! an order took the gateway 5 µs within 200 µs of the previous one and 27–30 µs after 20 ms
//! (the matching core, then the bookkeeping, publishing and readying around it, cold).

use super::books::Books;
use super::decide::decide_submit;
use super::execution::{feedback, Gateway};
use super::journal::Journal;
use super::venue::{Knowledge, Rehearsal};
use chimera_kernel::order::Order;
use chimera_kernel::order::OrderIntent;
use chimera_messages::MessageType;
use chimera_ports::ExecutionVenue;
use chimera_runtime::runtime::Runtime;
use std::time::{Duration, Instant};

impl Gateway {
    /// Runs the rehearsal due now, if one is. Nothing is published, recorded or counted, and
    /// the gateway's own state is left as it was (it takes `&mut self` for the venue's
    /// schedule only); a stage that fails ends the rehearsal quietly.
    pub(super) async fn rehearse(&mut self) {
        if let Some(Rehearsal { intent, stage }) = self.venue.rehearsal() {
            // The steps of a real order's execution (`submit`, `admit`, `publish`, `record`).
            // Whatever the venue knows of the model, the decision a new order gets.
            std::hint::black_box(self.venue.knowledge(&intent));
            std::hint::black_box(decide_submit(Knowledge::NeverReceived, None));
            let mut books = Books::default();
            let mut journal = Journal::default();
            journal.order(Order::new(intent.clone()));
            let (bids, asks) = self.venue.depth(&intent.symbol);
            books.sending(&intent, bids, asks);
            staged(&self.rt, &intent, stage.as_ref(), books, journal).await;
        }
    }
}

/// The rest of a rehearsal, once `intent` is admitted to `books` and `journal`: sent to the
/// `stage`, its reports made ready to publish, then recorded.
async fn staged(
    rt: &Runtime,
    intent: &OrderIntent,
    stage: &dyn ExecutionVenue,
    mut books: Books,
    mut journal: Journal,
) {
    if stage.submit(intent).await.is_err() {
        return;
    }
    while let Ok(Some(report)) = stage.next_report(Duration::ZERO).await {
        journal.report_unrecorded(report);
    }
    let (reports, _) = journal.take_reports();
    drop(rt.deferred_keyed(MessageType::ExecutionReport, feedback(&reports)));
    let at = Instant::now();
    for report in &reports {
        std::hint::black_box(books.record(report, at, &mut journal));
    }
    drop(journal.take());
}

/// The rehearsal schedule and its model order.
pub(crate) struct Rehearsals {
    every: Duration,
    last: Instant,
    /// The last order executed for real: what is rehearsed.
    model: Option<OrderIntent>,
    runs: u64,
}

impl Rehearsals {
    /// Rehearsals every `every`.
    pub(crate) fn new(every: Duration) -> Self {
        Self {
            every,
            last: Instant::now(),
            model: None,
            runs: 0,
        }
    }

    /// `intent` was executed for real: the next rehearsals run it, and the next is a full
    /// period away.
    pub(crate) fn executed(&mut self, intent: &OrderIntent) {
        match &mut self.model {
            Some(model) => model.clone_from(intent),
            None => self.model = Some(intent.clone()),
        }
        self.last = Instant::now();
    }

    /// How long until the next rehearsal is due (zero: it is); `None` before the first real
    /// order (nothing to rehearse, nothing to wake up for).
    pub(crate) fn left(&self) -> Option<Duration> {
        self.model.as_ref()?;
        Some(self.every.saturating_sub(self.last.elapsed()))
    }

    /// The order to rehearse, if one is due (the next is then a period away).
    pub(crate) fn take(&mut self) -> Option<OrderIntent> {
        if !self.left()?.is_zero() {
            return None;
        }
        let mut intent = self.model.clone()?;
        if self.runs % 2 == 1 {
            intent.side = intent.side.opposite();
        }
        self.runs += 1;
        self.last = Instant::now();
        Some(intent)
    }

    /// Rehearsals run so far.
    pub(crate) fn runs(&self) -> u64 {
        self.runs
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use chimera_kernel::ids::PortfolioId;

    #[test]
    fn nothing_is_rehearsed_before_an_order_and_sides_alternate_after_one() {
        let mut r = Rehearsals::new(Duration::ZERO);
        assert!(r.left().is_none() && r.take().is_none());
        let intent = chimera_kernel::testing::pending_order(&PortfolioId::new("p"), 1).intent;
        r.executed(&intent);
        let sides: Vec<_> = (0..4).map(|_| r.take().unwrap().side).collect();
        let opposite = intent.side.opposite();
        assert_eq!(sides, [intent.side, opposite, intent.side, opposite]);
        assert_eq!(r.runs(), 4);
    }

    #[test]
    fn a_rehearsal_waits_a_period_after_the_last_real_order_or_rehearsal() {
        let mut r = Rehearsals::new(Duration::from_hours(1));
        let intent = chimera_kernel::testing::pending_order(&PortfolioId::new("p"), 1).intent;
        r.executed(&intent);
        let wait = r.left().unwrap();
        assert!(wait > Duration::from_mins(58) && wait <= Duration::from_hours(1));
        assert!(r.take().is_none(), "not due yet");
    }
}
