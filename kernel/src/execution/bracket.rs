//! Bracket (OTO): an entry, then an OCO of take-profit and stop on what the entry filled. The
//! exits follow the entry: each partial fill of the entry resizes them (see [`super::oco`]),
//! and the parent completes once the entry is done and the exits have closed what it opened.
//! An entry that ends without any fill cancels the parent; a refused entry fails it.

use super::oco::{OcoLegs, OcoParams};
use super::{Event, ExecAction, ExecContext, ExecState, ParentOrder, Role};
use crate::ids::ClientOrderId;
use crate::order::Leg;
use crate::value::Quantity;
use serde::{Deserialize, Serialize};

/// Bracket state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BracketState {
    entry: Option<ClientOrderId>,
    entry_done: bool,
    exits: OcoLegs,
}

impl BracketState {
    pub(super) fn new(params: OcoParams, entry_side: crate::order::Side, native: bool) -> Self {
        Self {
            entry: None,
            entry_done: false,
            exits: OcoLegs::new(params, entry_side.opposite(), Role::Exit, native),
        }
    }

    pub(super) fn step(
        &mut self,
        parent: &mut ParentOrder,
        ctx: &ExecContext<'_>,
        event: &Event,
        out: &mut Vec<ExecAction>,
    ) {
        match event {
            Event::Start => {
                let last = ctx.top.last_or_mid();
                if let Err(reason) = self.exits.check(last) {
                    parent.state = ExecState::Failed { reason };
                    return;
                }
                let (qty, kind, side) = (parent.intent.qty, parent.intent.kind, parent.intent.side);
                let tif = parent.intent.time_in_force;
                self.entry =
                    Some(parent.place_leg(Leg::Entry, Role::Work, side, qty, kind, tif, out));
                return;
            }
            Event::ChildDone(id, _) | Event::ChildRejected { child: id, .. }
                if self.entry.as_ref() == Some(id) =>
            {
                self.entry_done = true;
                if let Event::ChildRejected { reason, .. } = event {
                    parent.state = ExecState::Failed {
                        reason: reason.clone(),
                    };
                    return;
                }
                if parent.filled.is_zero() {
                    parent.state = ExecState::Canceled;
                    return;
                }
            }
            Event::Market => self.exits.on_market(),
            Event::ChildDone(id, filled) => {
                if let Some(reason) = self.exits.on_done(id, *filled) {
                    if parent.filled > parent.exited {
                        self.exits.cancel(out);
                        parent.state = ExecState::Failed { reason };
                        return;
                    }
                }
            }
            Event::ChildRejected { child, code, .. } if self.exits.on_refused(child, *code) => {}
            Event::ChildRejected { child, reason, .. } => {
                self.exits.fail(parent, child, reason, out);
                return;
            }
            _ => {}
        }
        let protect = parent
            .filled
            .checked_sub(parent.exited)
            .unwrap_or(Quantity::ZERO);
        self.exits.sync(parent, protect, ctx.top.last_or_mid(), out);
        if self.entry_done && protect.is_zero() && self.exits.idle() {
            parent.state = ExecState::Completed;
        }
    }
}
