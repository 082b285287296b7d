//! A strategy changing a working order: an amend in place, or a cancel-replace. Both are
//! checked here as far as the engine can (the order is ours and working, not an algorithm's
//! child, the change makes sense, a reduce-only order stays reducing); the venue decides the
//! rest and answers with reports (see [`crate::order::AmendRequest`]).

use super::{Command, Output, PortfolioEngine, RefusalReason, RefusedAction};
use crate::execution::ExecSpec;
use crate::ids::ClientOrderId;
use crate::order::{CancelReplaceRequest, Order, ReplaceMode};
use crate::strategy::OrderRequest;
use crate::value::{Price, Quantity, SignedQty};

impl PortfolioEngine {
    /// The working order `id` if a strategy may change it, else why not.
    fn changeable(&self, id: &ClientOrderId) -> Result<&Order, RefusalReason> {
        let order = self
            .open_orders
            .get(id)
            .filter(|o| !o.status.is_terminal() && !o.cancel_requested)
            .ok_or(RefusalReason::UnknownOrder)?;
        if self.child_parent.contains_key(id) {
            return Err(RefusalReason::WorkedByAlgorithm);
        }
        Ok(order)
    }

    /// Amends are allowed while paused and after a stop when they do not add quantity.
    pub(super) fn amend(
        &mut self,
        client_order_id: ClientOrderId,
        price: Option<Price>,
        qty: Option<Quantity>,
    ) {
        match self.amend_request(&client_order_id, price, qty) {
            Ok(command) => self.outputs.push_back(Output::Command(command)),
            Err(reason) => self.refuse(
                RefusedAction::Amend {
                    client_order_id,
                    price,
                    qty,
                },
                reason,
            ),
        }
    }

    fn amend_request(
        &mut self,
        id: &ClientOrderId,
        price: Option<Price>,
        qty: Option<Quantity>,
    ) -> Result<Command, RefusalReason> {
        let now = self.clock;
        let order = self.changeable(id)?;
        let instrument = self
            .portfolio
            .instruments
            .get(&order.intent.symbol)
            .ok_or(RefusalReason::UnknownInstrument)?;
        let current_price = order.intent.kind.limit_price();
        let new_price = match price {
            None => current_price,
            Some(p) => {
                if current_price.is_none() {
                    return Err(RefusalReason::InvalidAmend);
                }
                Some(instrument.round_price(p.get()))
            }
        };
        let new_qty = qty.map_or(order.intent.qty, |q| instrument.round_qty_down(q));
        if new_qty <= order.filled_qty
            || (new_price == current_price && new_qty == order.intent.qty)
        {
            return Err(RefusalReason::InvalidAmend);
        }
        if new_qty > order.intent.qty {
            if self.stopped {
                return Err(RefusalReason::Stopped);
            }
            if self.halted.is_some() {
                return Err(RefusalReason::TradingPaused);
            }
            // A reduce-only order may grow only as far as the position it reduces.
            if order.intent.reduce_only {
                let symbol = &order.intent.symbol;
                let position = self
                    .portfolio
                    .position(symbol)
                    .map_or(SignedQty::ZERO, |p| p.qty);
                let remaining = new_qty
                    .checked_sub(order.filled_qty)
                    .unwrap_or(Quantity::ZERO);
                let reduces = !position
                    .same_direction(SignedQty::from_side(order.intent.side, remaining))
                    && remaining <= position.abs();
                if !reduces {
                    return Err(RefusalReason::ReduceOnlyWouldIncrease);
                }
            }
        }
        let Some(order) = self.open_orders.get_mut(id) else {
            return Err(RefusalReason::UnknownOrder);
        };
        Ok(Command::Amend(order.request_amend(new_price, new_qty, now)))
    }

    /// Cancel-replace: the replacement is checked like a new order against the projected
    /// position without the order it replaces. Until the venue answers, both count as working
    /// (the conservative view: either may still execute).
    pub(super) fn cancel_replace(
        &mut self,
        client_order_id: &ClientOrderId,
        replacement: OrderRequest,
        mode: ReplaceMode,
    ) {
        let refused = |replacement| RefusedAction::CancelReplace {
            client_order_id: client_order_id.clone(),
            replacement,
        };
        let blocked = if self.stopped {
            Some(RefusalReason::Stopped)
        } else if self.halted.is_some() {
            Some(RefusalReason::TradingPaused)
        } else if replacement
            .exec
            .as_deref()
            .is_some_and(|e| *e != ExecSpec::Direct)
        {
            Some(RefusalReason::InvalidOrder)
        } else {
            self.changeable(client_order_id).err()
        };
        if let Some(reason) = blocked {
            self.refuse(refused(replacement), reason);
            return;
        }
        let (symbol, old_projected) = {
            let old = &self.open_orders[client_order_id];
            (old.intent.symbol.clone(), old.projected_open_qty())
        };
        // The replaced order is left out of the projection while the replacement is checked.
        let same_symbol = symbol == replacement.symbol;
        if same_symbol {
            *self.working.entry(symbol.clone()).or_default() -= old_projected;
        }
        let kept = replacement.clone();
        let intent = self.intent_from_request(replacement);
        if same_symbol {
            *self.working.entry(symbol).or_default() += old_projected;
        }
        let intent = match intent {
            Ok(intent) => intent,
            Err(refusal) => {
                let super::Refusal {
                    request, reason, ..
                } = *refusal;
                let RefusedAction::Submit(replacement) = request else {
                    return;
                };
                self.refuse(refused(replacement), reason);
                return;
            }
        };
        if let Err(reason) = self.risk_check(&intent) {
            self.refuse(refused(kept), reason);
            return;
        }
        let now = self.clock;
        let Some(cancel) = self
            .open_orders
            .get_mut(client_order_id)
            .and_then(|o| o.request_cancel(now))
        else {
            return;
        };
        self.stats.orders += 1;
        let order = Order::new(intent.clone());
        *self.working.entry(intent.symbol.clone()).or_default() += order.projected_open_qty();
        self.open_orders
            .insert(intent.client_order_id.clone(), order);
        self.outputs
            .push_back(Output::Command(Command::CancelReplace(
                CancelReplaceRequest {
                    cancel,
                    replacement: intent,
                    mode,
                },
            )));
    }
}
