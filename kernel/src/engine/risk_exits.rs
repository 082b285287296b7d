//! The engine's in-trade risk (see [`crate::risk::in_trade`]): on each market event of a symbol
//! it holds, the position's stop-loss and take-profit levels; on every event, the drawdown
//! breaker. Exits are market close-position orders sent even while the portfolio is paused
//! (they only reduce risk), recorded as [`Output::Risk`].

use super::{Command, Output, PortfolioEngine};
use crate::event::MarketEvent;
use crate::ids::Symbol;
use crate::order::{OrderKind, Side};
use crate::risk::{RiskAction, RiskTrigger};
use crate::strategy::OrderRequest;
use crate::value::SignedQty;
use rust_decimal::Decimal;

impl PortfolioEngine {
    pub(super) fn in_trade_risk(&mut self, event: &MarketEvent) {
        let symbol = event.symbol();
        if let Some(position) = self.portfolio.position(symbol).filter(|p| !p.is_flat()) {
            let price = event
                .mark_price()
                .map(crate::value::Price::get)
                .or_else(|| self.market_view.top(symbol).mid());
            let atr = self
                .risk
                .atr_feature()
                .and_then(|spec| self.features.value(symbol, &spec));
            let exit = price.and_then(|price| {
                self.risk
                    .position_exit(position.qty.get(), position.avg_entry(), price, atr)
                    .map(|trigger| (trigger, price))
            });
            if let Some((trigger, price)) = exit {
                let symbol = symbol.clone();
                self.risk_close(&symbol, trigger, Some(price));
            }
        }
        self.drawdown_breaker();
    }

    /// Equity and the highest equity seen, updated.
    pub(super) fn follow_peak_equity(&mut self) -> (rust_decimal::Decimal, rust_decimal::Decimal) {
        let equity = self.portfolio.equity().get();
        let peak = self.peak_equity.map_or(equity, |p| p.max(equity));
        self.peak_equity = Some(peak);
        (equity, peak)
    }

    fn drawdown_breaker(&mut self) {
        if self.risk.max_drawdown_pct.is_none() || self.halted.is_some() {
            return;
        }
        let (equity, peak) = self.follow_peak_equity();
        if !self.risk.drawdown_tripped(peak, equity) {
            return;
        }
        self.outputs.push_back(Output::Risk(RiskAction {
            at: self.clock,
            trigger: RiskTrigger::DrawdownBreaker,
            symbol: None,
            level: Some(equity),
        }));
        self.halted = Some(format!(
            "risk: drawdown breaker (equity {equity}, peak {peak})"
        ));
        self.cancel_parents();
        let now = self.clock;
        for order in self.open_orders.values_mut() {
            if let Some(request) = order.request_cancel(now) {
                self.outputs
                    .push_back(Output::Command(Command::Cancel(request)));
            }
        }
        let held: Vec<Symbol> = self
            .portfolio
            .positions
            .values()
            .filter(|p| !p.is_flat())
            .map(|p| p.symbol.clone())
            .collect();
        for symbol in held {
            self.risk_close(&symbol, RiskTrigger::DrawdownBreaker, None);
        }
    }

    /// Closes `symbol`'s position at market, unless a close is already working (the projected
    /// position is then flat and nothing is sent).
    fn risk_close(&mut self, symbol: &Symbol, trigger: RiskTrigger, level: Option<Decimal>) {
        let position = self
            .portfolio
            .position(symbol)
            .map_or(SignedQty::ZERO, |p| p.qty);
        let side = if position.get() > Decimal::ZERO {
            Side::Sell
        } else {
            Side::Buy
        };
        let request =
            OrderRequest::close_position(symbol.clone(), side, OrderKind::Market, trigger.tag());
        let Ok(intent) = self.intent_from_request(request) else {
            return;
        };
        if trigger != RiskTrigger::DrawdownBreaker {
            self.outputs.push_back(Output::Risk(RiskAction {
                at: self.clock,
                trigger,
                symbol: Some(symbol.clone()),
                level,
            }));
        }
        self.send_intent(intent);
    }
}
