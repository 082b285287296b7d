//! The kill switch inside the engine: refusing what would add exposure, cancelling what could,
//! and closing positions, as the [`crate::risk::KillMode`] in force for each symbol says.
//!
//! The runtime sends the whole [`KillState`] each time it changes; only a symbol whose mode got
//! harder is acted on, so a repeat does nothing. Flattening waits until the symbol has no
//! working order (the cancels were answered): closing against the booked position while
//! cancelled orders might still fill could overshoot into the other side.

use super::{Command, Output, PortfolioEngine};
use crate::event::{ExecutionReport, ReportKind};
use crate::ids::Symbol;
use crate::order::Side;
use crate::risk::{KillMode, KillState};
use crate::strategy::OrderRequest;
use crate::time::Timestamp;
use crate::value::{Quantity, SignedQty};
use rust_decimal::Decimal;

/// The tag of the orders that flatten a position under the kill switch.
pub const FLATTEN_TAG: &str = "kill_switch";

/// How long after the venue rejected a close the engine tries again, ms (engine time).
pub const FLATTEN_RETRY_MS: i64 = 1_000;

impl PortfolioEngine {
    /// The kill switches in force.
    pub fn kill_state(&self) -> &KillState {
        &self.kill
    }

    pub(super) fn on_kill(&mut self, state: &KillState) {
        let before = std::mem::replace(&mut self.kill, state.clone());
        let symbols: Vec<Symbol> = self.portfolio.instruments.keys().cloned().collect();
        for symbol in symbols {
            let now = self.kill.mode_for(&symbol);
            if now > before.mode_for(&symbol) {
                if let Some(mode) = now {
                    self.kill_escalated(&symbol, mode);
                }
            }
        }
    }

    fn kill_escalated(&mut self, symbol: &Symbol, mode: KillMode) {
        if mode >= KillMode::ReduceOnly {
            let all = mode >= KillMode::CancelAll;
            self.cancel_parents_where(|p| {
                p.intent.symbol == *symbol && (all || !p.intent.reduce_only)
            });
            let now = self.clock;
            for order in self.open_orders.values_mut() {
                if order.intent.symbol == *symbol && (all || !order.intent.reduce_only) {
                    if let Some(request) = order.request_cancel(now) {
                        self.outputs
                            .push_back(Output::Command(Command::Cancel(request)));
                    }
                }
            }
        }
        if mode == KillMode::Flatten {
            self.flatten_when_clear(symbol);
        }
    }

    /// On market data while a switch is in force: a symbol under [`KillMode::Flatten`] whose
    /// orders are gone and whose position is not flat is closed (again), unless the venue
    /// rejected the last close less than [`FLATTEN_RETRY_MS`] ago.
    pub(super) fn kill_follow_up(&mut self, symbol: &Symbol) {
        if self.kill.mode_for(symbol) == Some(KillMode::Flatten)
            && self
                .flatten_retry
                .get(symbol)
                .is_none_or(|at| self.clock >= *at)
        {
            self.flatten_when_clear(symbol);
        }
    }

    /// After a report on `symbol`: a fill or an order's end may leave the symbol ready to
    /// close; a rejection (of the close itself: nothing else is sent under flatten) waits for
    /// the retry time instead, so a venue that keeps refusing is not asked in a tight loop.
    pub(super) fn kill_after_report(&mut self, symbol: &Symbol, report: &ExecutionReport) {
        if matches!(report.kind, ReportKind::Rejected { .. }) {
            let retry = Timestamp(self.clock.0.saturating_add(FLATTEN_RETRY_MS));
            self.flatten_retry.insert(symbol.clone(), retry);
            return;
        }
        self.kill_follow_up(symbol);
    }

    fn flatten_when_clear(&mut self, symbol: &Symbol) {
        let working = self
            .open_orders
            .values()
            .any(|o| o.intent.symbol == *symbol)
            || self.parents.values().any(|p| p.intent.symbol == *symbol);
        if working {
            return;
        }
        let position = self
            .portfolio
            .position(symbol)
            .map_or(SignedQty::ZERO, |p| p.qty);
        if position.is_zero() {
            return;
        }
        let side = if position.get().is_sign_positive() {
            Side::Sell
        } else {
            Side::Buy
        };
        // On spot, what can be sold is what is held: a fee paid in the base asset leaves less
        // than was bought.
        let mut qty = position.abs();
        let spot = self
            .portfolio
            .instruments
            .get(symbol)
            .filter(|i| i.kind == crate::instrument::MarketKind::Spot);
        if let (Some(instrument), Side::Sell) = (spot, side) {
            let held = self
                .portfolio
                .balance(&instrument.base)
                .get()
                .max(Decimal::ZERO);
            qty = Quantity::new(qty.get().min(held)).unwrap_or(Quantity::ZERO);
        }
        let close_position = spot.is_none();
        // On a perpetual, close-position: the venue cuts it to the position it holds when it
        // executes, so a difference between its books and ours cannot leave a remainder or
        // open the other way. On spot (no such order), reduce-only for what is held.
        let mut request =
            OrderRequest::market(symbol.clone(), side, qty, FLATTEN_TAG).reduce_only();
        request.close_position = close_position;
        // Not through `submit`: a flatten goes out paused or stopped, past the risk limits and
        // any execution algorithm. A quantity below one lot cannot be closed: refused, and
        // tried again on the next event.
        match self.intent_from_request(request) {
            Ok(intent) => self.send_intent(intent),
            Err(refusal) => {
                self.stats.refusals += 1;
                self.outputs.push_back(Output::Refused(*refusal));
            }
        }
    }

    /// Whether a kill switch refuses `request`; one it lets through (it reduces the position)
    /// is made reduce-only, so the gateway and the venue hold it to that too.
    pub(super) fn kill_refuses(&self, request: &mut OrderRequest) -> bool {
        if self.kill.is_clear() || self.kill.mode_for(&request.symbol).is_none() {
            return false;
        }
        if request.close_position {
            request.reduce_only = true;
            return false;
        }
        let position = self.projected(&request.symbol);
        let order = SignedQty::from_side(request.side, request.qty);
        let reduces =
            !position.is_zero() && !position.same_direction(order) && request.qty <= position.abs();
        if reduces {
            request.reduce_only = true;
        }
        !reduces
    }
}
