//! [`Rehearsals`]: when the simulated venue runs its next rehearsal and on what.
//!
//! A rehearsal is the last order the venue executed, run again on a copy of what it touches
//! ([`chimera_sim::SimExchange::rehearse`]), every `[gateway] sim_rehearse_us` while the
//! gateway is idle (a command arriving meanwhile waits for it: a few microseconds), so the
//! matching core is warm in the processor's caches when the next order comes. The loop waits
//! for commands no longer than the next rehearsal is away, so with no market data to wake it
//! they come at the timer's resolution (a millisecond). Nothing is rehearsed before the first
//! real order. Sides alternate, so both a buy's and a sell's path stay warm (the reference
//! strategies reverse). Nothing is published or recorded: the rehearsal's reports are dropped.

use chimera_kernel::order::OrderIntent;
use std::time::{Duration, Instant};

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

    /// The order to rehearse now, if one is due (then the next is a period away), and how
    /// long until the next is due; `None` before the first real order (nothing to rehearse,
    /// nothing to wake up for).
    pub(crate) fn due(&mut self) -> Option<(Option<OrderIntent>, Duration)> {
        let model = self.model.as_ref()?;
        let left = self.every.saturating_sub(self.last.elapsed());
        if !left.is_zero() {
            return Some((None, left));
        }
        let mut intent = model.clone();
        if self.runs % 2 == 1 {
            intent.side = intent.side.opposite();
        }
        self.runs += 1;
        self.last = Instant::now();
        Some((Some(intent), self.every))
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
        assert!(r.due().is_none());
        let intent = chimera_kernel::testing::pending_order(&PortfolioId::new("p"), 1).intent;
        r.executed(&intent);
        let sides: Vec<_> = (0..4).map(|_| r.due().unwrap().0.unwrap().side).collect();
        let opposite = intent.side.opposite();
        assert_eq!(sides, [intent.side, opposite, intent.side, opposite]);
        assert_eq!(r.runs(), 4);
    }

    #[test]
    fn a_rehearsal_waits_a_period_after_the_last_real_order_or_rehearsal() {
        let mut r = Rehearsals::new(Duration::from_hours(1));
        let intent = chimera_kernel::testing::pending_order(&PortfolioId::new("p"), 1).intent;
        r.executed(&intent);
        let (due, wait) = r.due().unwrap();
        assert!(due.is_none());
        assert!(wait > Duration::from_mins(58) && wait <= Duration::from_hours(1));
    }
}
