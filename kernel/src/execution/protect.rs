//! Protective exits the engine watches itself.
//!
//! **Guard stop** (spot, where a take-profit and a stop cannot both rest on the same base
//! balance): a limit-maker exit rests at the venue while the stop is watched locally. When the
//! trigger price reaches the stop, the maker order is canceled first — so the balance is free
//! and the position is never sold twice — and once the venue confirms (or the maker order
//! fills meanwhile) whatever is left leaves with a market order.
//!
//! **Trailing stop updates**: a reduce-only stop-market rests `distance_bps` behind the best
//! price seen since the parent started (below it for a sell, above for a buy) and follows it
//! in steps of at least `step_bps`. Binance cannot amend a stop, so each move is a cancel, then
//! the new stop, placed in the same step the cancel is confirmed: the position is without a
//! stop for one venue round trip at most, and never has two. The stop only ever moves in the
//! position's favour. If the cancel succeeds and the venue refuses the new stop, the position
//! is unprotected: the parent places it again at the next market event, up to
//! [`MAX_RETRIES`] times, then fails with the venue's reason (its terminal progress says so,
//! for the strategy or an operator to act on). If the old stop fills before its cancel lands,
//! the position is closed and the parent completes.

use super::{Event, ExecAction, ExecContext, ExecState, ParentOrder, Role};
use crate::ids::ClientOrderId;
use crate::order::{Leg, OrderKind, Side, TimeInForce, TriggerSource};
use crate::value::Price;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How many times a refused replacement stop is placed again.
pub const MAX_RETRIES: u32 = 3;

/// Guard-stop prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardParams {
    /// The limit-maker exit's price.
    pub exit_price: Price,
    /// The locally watched stop.
    pub stop: Price,
    /// Which price is watched.
    #[serde(default)]
    pub trigger: TriggerSource,
}

/// Trailing-stop parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailParams {
    /// Distance of the stop behind the best price, in basis points.
    pub distance_bps: u32,
    /// Smallest move of the stop worth a cancel and a new order, in basis points.
    pub step_bps: u32,
}

fn trigger_price(ctx: &ExecContext<'_>, source: TriggerSource) -> Option<Price> {
    match source {
        TriggerSource::Last => ctx.top.last,
        TriggerSource::Mark => ctx.top.mid_price(),
    }
}

/// Guard-stop state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardState {
    params: GuardParams,
    maker: Option<ClientOrderId>,
    /// The stop fired: the maker order is being canceled, then the rest goes at market.
    fired: bool,
    market: Option<ClientOrderId>,
}

impl GuardState {
    pub(super) fn new(params: GuardParams) -> Self {
        Self {
            params,
            maker: None,
            fired: false,
            market: None,
        }
    }

    /// Whether a stop-market at the guard's stop would fire at `price` (the venue's rule).
    fn stop_reached(&self, side: Side, price: Price) -> bool {
        OrderKind::StopMarket {
            stop_price: self.params.stop,
            trigger: self.params.trigger,
        }
        .fires_at(side, price)
            == Some(true)
    }

    pub(super) fn step(
        &mut self,
        parent: &mut ParentOrder,
        ctx: &ExecContext<'_>,
        event: &Event,
        out: &mut Vec<ExecAction>,
    ) {
        let side = parent.intent.side;
        match event {
            Event::Start => {
                let qty = parent.intent.qty;
                let kind = OrderKind::Limit {
                    price: self.params.exit_price,
                    post_only: true,
                };
                self.maker = Some(parent.place_leg(
                    Leg::TakeProfit(1),
                    Role::Work,
                    side,
                    qty,
                    kind,
                    TimeInForce::Gtc,
                    out,
                ));
            }
            Event::Market if !self.fired => {
                let reached = trigger_price(ctx, self.params.trigger)
                    .is_some_and(|p| self.stop_reached(side, p));
                if reached {
                    self.fired = true;
                    match &self.maker {
                        Some(id) => out.push(ExecAction::Cancel(id.clone())),
                        None => self.exit(parent, out),
                    }
                }
            }
            Event::ChildDone(id, _) if self.maker.as_ref() == Some(id) => {
                self.maker = None;
                if self.fired {
                    self.exit(parent, out);
                } else if !parent.remaining().is_zero() {
                    parent.state = ExecState::Failed {
                        reason: format!("the venue ended the maker exit {id} without filling it"),
                    };
                }
            }
            Event::ChildDone(id, _) if self.market.as_ref() == Some(id) => {
                self.market = None;
                if !parent.remaining().is_zero() {
                    parent.state = ExecState::Failed {
                        reason: format!("the market exit left {} unfilled", parent.remaining()),
                    };
                }
            }
            Event::ChildRejected { reason, .. } => {
                parent.state = ExecState::Failed {
                    reason: reason.clone(),
                };
            }
            _ => {}
        }
        if parent.remaining().is_zero() && parent.open_children.is_empty() {
            parent.state = ExecState::Completed;
        }
    }

    fn exit(&mut self, parent: &mut ParentOrder, out: &mut Vec<ExecAction>) {
        let qty = parent.unsent();
        if !qty.is_zero() {
            let side = parent.intent.side;
            self.market = Some(parent.place_leg(
                Leg::Stop(1),
                Role::Work,
                side,
                qty,
                OrderKind::Market,
                TimeInForce::Gtc,
                out,
            ));
        }
    }
}

/// Trailing-stop state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailState {
    params: TrailParams,
    /// Best price seen (highest for a sell stop, lowest for a buy stop).
    extreme: Option<Price>,
    /// The working stop and its level.
    stop: Option<(ClientOrderId, Price)>,
    /// A cancel is out for the working stop; the new level follows its confirmation.
    moving_to: Option<Price>,
    placed: u32,
    retries: u32,
}

impl TrailState {
    pub(super) fn new(params: TrailParams) -> Self {
        Self {
            params,
            extreme: None,
            stop: None,
            moving_to: None,
            placed: 0,
            retries: 0,
        }
    }

    /// The stop level for the current extreme, on the tick.
    fn level(&self, side: Side, ctx: &ExecContext<'_>) -> Option<Price> {
        let extreme = self.extreme?.get();
        let distance = Decimal::from(self.params.distance_bps) / Decimal::from(10_000);
        let raw = match side {
            Side::Sell => extreme * (Decimal::ONE - distance),
            Side::Buy => extreme * (Decimal::ONE + distance),
        };
        Some(ctx.instrument.round_price(raw))
    }

    /// The stop's level if it has one working or on its way.
    pub fn stop_level(&self) -> Option<Price> {
        self.moving_to.or(self.stop.as_ref().map(|(_, p)| *p))
    }

    pub(super) fn step(
        &mut self,
        parent: &mut ParentOrder,
        ctx: &ExecContext<'_>,
        event: &Event,
        out: &mut Vec<ExecAction>,
    ) {
        let side = parent.intent.side;
        if let Some(price) = ctx.top.last_or_mid() {
            let better = self.extreme.is_none_or(|e| match side {
                Side::Sell => price > e,
                Side::Buy => price < e,
            });
            if better {
                self.extreme = Some(price);
            }
        }
        match event {
            Event::ChildDone(id, filled) if self.stop.as_ref().is_some_and(|(s, _)| s == id) => {
                self.stop = None;
                if *filled || parent.remaining().is_zero() {
                    parent.state = ExecState::Completed;
                    return;
                }
                // Canceled at our request: place the stop at its new level now. Ended by the
                // venue on its own (the position is gone): stop protecting.
                match self.moving_to.take() {
                    Some(level) => self.place(parent, level, out),
                    None => {
                        parent.state = ExecState::Failed {
                            reason: format!("the venue ended the stop {id} without filling it"),
                        };
                    }
                }
                return;
            }
            Event::ChildRejected { reason, child, .. }
                if self.stop.as_ref().is_some_and(|(s, _)| s == child) =>
            {
                self.stop = None;
                self.retries += 1;
                if self.retries > MAX_RETRIES {
                    parent.state = ExecState::Failed {
                        reason: format!("the stop could not be placed again: {reason}"),
                    };
                }
                return;
            }
            _ => {}
        }
        let Some(level) = self.level(side, ctx) else {
            return;
        };
        match &self.stop {
            None if self.moving_to.is_none() && !parent.remaining().is_zero() => {
                self.place(parent, level, out);
            }
            Some((id, current)) if self.moving_to.is_none() => {
                let step =
                    current.get() * Decimal::from(self.params.step_bps) / Decimal::from(10_000);
                let favourable = match side {
                    Side::Sell => level.get() >= current.get() + step && level > *current,
                    Side::Buy => level.get() <= current.get() - step && level < *current,
                };
                if favourable {
                    out.push(ExecAction::Cancel(id.clone()));
                    self.moving_to = Some(level);
                }
            }
            _ => {}
        }
    }

    fn place(&mut self, parent: &mut ParentOrder, level: Price, out: &mut Vec<ExecAction>) {
        let qty = parent.remaining();
        if qty.is_zero() {
            return;
        }
        self.placed += 1;
        let side = parent.intent.side;
        let kind = OrderKind::StopMarket {
            stop_price: level,
            trigger: TriggerSource::Last,
        };
        let id = parent.place_leg(
            Leg::Stop(self.placed),
            Role::Work,
            side,
            qty,
            kind,
            TimeInForce::Gtc,
            out,
        );
        self.stop = Some((id, level));
    }
}
