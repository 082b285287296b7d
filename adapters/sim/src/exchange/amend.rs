//! Changing a working order at the simulated venue, with Binance's rules per market (see
//! [`chimera_kernel::order::AmendRequest`]):
//! - perpetuals amend the price and quantity of a LIMIT order and send it to the back of the
//!   queue at its (new) price, where it may also trade at once if the new price crosses; a new
//!   quantity at or below what executed, or a post-only order whose new price would take,
//!   cancels the order; nothing to change is refused (`-5027`);
//! - spot only reduces the quantity (keep-priority amend): the order keeps its place.
//!
//! A refused amend leaves the order exactly as it was, in the same place in the queue.
//! Amends, like cancels, are handled when they are sent (no entry latency).
//!
//! A cancel-replace cancels, then submits the replacement through the normal entry path (with
//! its latency); with `StopOnFailure` a failed cancel rejects the replacement instead. A
//! repeated cancel-replace (its replacement id already received) does nothing.

use super::{reject, SimExchange, Working};
use chimera_kernel::event::{ExecutionReport, RejectReason, ReportKind};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::order::{
    AmendRequest, CancelReplaceRequest, OrderKind, ReplaceMode, TimeInForce,
};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Quantity;

/// What an admissible amend does to the order.
enum AmendOutcome {
    /// Changed in place, keeping its queue position (spot quantity reduction).
    KeepPriority,
    /// Changed and re-entered at the back of the queue (perpetuals).
    Requeue,
    /// The venue cancels the order instead (Binance's rules for perpetuals).
    Cancel,
}

type Refusal = (RejectReason, String);

impl SimExchange {
    /// Receives an amend sent at `now` (handled at once).
    pub fn amend(&mut self, request: &AmendRequest, now: Timestamp) {
        self.now = self.now.max(now);
        let at = self.clock(&request.symbol, now);
        let found = self
            .resting_index
            .get(&request.client_order_id)
            .copied()
            .zip(self.instruments.get(&request.symbol).cloned());
        let Some((seq, instrument)) = found else {
            self.amend_rejected(
                request,
                at,
                MarketKind::Spot,
                (RejectReason::UnknownOrder, String::new()),
            );
            return;
        };
        let Some(working) = self.resting.remove(seq) else {
            return;
        };
        if working.order.amended >= request.amendment {
            // Applied before: a repeated request changes nothing and says nothing new.
            self.resting.insert(seq, working);
            return;
        }
        match self.amend_outcome(&instrument, &working, request) {
            Err(refusal) => {
                self.resting.insert(seq, working);
                self.amend_rejected(request, at, instrument.kind, refusal);
            }
            Ok(AmendOutcome::Cancel) => {
                self.resting_index.remove(&request.client_order_id);
                self.emit(working.order, at, ReportKind::Canceled);
            }
            Ok(AmendOutcome::KeepPriority) => {
                let order = self.emit(working.order, at, amended(request));
                self.resting.insert(seq, Working { order, ..working });
            }
            Ok(AmendOutcome::Requeue) => {
                self.resting_index.remove(&request.client_order_id);
                let order = self.emit(working.order, at, amended(request));
                let kind = order.intent.kind;
                self.trade(order, kind, at, None);
            }
        }
    }

    /// Binance's checks on an amend, in its order.
    fn amend_outcome(
        &mut self,
        instrument: &Instrument,
        working: &Working,
        request: &AmendRequest,
    ) -> Result<AmendOutcome, Refusal> {
        let order = &working.order;
        let current = order.intent.kind.limit_price();
        let invalid = |why: &str| Err((RejectReason::InvalidOrder, why.to_string()));
        if instrument.kind == MarketKind::Spot {
            if request.price.is_some() && request.price != current {
                return invalid("spot amends keep the price: change it by cancel-replace");
            }
            if request.qty >= order.intent.qty || request.qty <= order.filled_qty {
                return invalid("newQty must be less than the order's quantity and more than its executed quantity");
            }
            check_lot(instrument, request.qty)?;
            return Ok(AmendOutcome::KeepPriority);
        }
        let OrderKind::Limit { post_only, .. } = order.intent.kind else {
            return invalid("only LIMIT orders can be modified");
        };
        if working.armed.is_some() {
            return invalid("only LIMIT orders can be modified");
        }
        let Some(price) = request.price else {
            return invalid("price is mandatory");
        };
        if Some(price) == current && request.qty == order.intent.qty {
            return invalid("-5027 No need to modify the order.");
        }
        instrument
            .check_order(price, true, request.qty)
            .map_err(|v| (v.into(), format!("price {price}, quantity {}", request.qty)))?;
        if request.qty <= order.filled_qty {
            return Ok(AmendOutcome::Cancel);
        }
        let market = self.markets.entry(order.intent.symbol.clone()).or_default();
        let post_only = post_only || order.intent.time_in_force == TimeInForce::Gtx;
        if post_only
            && !market
                .liquidity(order.intent.side, Some(price), Quantity::ZERO)
                .is_empty()
        {
            return Ok(AmendOutcome::Cancel);
        }
        // The amended order must pass the account checks a new order of its size would (the
        // order itself is out of the book while this is checked, so it holds nothing).
        let mut changed = order.intent.clone();
        changed.qty = request
            .qty
            .checked_sub(order.filled_qty)
            .unwrap_or(Quantity::ZERO);
        changed.kind = OrderKind::Limit { price, post_only };
        self.check_account(instrument, &changed, price)?;
        Ok(AmendOutcome::Requeue)
    }

    fn amend_rejected(
        &mut self,
        request: &AmendRequest,
        at: Timestamp,
        market: MarketKind,
        refusal: Refusal,
    ) {
        let (reason, detail) = refusal;
        self.reports.push_back(ExecutionReport {
            portfolio_id: request.portfolio_id.clone(),
            client_order_id: request.client_order_id.clone(),
            venue_order_id: None,
            symbol: request.symbol.clone(),
            ts: at,
            kind: ReportKind::AmendRejected {
                reason,
                message: super::rejects::message(reason, market, &detail),
                amendment: request.amendment,
            },
        });
    }

    /// Receives a cancel-replace sent at `now`.
    pub fn cancel_replace(&mut self, request: &CancelReplaceRequest, now: Timestamp) {
        let replacement = &request.replacement;
        if self.received(replacement) {
            return;
        }
        let working = self
            .resting_index
            .contains_key(&request.cancel.client_order_id);
        self.cancel(&request.cancel, now);
        if !working && request.mode == ReplaceMode::StopOnFailure {
            self.known.insert(
                &replacement.client_order_id,
                &replacement.portfolio_id,
                replacement.created_at,
            );
            let at = self.clock(&replacement.symbol, now);
            let market = self
                .instruments
                .get(&replacement.symbol)
                .map_or(MarketKind::Spot, |i| i.kind);
            self.reports.push_back(reject(
                replacement,
                market,
                at,
                RejectReason::CancelReplaceFailed,
                "the cancel failed, so the new order was not placed",
            ));
            return;
        }
        self.submit(replacement.clone(), now);
    }
}

fn amended(request: &AmendRequest) -> ReportKind {
    ReportKind::Amended {
        price: request.price,
        qty: request.qty,
        amendment: request.amendment,
    }
}

fn check_lot(instrument: &Instrument, qty: Quantity) -> Result<(), Refusal> {
    if (qty.get() % instrument.lot_size.get()).is_zero() {
        Ok(())
    } else {
        Err((RejectReason::LotSize, format!("quantity {qty}")))
    }
}
