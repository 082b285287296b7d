//! Maker→taker: post the whole unfilled quantity at the best price on the order's own side
//! (post-only), move it to the new best price when the market moves away (cancel, then
//! re-post once the cancel is confirmed, so two passive orders are never working), up to
//! `max_repegs` times; at the deadline, or when no re-peg is left and the venue refuses the
//! passive order as crossing, cancel it and cross the spread with a market order for the rest.
//!
//! A fill racing a cancel is harmless: the child's quantity is only re-posted from what is
//! neither filled nor working once the venue has said the child is done.

use super::{Event, ExecAction, ExecContext, ExecState, MakerTakerParams, ParentOrder};
use crate::ids::ClientOrderId;
use crate::order::{OrderKind, Side, TimeInForce};
use crate::time::Timestamp;
use crate::value::Price;
use serde::{Deserialize, Serialize};

/// What follows a cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AfterCancel {
    /// Post again at the new best price.
    Repeg,
    /// Cross the spread.
    Cross,
}

/// Where a maker→taker parent stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Nothing working.
    Idle,
    /// A passive child rests at `price`.
    Resting {
        /// The child.
        child: ClientOrderId,
        /// Its price.
        price: Price,
    },
    /// The passive child's cancel was sent.
    Canceling {
        /// The child.
        child: ClientOrderId,
        /// What follows.
        then: AfterCancel,
    },
    /// A market child is crossing the spread.
    Crossing {
        /// The child.
        child: ClientOrderId,
    },
}

/// Maker→taker state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MakerTakerState {
    params: MakerTakerParams,
    /// When the rest crosses the spread.
    cross_at: Timestamp,
    /// Re-pegs used.
    repegs: u32,
    phase: Phase,
}

impl MakerTakerState {
    pub(super) fn new(params: MakerTakerParams, now: Timestamp) -> Self {
        Self {
            params,
            cross_at: now.plus_millis(params.deadline_ms),
            repegs: 0,
            phase: Phase::Idle,
        }
    }

    /// Re-pegs used so far.
    pub fn repegs(&self) -> u32 {
        self.repegs
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    pub(super) fn step(
        &mut self,
        parent: &mut ParentOrder,
        ctx: &ExecContext<'_>,
        event: &Event,
        out: &mut Vec<ExecAction>,
    ) {
        let side = parent.intent.side;
        let late = ctx.now >= self.cross_at;
        match (&self.phase, event) {
            (Phase::Idle, _) => self.post_or_cross(parent, ctx, out),
            (Phase::Resting { child, price }, Event::Market | Event::Timer) => {
                let moved_away = ctx.top.near(side).is_some_and(|best| match side {
                    Side::Buy => best > *price,
                    Side::Sell => best < *price,
                });
                let then = if late {
                    Some(AfterCancel::Cross)
                } else if moved_away && self.repegs < self.params.max_repegs {
                    Some(AfterCancel::Repeg)
                } else {
                    None
                };
                if let Some(then) = then {
                    out.push(ExecAction::Cancel(child.clone()));
                    self.phase = Phase::Canceling {
                        child: child.clone(),
                        then,
                    };
                }
            }
            (
                Phase::Resting { child, .. } | Phase::Canceling { child, .. },
                Event::ChildDone(done, _),
            ) if child == done => {
                let then = match &self.phase {
                    Phase::Canceling { then, .. } => *then,
                    _ => AfterCancel::Repeg,
                };
                self.phase = Phase::Idle;
                if then == AfterCancel::Repeg && !late {
                    self.repegs += 1;
                    self.post_or_cross(parent, ctx, out);
                } else {
                    self.cross(parent, out);
                }
            }
            (
                Phase::Resting { child, .. } | Phase::Canceling { child, .. },
                Event::ChildRejected {
                    child: rejected,
                    post_only: true,
                    ..
                },
            ) if child == rejected => {
                // The market moved through the price before the order arrived.
                self.phase = Phase::Idle;
                if self.repegs < self.params.max_repegs && !late {
                    self.repegs += 1;
                    self.post_or_cross(parent, ctx, out);
                } else {
                    self.cross(parent, out);
                }
            }
            (_, Event::ChildRejected { reason, .. }) => {
                parent.state = ExecState::Failed {
                    reason: reason.clone(),
                };
                self.phase = Phase::Idle;
            }
            (Phase::Crossing { child }, Event::ChildDone(done, _)) if child == done => {
                if !parent.remaining().is_zero() {
                    parent.state = ExecState::Failed {
                        reason: format!(
                            "the market order left {} unfilled (no liquidity)",
                            parent.remaining()
                        ),
                    };
                }
                self.phase = Phase::Idle;
            }
            _ => {}
        }
        parent.deadline = match self.phase {
            Phase::Resting { .. } | Phase::Idle if !parent.state.is_terminal() => {
                Some(self.cross_at)
            }
            _ => None,
        };
    }

    /// Posts the unsent quantity at the best price on the order's side, or crosses when the
    /// deadline has passed or no price is known.
    fn post_or_cross(
        &mut self,
        parent: &mut ParentOrder,
        ctx: &ExecContext<'_>,
        out: &mut Vec<ExecAction>,
    ) {
        let qty = ctx.instrument.round_qty_down(parent.unsent());
        if qty.is_zero() {
            return;
        }
        match ctx.top.near(parent.intent.side) {
            Some(price) if ctx.now < self.cross_at => {
                let child = parent.place(
                    qty,
                    OrderKind::Limit {
                        price,
                        post_only: true,
                    },
                    TimeInForce::Gtc,
                    out,
                );
                self.phase = Phase::Resting { child, price };
            }
            _ => self.cross(parent, out),
        }
    }

    fn cross(&mut self, parent: &mut ParentOrder, out: &mut Vec<ExecAction>) {
        let qty = parent.unsent();
        if qty.is_zero() {
            return;
        }
        let child = parent.place(qty, OrderKind::Market, TimeInForce::Gtc, out);
        self.phase = Phase::Crossing { child };
    }
}
