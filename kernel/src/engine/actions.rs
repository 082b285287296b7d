//! Turns what a strategy asked for ([`Action`]s) into outputs: order intents (ids, lot
//! rounding, pre-trade checks), cancels, signal records, or refusals with their reason.

use super::SignalRecord;
use super::{Command, Output, PortfolioEngine, Refusal, RefusalReason, RefusedAction};
use crate::ids::{ClientOrderId, IntentId};
use crate::order::{Order, OrderIntent};
use crate::strategy::{Action, OrderRequest};
use crate::value::SignedQty;

impl PortfolioEngine {
    /// Applies the actions the strategy's last callback asked for, in order, and re-reads its
    /// deadline (any callback may move it).
    pub(super) fn take_actions(&mut self) {
        let mut actions = std::mem::take(&mut self.actions);
        for action in actions.drain() {
            match action {
                Action::Submit(request) => {
                    self.submit(request);
                }
                Action::Cancel { client_order_id } => self.cancel(client_order_id),
                Action::Amend {
                    client_order_id,
                    price,
                    qty,
                } => self.amend(client_order_id, price, qty),
                Action::CancelReplace {
                    client_order_id,
                    replacement,
                    mode,
                } => self.cancel_replace(&client_order_id, replacement, mode),
                Action::Request { kind, timeout_ms } => {
                    self.make_request(kind, timeout_ms);
                }
                Action::Enter(entry) => self.enter(entry),
                Action::Signal(signal) => self.outputs.push_back(Output::Signal(SignalRecord {
                    at: self.clock,
                    signal,
                })),
            }
        }
        self.actions = actions;
        self.sync_strategy_timer();
    }

    pub(super) fn refuse(&mut self, request: RefusedAction, reason: RefusalReason) {
        self.stats.refusals += 1;
        self.outputs.push_back(Output::Refused(Refusal {
            request,
            at: self.clock,
            reason,
        }));
    }

    /// Turns `request` into an order (or an execution algorithm's parent order); returns its
    /// intent id, `None` when it was refused (the refusal is an output).
    pub(super) fn submit(&mut self, mut request: OrderRequest) -> Option<IntentId> {
        let refused = if self.stopped {
            Some(RefusalReason::Stopped)
        } else if self.halted.is_some() {
            Some(RefusalReason::TradingPaused)
        } else if self.kill_refuses(&mut request) {
            Some(RefusalReason::KillSwitch)
        } else {
            None
        };
        if let Some(reason) = refused {
            self.refuse(RefusedAction::Submit(request), reason);
            return None;
        }
        let exec = request.exec.clone();
        let kept = (self.risk != crate::risk::RiskLimits::default()).then(|| request.clone());
        match self.intent_from_request(request) {
            Ok(intent) => {
                if let Err(reason) = self.risk_check(&intent) {
                    if let Some(request) = kept {
                        self.refuse(RefusedAction::Submit(request), reason);
                    }
                    return None;
                }
                let id = intent.intent_id.clone();
                if let Some(spec) = self.algo_for(&intent, exec.as_deref()) {
                    self.start_parent(intent, &spec);
                    return Some(id);
                }
                self.send_intent(intent);
                Some(id)
            }
            Err(refusal) => {
                self.stats.refusals += 1;
                self.outputs.push_back(Output::Refused(*refusal));
                None
            }
        }
    }

    /// Tracks `intent` as a working order and asks the runtime to place it.
    pub(super) fn send_intent(&mut self, intent: OrderIntent) {
        self.stats.orders += 1;
        let order = Order::new(intent.clone());
        *self.working.entry(intent.symbol.clone()).or_default() += order.projected_open_qty();
        self.open_orders
            .insert(intent.client_order_id.clone(), order);
        self.outputs
            .push_back(Output::Command(Command::Submit(intent)));
    }

    /// The position once every working order has filled (booked plus working).
    pub(super) fn projected(&self, symbol: &crate::ids::Symbol) -> SignedQty {
        self.portfolio
            .position(symbol)
            .map_or(SignedQty::ZERO, |p| p.qty)
            + self.working.get(symbol).copied().unwrap_or_default()
    }

    /// The portfolio's pre-trade risk checks on `intent` (see [`crate::risk`]); an order that
    /// passes counts towards the rate limit.
    pub(super) fn risk_check(&mut self, intent: &OrderIntent) -> Result<(), RefusalReason> {
        if self.risk == crate::risk::RiskLimits::default() {
            return Ok(());
        }
        let top = self.market_view.top(&intent.symbol);
        let limit_price = intent.kind.limit_price().map(crate::value::Price::get);
        let multiplier = self
            .portfolio
            .instruments
            .get(&intent.symbol)
            .map_or(rust_decimal::Decimal::ONE, |i| i.contract_multiplier);
        let order = crate::risk::OrderCheck {
            side: intent.side,
            qty: intent.qty.get(),
            limit_price,
            price: limit_price.or_else(|| top.mid()),
            mid: top.mid_price().map(crate::value::Price::get),
            multiplier,
        };
        let portfolio = crate::risk::PortfolioCheck {
            position: self.projected(&intent.symbol).get(),
            equity: self.portfolio.equity().get(),
            open_orders: self.open_orders.len(),
        };
        let now = self.clock;
        let recent = self.order_rate.recent(now, self.risk.rate_window_ms());
        self.risk.check(&order, &portfolio, recent)?;
        self.order_rate.record(now);
        Ok(())
    }

    /// Cancels are allowed while paused and after a stop: they only ever reduce risk.
    fn cancel(&mut self, client_order_id: ClientOrderId) {
        let now = self.clock;
        let Some(order) = self.open_orders.get_mut(&client_order_id) else {
            self.refuse(
                RefusedAction::Cancel { client_order_id },
                RefusalReason::UnknownOrder,
            );
            return;
        };
        if let Some(request) = order.request_cancel(now) {
            self.outputs
                .push_back(Output::Command(Command::Cancel(request)));
        }
    }

    pub(super) fn intent_from_request(
        &mut self,
        request: OrderRequest,
    ) -> Result<OrderIntent, Box<Refusal>> {
        let now = self.clock;
        let Some(instrument) = self.portfolio.instruments.get(&request.symbol) else {
            return Err(Box::new(Refusal::submit(
                request,
                now,
                RefusalReason::UnknownInstrument,
            )));
        };
        if request
            .kind
            .check_time_in_force(request.time_in_force)
            .is_err()
        {
            return Err(Box::new(Refusal::submit(
                request,
                now,
                RefusalReason::InvalidOrder,
            )));
        }
        // Against the projected position: the venue executes a portfolio's orders in the
        // order they were sent, so a working order that opens the position is filled before
        // this one arrives. Using the booked position alone would make decisions depend on
        // how fast fills come back.
        let qty = if request.close_position {
            let position = self.projected(&request.symbol);
            if position.is_zero()
                || position.same_direction(SignedQty::from_side(request.side, position.abs()))
            {
                return Err(Box::new(Refusal::submit(
                    request,
                    now,
                    RefusalReason::NothingToClose,
                )));
            }
            instrument.round_qty_down(position.abs())
        } else {
            instrument.round_qty_down(request.qty)
        };
        if qty.is_zero() {
            return Err(Box::new(Refusal::submit(
                request,
                now,
                RefusalReason::ZeroQuantity,
            )));
        }
        if request.reduce_only && !request.close_position {
            let position = self.projected(&request.symbol);
            let reduces = !position.same_direction(SignedQty::from_side(request.side, qty))
                && qty <= position.abs();
            if !reduces {
                return Err(Box::new(Refusal::submit(
                    request,
                    now,
                    RefusalReason::ReduceOnlyWouldIncrease,
                )));
            }
        }
        let intent_id = if let Some(id) = self.preassigned_intent.take() {
            id
        } else {
            self.next_seq += 1;
            IntentId::for_portfolio(&self.portfolio.id, self.next_seq - 1)
        };
        Ok(OrderIntent {
            client_order_id: ClientOrderId::for_intent(&intent_id),
            intent_id,
            portfolio_id: self.portfolio.id.clone(),
            symbol: request.symbol,
            side: request.side,
            qty,
            kind: request.kind,
            time_in_force: request.time_in_force,
            reduce_only: request.reduce_only || request.close_position,
            close_position: request.close_position,
            created_at: now,
            tag: request.tag,
        })
    }
}
