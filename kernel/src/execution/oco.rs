//! OCO exits: a take-profit limit and a stop, both reduce-only, sized to the quantity they
//! protect.
//!
//! On spot the pair is a native order list ([`crate::order::OrderListRequest`]): the venue
//! expires one leg when the other fills or triggers, in the same matching step, so no second
//! exit can execute. After a partial fill the venue has expired the stop; the rest of the
//! take-profit is canceled and a new list placed for what is left (one round trip without a
//! stop, as for a resize below).
//!
//! On perpetuals (no order lists) the OCO is emulated: when either leg fills, in part or in
//! full, the other is resized to what is left — cancel, then place again once the venue has
//! confirmed the cancel — and when nothing is left it is canceled. So after one leg filled
//! completely the other is never left working: its cancel goes out in the same step.
//!
//! The prices are checked up front as Binance checks a native OCO (for a SELL: limit > last >
//! stop; for a BUY: limit < last < stop); a pair that breaks the rule fails the parent before
//! anything is sent.
//!
//! What a resize costs: between the cancel's confirmation and the new leg's acknowledgement
//! (one venue round trip) that leg is not working. The stop's replacement is placed in the same
//! step the cancel is confirmed, so the position is never without a stop for longer than that
//! round trip. If the venue refuses the replacement, the parent fails with the venue's reason
//! and the position is left without that leg; the failure is reported as the parent's terminal
//! [`super::ExecProgress`], for the strategy or an operator to act on.

mod list;

use super::{ExecAction, ExecState, ParentOrder, Role};
use crate::ids::ClientOrderId;
use crate::order::{check_oco_prices, Leg, OrderKind, Side, TimeInForce, TriggerSource};
use crate::value::{Price, Quantity};
use serde::{Deserialize, Serialize};

/// The two exit prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcoParams {
    /// Take-profit limit price.
    pub take_profit: Price,
    /// Stop (trigger) price; the stop leg is a stop-market order.
    pub stop: Price,
    /// Which price triggers the stop.
    #[serde(default)]
    pub trigger: TriggerSource,
}

/// One leg's slot.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct LegSlot {
    /// Placements so far (the next one's number is this + 1).
    placed: u32,
    /// The working order, if any.
    live: Option<ClientOrderId>,
    /// Its cancel was sent and not yet confirmed.
    canceling: bool,
    /// In a native list: the other leg filled, so the venue is expiring this one.
    #[serde(default)]
    ending: bool,
}

/// The pair of exit legs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcoLegs {
    params: OcoParams,
    /// How the legs' fills count for the parent.
    role: Role,
    /// The side of the exits.
    side: Side,
    take_profit: LegSlot,
    stop: LegSlot,
    /// The prices passed the check.
    checked: bool,
    /// Placed as native order lists (spot) rather than emulated.
    #[serde(default)]
    native: bool,
    /// Lists placed so far (numbers the next list id).
    #[serde(default)]
    lists: u32,
    /// The number of the last list the venue refused for its prices.
    #[serde(default)]
    refused_list: u32,
    /// The other leg of that list, whose refusal is still to come.
    #[serde(default)]
    stale: Option<ClientOrderId>,
    /// The venue ended the stop because the take-profit traded: the market is at the
    /// take-profit, whatever the last market event said (a fill report can come before the
    /// trade that made it). Cleared by the next market event.
    #[serde(default)]
    at_take_profit: bool,
}

impl OcoLegs {
    /// Legs placed as a native list when `native` (the venue links them), else emulated.
    pub(super) fn new(params: OcoParams, side: Side, role: Role, native: bool) -> Self {
        Self {
            params,
            role,
            side,
            take_profit: LegSlot::default(),
            stop: LegSlot::default(),
            checked: false,
            native,
            lists: 0,
            refused_list: 0,
            stale: None,
            at_take_profit: false,
        }
    }

    /// Checks the prices against `last` once, before the first legs go out.
    pub(super) fn check(&mut self, last: Option<Price>) -> Result<(), String> {
        if self.checked {
            return Ok(());
        }
        if let Some(last) = last {
            check_oco_prices(self.side, self.params.take_profit, last, self.params.stop)
                .map_err(|e| e.to_string())?;
        }
        self.checked = true;
        Ok(())
    }

    /// Whether neither leg is working or being canceled.
    pub(super) fn idle(&self) -> bool {
        [&self.take_profit, &self.stop]
            .iter()
            .all(|s| s.live.is_none())
    }

    /// A leg is done (`filled`, or canceled, expired or refused).
    ///
    /// Returns a complaint when the venue ended a leg we did not ask it to cancel, without
    /// filling it (a reduce-only leg expired because the position is gone, an operator
    /// canceled it). The caller stops the parent if anything is still to protect, rather
    /// than placing the leg again.
    ///
    /// In a native list, the venue ending one leg while the other still works is the list
    /// doing its job (the other filled or triggered).
    pub(super) fn on_done(&mut self, child: &ClientOrderId, filled: bool) -> Option<String> {
        let linked = self.native && self.take_profit.live.is_some() && self.stop.live.is_some();
        let mut complaint = None;
        let mut ended_filled = false;
        for (slot, name) in [
            (&mut self.take_profit, "take-profit"),
            (&mut self.stop, "stop"),
        ] {
            if slot.live.as_ref() == Some(child) {
                let expected = slot.canceling || filled || linked || slot.ending;
                slot.live = None;
                slot.canceling = false;
                slot.ending = false;
                ended_filled = filled;
                if !expected {
                    complaint = Some(format!(
                        "the venue ended the {name} leg {child} without filling it"
                    ));
                }
            }
        }
        if linked && ended_filled {
            for slot in [&mut self.take_profit, &mut self.stop] {
                slot.ending = slot.live.is_some();
            }
        }
        if linked && !filled && self.take_profit.live.is_some() {
            self.at_take_profit = true;
        }
        complaint
    }

    /// Brings both legs to `protect` (the quantity still to exit): places what is missing,
    /// cancels what is the wrong size (it is placed again once the cancel is confirmed).
    /// A native OCO is brought there by [`Self::sync_list`], which needs the last price.
    pub(super) fn sync(
        &mut self,
        parent: &mut ParentOrder,
        protect: Quantity,
        last: Option<Price>,
        out: &mut Vec<ExecAction>,
    ) {
        if self.native {
            self.sync_list(parent, protect, last, out);
            return;
        }
        for is_stop in [false, true] {
            let slot = if is_stop {
                &mut self.stop
            } else {
                &mut self.take_profit
            };
            if slot.canceling {
                continue;
            }
            match &slot.live {
                Some(id) => {
                    let open = parent
                        .open_children
                        .get(id)
                        .copied()
                        .unwrap_or(Quantity::ZERO);
                    if open != protect {
                        out.push(ExecAction::Cancel(id.clone()));
                        slot.canceling = true;
                    }
                }
                None if !protect.is_zero() => {
                    let kind = if is_stop {
                        self.stop_kind()
                    } else {
                        self.take_profit_kind()
                    };
                    self.place(parent, is_stop, kind, protect, out);
                }
                None => {}
            }
        }
    }

    /// The take-profit leg: a limit at the take-profit price.
    fn take_profit_kind(&self) -> OrderKind {
        OrderKind::Limit {
            price: self.params.take_profit,
            post_only: false,
        }
    }

    /// The stop leg: a stop-market at the stop price.
    fn stop_kind(&self) -> OrderKind {
        OrderKind::StopMarket {
            stop_price: self.params.stop,
            trigger: self.params.trigger,
        }
    }

    /// Places the next placement of the stop (`is_stop`) or take-profit slot as `kind` for
    /// `qty`; the slot then holds it as its working order.
    fn place(
        &mut self,
        parent: &mut ParentOrder,
        is_stop: bool,
        kind: OrderKind,
        qty: Quantity,
        out: &mut Vec<ExecAction>,
    ) {
        let (role, side) = (self.role, self.side);
        let slot = if is_stop {
            &mut self.stop
        } else {
            &mut self.take_profit
        };
        slot.placed += 1;
        let leg = if is_stop {
            Leg::Stop(slot.placed)
        } else {
            Leg::TakeProfit(slot.placed)
        };
        let id = parent.place_leg(leg, role, side, qty, kind, TimeInForce::Gtc, out);
        slot.live = Some(id);
    }

    /// A leg was refused for good: the other is canceled and the parent fails with the
    /// venue's reason.
    pub(super) fn fail(
        &mut self,
        parent: &mut ParentOrder,
        child: &ClientOrderId,
        reason: &str,
        out: &mut Vec<ExecAction>,
    ) {
        let _ = self.on_done(child, false);
        self.cancel(out);
        parent.state = ExecState::Failed {
            reason: reason.to_owned(),
        };
    }

    /// A market event arrived: the last price speaks for the market again.
    pub(super) fn on_market(&mut self) {
        self.at_take_profit = false;
    }

    /// Cancels both legs (the parent is being stopped).
    pub(super) fn cancel(&mut self, out: &mut Vec<ExecAction>) {
        for slot in [&mut self.take_profit, &mut self.stop] {
            if let (Some(id), false) = (&slot.live, slot.canceling) {
                out.push(ExecAction::Cancel(id.clone()));
                slot.canceling = true;
            }
        }
    }
}

/// A stand-alone OCO on a position: the parent's quantity is what it exits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OcoState {
    legs: OcoLegs,
}

impl OcoState {
    pub(super) fn new(params: OcoParams, side: Side, native: bool) -> Self {
        Self {
            legs: OcoLegs::new(params, side, Role::Work, native),
        }
    }

    pub(super) fn step(
        &mut self,
        parent: &mut ParentOrder,
        ctx: &super::ExecContext<'_>,
        event: &super::Event,
        out: &mut Vec<ExecAction>,
    ) {
        if let Err(reason) = self.legs.check(ctx.top.last_or_mid()) {
            parent.state = ExecState::Failed { reason };
            return;
        }
        match event {
            super::Event::Market => self.legs.on_market(),
            super::Event::ChildDone(id, filled) => {
                if let Some(reason) = self.legs.on_done(id, *filled) {
                    if !parent.remaining().is_zero() {
                        self.legs.cancel(out);
                        parent.state = ExecState::Failed { reason };
                        return;
                    }
                }
            }
            super::Event::ChildRejected { child, code, .. }
                if self.legs.on_refused(child, *code) => {}
            super::Event::ChildRejected { child, reason, .. } => {
                self.legs.fail(parent, child, reason, out);
                return;
            }
            _ => {}
        }
        let protect = parent.remaining();
        self.legs.sync(parent, protect, ctx.top.last_or_mid(), out);
        if protect.is_zero() && self.legs.idle() {
            parent.state = ExecState::Completed;
        }
    }
}
