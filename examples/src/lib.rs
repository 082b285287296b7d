//! A user-defined strategy, as a library user would write one: a Donchian-channel breakout.
//! Run it with `cargo run --release -p chimera-examples --example breakout -- [BARS.csv]`.

use chimera_kernel::event::MarketEvent;
use chimera_kernel::order::Side;
use chimera_kernel::strategy::{Actions, OrderRequest, Strategy, StrategyContext};
use chimera_kernel::value::{Price, Quantity};
use chimera_kernel::Decimal;
use std::collections::VecDeque;

/// Goes long when a bar closes above the highest high of the previous `lookback` bars, and
/// flat when it closes below the lowest low. One symbol.
#[derive(Debug)]
pub struct Breakout {
    lookback: usize,
    qty: Quantity,
    window: VecDeque<(Price, Price)>,
}

impl Breakout {
    /// A breakout over `lookback` bars trading `qty`.
    pub fn new(lookback: usize, qty: Quantity) -> Self {
        Self {
            lookback: lookback.max(1),
            qty,
            window: VecDeque::new(),
        }
    }
}

impl Strategy for Breakout {
    fn name(&self) -> &'static str {
        "breakout"
    }

    fn on_market(&mut self, event: &MarketEvent, ctx: &StrategyContext<'_>, out: &mut Actions) {
        let MarketEvent::Bar(bar) = event else { return };
        if self.window.len() == self.lookback {
            let high = self.window.iter().map(|w| w.0).max();
            let low = self.window.iter().map(|w| w.1).min();
            let position = ctx.projected_qty(&bar.symbol);
            if high.is_some_and(|h| bar.close > h) && position.is_zero() {
                out.submit(OrderRequest::market(
                    bar.symbol.clone(),
                    Side::Buy,
                    self.qty,
                    "breakout",
                ));
            } else if low.is_some_and(|l| bar.close < l) && position > Decimal::ZERO {
                if let Ok(qty) = Quantity::new(position) {
                    out.submit(OrderRequest {
                        reduce_only: true,
                        ..OrderRequest::market(bar.symbol.clone(), Side::Sell, qty, "exit")
                    });
                }
            }
            self.window.pop_front();
        }
        self.window.push_back((bar.high, bar.low));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chimera_kernel::engine::PortfolioEngine;
    use chimera_kernel::event::Bar;
    use chimera_kernel::ids::{Asset, PortfolioId, Symbol};
    use chimera_kernel::instrument::{Instrument, MarketKind};
    use chimera_kernel::portfolio::Portfolio;
    use chimera_kernel::time::Timestamp;
    use chimera_sim::{Backtest, SimConfig};

    #[test]
    fn breakout_buys_the_break_and_exits_the_breakdown() {
        let instrument = Instrument::linear("BTCUSDT", "USDT", MarketKind::Perp).unwrap();
        let mut portfolio = Portfolio::new(PortfolioId::new("b"), Asset::new("USDT"));
        portfolio.deposit(Asset::new("USDT"), Decimal::from(10_000));
        portfolio.add_instrument(instrument.clone());
        let mut backtest = Backtest::new(SimConfig::default(), 60_000);
        backtest.add_instrument(instrument);
        backtest.add_portfolio(PortfolioEngine::new(
            portfolio,
            Box::new(Breakout::new(3, Quantity::new(Decimal::ONE).unwrap())),
        ));
        for (minute, close) in [100, 101, 100, 105, 106, 104, 99, 98]
            .into_iter()
            .enumerate()
        {
            let p = Price::new(Decimal::from(close)).unwrap();
            backtest.step(&MarketEvent::Bar(Bar {
                symbol: Symbol::new("BTCUSDT"),
                ts: Timestamp(minute as i64 * 60_000),
                open: p,
                high: p,
                low: p,
                close: p,
                volume: Quantity::ZERO,
            }));
        }
        let (summaries, _, fills) = backtest.finish();
        assert_eq!(
            fills
                .iter()
                .map(|f| (f.side, f.price.get()))
                .collect::<Vec<_>>(),
            vec![
                (Side::Buy, Decimal::from(105)),
                (Side::Sell, Decimal::from(99))
            ]
        );
        assert_eq!(summaries[0].realized_pnl, Decimal::from(-6));
    }
}
