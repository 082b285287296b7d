//! Liquidation of perpetual positions: when an account's equity (balances plus unrealised PnL
//! at the marks) falls below its maintenance margin (Σ |notional at the mark| × the
//! instrument's maintenance margin rate), the venue cancels the account's open orders and
//! closes every perpetual position at its mark price, charging the taker fee. Each close is
//! reported as [`ReportKind::Liquidated`] under a client order id of the venue's own
//! (`liq-<portfolio>-<n>`), so the books record it as a liquidation, never as a fill of one of
//! our orders.

use super::SimExchange;
use chimera_kernel::event::{ExecutionReport, Fill, Liquidity, ReportKind};
use chimera_kernel::ids::{ClientOrderId, PortfolioId, TradeId};
use chimera_kernel::instrument::MarketKind;
use chimera_kernel::order::Side;
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::Money;
use chimera_kernel::Decimal;

impl SimExchange {
    /// Liquidates the accounts holding a perpetual position on `symbol` (whose mark just
    /// moved) that are under their maintenance margin.
    pub(super) fn check_liquidations(
        &mut self,
        symbol: &chimera_kernel::ids::Symbol,
        at: Timestamp,
    ) {
        let under: Vec<PortfolioId> = self
            .accounts
            .iter()
            .filter(|(_, account)| {
                account
                    .position(symbol)
                    .is_some_and(|p| p.kind == MarketKind::Perp && !p.is_flat())
            })
            .filter(|(_, account)| {
                let maintenance: Decimal = account
                    .positions
                    .values()
                    .filter(|p| p.kind == MarketKind::Perp && !p.is_flat())
                    .filter_map(|p| {
                        let rate = self.instruments.get(&p.symbol)?.maintenance_margin_rate;
                        Some(p.notional().get().abs() * rate)
                    })
                    .sum();
                maintenance > Decimal::ZERO && account.equity().get() < maintenance
            })
            .map(|(id, _)| id.clone())
            .collect();
        for portfolio in under {
            self.liquidate(&portfolio, at);
        }
    }

    fn liquidate(&mut self, portfolio: &PortfolioId, at: Timestamp) {
        let resting: Vec<u64> = self
            .resting
            .iter()
            .filter(|(_, w)| w.order.intent.portfolio_id == *portfolio)
            .map(|(id, _)| *id)
            .collect();
        for id in resting {
            if let Some(working) = self.resting.remove(id) {
                self.resting_index
                    .remove(&working.order.intent.client_order_id);
                self.emit(working.order, at, ReportKind::Canceled);
            }
        }
        let positions: Vec<_> = self
            .account(portfolio)
            .positions
            .values()
            .filter(|p| p.kind == MarketKind::Perp && !p.is_flat())
            .map(|p| (p.symbol.clone(), p.qty, p.mark))
            .collect();
        for (symbol, qty, mark) in positions {
            let Some(instrument) = self.instruments.get(&symbol).cloned() else {
                continue;
            };
            let Some(price) = mark else { continue };
            let side = if qty.is_negative() {
                Side::Buy
            } else {
                Side::Sell
            };
            let size = qty.abs();
            self.liquidations += 1;
            let id = ClientOrderId::new(format!("liq-{portfolio}-{}", self.liquidations));
            let fill = Fill {
                trade_id: TradeId::new(format!("{id}.1")),
                price,
                qty: size,
                fee: Money::new(
                    instrument.notional(price, size) * instrument.taker_fee.get(),
                    instrument.quote.clone(),
                ),
                liquidity: Liquidity::Taker,
            };
            let _ = self.account(portfolio).apply_fill(&symbol, side, &fill);
            self.reports.push_back(ExecutionReport {
                portfolio_id: portfolio.clone(),
                client_order_id: id,
                venue_order_id: None,
                symbol,
                ts: at,
                kind: ReportKind::Liquidated { side, fill },
            });
        }
    }
}
