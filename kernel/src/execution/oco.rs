//! OCO exits, emulated locally (one code path for spot and perpetuals): a take-profit limit and
//! a stop, both reduce-only, sized to the quantity they protect. When either fills, in part or
//! in full, the other is resized to what is left — cancel, then place again once the venue has
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
}

impl OcoLegs {
    pub(super) fn new(params: OcoParams, side: Side, role: Role) -> Self {
        Self {
            params,
            role,
            side,
            take_profit: LegSlot::default(),
            stop: LegSlot::default(),
            checked: false,
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
    pub(super) fn on_done(&mut self, child: &ClientOrderId, filled: bool) -> Option<String> {
        for (slot, name) in [
            (&mut self.take_profit, "take-profit"),
            (&mut self.stop, "stop"),
        ] {
            if slot.live.as_ref() == Some(child) {
                let expected = slot.canceling || filled;
                slot.live = None;
                slot.canceling = false;
                if !expected {
                    return Some(format!(
                        "the venue ended the {name} leg {child} without filling it"
                    ));
                }
            }
        }
        None
    }

    /// Brings both legs to `protect` (the quantity still to exit): places what is missing,
    /// cancels what is the wrong size (it is placed again once the cancel is confirmed).
    pub(super) fn sync(
        &mut self,
        parent: &mut ParentOrder,
        protect: Quantity,
        out: &mut Vec<ExecAction>,
    ) {
        let side = self.side;
        let params = self.params;
        let role = self.role;
        for (slot, is_stop) in [(&mut self.take_profit, false), (&mut self.stop, true)] {
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
                    slot.placed += 1;
                    let (leg, kind, tif) = if is_stop {
                        (
                            Leg::Stop(slot.placed),
                            OrderKind::StopMarket {
                                stop_price: params.stop,
                                trigger: params.trigger,
                            },
                            TimeInForce::Gtc,
                        )
                    } else {
                        (
                            Leg::TakeProfit(slot.placed),
                            OrderKind::Limit {
                                price: params.take_profit,
                                post_only: false,
                            },
                            TimeInForce::Gtc,
                        )
                    };
                    let id = parent.place_leg(leg, role, side, protect, kind, tif, out);
                    slot.live = Some(id);
                }
                None => {}
            }
        }
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
    pub(super) fn new(params: OcoParams, side: Side) -> Self {
        Self {
            legs: OcoLegs::new(params, side, Role::Work),
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
            super::Event::ChildDone(id, filled) => {
                if let Some(reason) = self.legs.on_done(id, *filled) {
                    if !parent.remaining().is_zero() {
                        self.legs.cancel(out);
                        parent.state = ExecState::Failed { reason };
                        return;
                    }
                }
            }
            super::Event::ChildRejected { child, reason, .. } => {
                let _ = self.legs.on_done(child, false);
                self.legs.cancel(out);
                parent.state = ExecState::Failed {
                    reason: reason.clone(),
                };
                return;
            }
            _ => {}
        }
        let protect = parent.remaining();
        self.legs.sync(parent, protect, out);
        if protect.is_zero() && self.legs.idle() {
            parent.state = ExecState::Completed;
        }
    }
}
