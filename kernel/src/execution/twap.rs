//! TWAP: the parent's quantity in slices over a horizon, one slice per interval, each a
//! market order fired by the engine's timer (so a backtest and a live node slice alike).
//!
//! Slice `i` brings the cumulative target to `qty × (w₀ + … + wᵢ) / Σw`, rounded down to the
//! lot; the last slice's target is the whole quantity, so the parent finishes exactly. A
//! slice is sized from the target minus what filled and what still works, so what an earlier
//! slice did not fill (rejected, expired) is carried into the next. A slice whose notional is
//! below the instrument's minimum is skipped and carried too, except the last. Weights are 1
//! each, or with `jitter_pct` seeded integers in `[1000 − 10·j, 1000 + 10·j]`. After the last
//! slice, a remainder left by an expired child is sent once more; a refused last slice fails
//! the parent with the venue's reason.

use super::{Event, ExecAction, ExecContext, ExecState, ParentOrder, TwapParams};
use crate::order::{OrderKind, TimeInForce};
use crate::rng::SeededRng;
use crate::time::Timestamp;
use crate::value::Quantity;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How many times the remainder is resent after the last slice.
const SWEEPS: u32 = 1;

/// TWAP state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwapState {
    params: TwapParams,
    started: Timestamp,
    /// Cumulative slice weights.
    cumulative: Vec<u64>,
    /// Index of the next slice to fire.
    next_slice: u32,
    /// Remainder sends used after the last slice.
    sweeps: u32,
    /// The last refusal, to explain a failure.
    last_refusal: Option<String>,
}

impl TwapState {
    pub(super) fn new(params: TwapParams, now: Timestamp) -> Self {
        let mut rng = SeededRng::new(params.seed);
        let spread = u64::from(params.jitter_pct) * 10;
        let mut total = 0_u64;
        let cumulative = (0..params.slices())
            .map(|_| {
                let weight = 1000 - spread + rng.below(2 * spread + 1);
                total += weight;
                total
            })
            .collect();
        Self {
            params,
            started: now,
            cumulative,
            next_slice: 0,
            sweeps: 0,
            last_refusal: None,
        }
    }

    /// Slices fired so far.
    pub fn slices_fired(&self) -> u32 {
        self.next_slice
    }

    fn slice_time(&self, index: u32) -> Timestamp {
        self.started
            .plus_millis(self.params.interval_ms.saturating_mul(i64::from(index)))
    }

    fn slices(&self) -> u32 {
        u32::try_from(self.cumulative.len()).unwrap_or(u32::MAX)
    }

    pub(super) fn step(
        &mut self,
        parent: &mut ParentOrder,
        ctx: &ExecContext<'_>,
        event: &Event,
        out: &mut Vec<ExecAction>,
    ) {
        if let Event::ChildRejected { reason, .. } = event {
            self.last_refusal = Some(reason.clone());
        }
        while self.next_slice < self.slices() && ctx.now >= self.slice_time(self.next_slice) {
            self.fire(parent, ctx, out);
        }
        let all_fired = self.next_slice >= self.slices();
        if all_fired && parent.open_children.is_empty() && !parent.remaining().is_zero() {
            match (&self.last_refusal, self.sweeps < SWEEPS) {
                (None, true) => {
                    self.sweeps += 1;
                    let qty = parent.unsent();
                    parent.place(qty, OrderKind::Market, TimeInForce::Gtc, out);
                }
                (refusal, _) => {
                    parent.state = ExecState::Failed {
                        reason: refusal.clone().unwrap_or_else(|| {
                            format!("{} left unfilled after the last slice", parent.remaining())
                        }),
                    };
                }
            }
        }
        parent.deadline =
            (!all_fired && !parent.state.is_terminal()).then(|| self.slice_time(self.next_slice));
    }

    fn fire(&mut self, parent: &mut ParentOrder, ctx: &ExecContext<'_>, out: &mut Vec<ExecAction>) {
        let index = self.next_slice as usize;
        self.next_slice += 1;
        let last = self.next_slice >= self.slices();
        let total = self.cumulative.last().copied().unwrap_or(1).max(1);
        let qty = parent.intent.qty.get();
        let target = if last {
            qty
        } else {
            let share = Decimal::from(self.cumulative[index]) / Decimal::from(total);
            ctx.instrument
                .round_qty_down(Quantity::new(qty * share).unwrap_or(Quantity::ZERO))
                .get()
        };
        let working: Decimal = parent.open_children.values().map(|q| q.get()).sum();
        let want = target - parent.filled.get() - working;
        let Ok(want) = Quantity::new(want.max(Decimal::ZERO)) else {
            return;
        };
        let want = if last {
            want
        } else {
            ctx.instrument.round_qty_down(want)
        };
        if want.is_zero() {
            return;
        }
        let below_minimum = ctx.top.mid().is_some_and(|mid| {
            want.get() * mid * ctx.instrument.contract_multiplier
                < ctx.instrument.min_notional.get()
        });
        if below_minimum && !last {
            return;
        }
        self.last_refusal = None;
        parent.place(want, OrderKind::Market, TimeInForce::Gtc, out);
    }
}
