//! The native form of the OCO (spot order lists): both legs go as one list, the venue ends
//! one when the other fills or triggers.
//!
//! After a partial fill the venue has expired the stop and the take-profit's rest works on
//! alone. A new list for what is left can only be placed while the last price lies strictly
//! between the legs (the venue refuses it otherwise; right after a take-profit fill the last
//! price is at the take-profit), so:
//! - while the last price is inside, the rest is canceled and a new list placed for it;
//! - while it is at or beyond the take-profit, the rest keeps working (it is at the touch);
//! - once it reaches the stop, the rest is canceled and what is left exits at market: the
//!   engine watches the stop itself while the venue has none.
//!
//! The window without a venue-side stop is therefore the time the market spends at or beyond
//! the take-profit after a partial fill, plus one round trip.

use super::{LegSlot, OcoLegs};
use crate::execution::{ExecAction, ParentOrder};
use crate::ids::ClientOrderId;
use crate::order::{check_oco_prices, OrderKind};
use crate::value::{Price, Quantity};

impl OcoLegs {
    /// Brings a native OCO to `protect` given the `last` price (see the module doc).
    pub(super) fn sync_list(
        &mut self,
        parent: &mut ParentOrder,
        protect: Quantity,
        last: Option<Price>,
        out: &mut Vec<ExecAction>,
    ) {
        let params = self.params;
        let inside = !self.at_take_profit
            && last.is_none_or(|l| {
                check_oco_prices(self.side, params.take_profit, l, params.stop).is_ok()
            });
        let stop_hit = last.is_some_and(|l| self.stop_kind().fires_at(self.side, l) == Some(true));
        if self.idle() {
            if protect.is_zero() {
                return;
            }
            if inside {
                self.place_list(parent, protect, out);
            } else if stop_hit {
                // The market exit, in the stop's slot.
                self.place(parent, true, OrderKind::Market, protect, out);
            } else {
                // At or beyond the take-profit: it trades at once.
                let kind = self.take_profit_kind();
                self.place(parent, false, kind, protect, out);
            }
            return;
        }
        let open = |slot: &LegSlot| {
            slot.live
                .as_ref()
                .and_then(|id| parent.open_children.get(id).copied())
        };
        let (tp_open, stop_open) = (open(&self.take_profit), open(&self.stop));
        let whole = tp_open == Some(protect) && stop_open == Some(protect);
        // Both legs working but one has filled, or one filled and ended: the venue is ending
        // the other (its report follows in the same step), so nothing is canceled.
        let venue_ending = (tp_open.is_some() && stop_open.is_some() && tp_open != stop_open)
            || self.take_profit.ending
            || self.stop.ending;
        // A lone order in the stop's slot is the market exit: it is left to finish.
        let exiting = self.take_profit.live.is_none() && self.stop.live.is_some();
        if whole || venue_ending || exiting {
            return;
        }
        if inside || stop_hit {
            self.cancel(out);
        }
    }

    /// Places both legs for `protect` as the next list.
    fn place_list(
        &mut self,
        parent: &mut ParentOrder,
        protect: Quantity,
        out: &mut Vec<ExecAction>,
    ) {
        self.lists += 1;
        let first = out.len();
        let (take_profit, stop) = (self.take_profit_kind(), self.stop_kind());
        self.place(parent, false, take_profit, protect, out);
        self.place(parent, true, stop, protect, out);
        let legs = out
            .drain(first..)
            .filter_map(|a| match a {
                ExecAction::Place(child) => Some(child),
                ExecAction::Cancel(_) | ExecAction::PlaceList { .. } => None,
            })
            .collect();
        out.push(ExecAction::PlaceList {
            list: self.lists,
            legs,
        });
    }

    /// A leg was refused. Returns `true` when the refusal is handled here: a later list
    /// refused for its price relationship (the venue's last price moved past a leg before the
    /// engine saw it) clears both legs (the venue refused the whole list), to be placed again
    /// by [`Self::sync_list`] by the rules above; the other leg's refusal that follows is
    /// absorbed too. Two lists refused in a row fail the parent, like anything else the
    /// caller is given.
    pub(in crate::execution) fn on_refused(
        &mut self,
        child: &ClientOrderId,
        code: crate::event::RejectReason,
    ) -> bool {
        if self.stale.as_ref() == Some(child) {
            // The other leg of a list refused (and handled) a moment ago.
            self.stale = None;
            return true;
        }
        let ours = [&self.take_profit, &self.stop]
            .iter()
            .any(|s| s.live.as_ref() == Some(child));
        let again = self.refused_list > 0 && self.refused_list + 1 == self.lists;
        if !(self.native
            && self.lists > 1
            && ours
            && !again
            && code == crate::event::RejectReason::OrderListPriceRelationship)
        {
            return false;
        }
        self.refused_list = self.lists;
        for slot in [&mut self.take_profit, &mut self.stop] {
            if slot.live.as_ref() != Some(child) {
                self.stale = slot.live.take();
            }
            slot.live = None;
            slot.canceling = false;
            slot.ending = false;
        }
        true
    }
}
