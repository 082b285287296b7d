//! A user-defined strategy, as a library user would write one: a Donchian-channel breakout,
//! registered under the name `breakout` by [`register`].
//!
//! - As a library: `cargo run --release -p chimera-examples --example breakout -- [BARS.csv]`
//!   drives [`chimera_sim::Backtest`] directly.
//! - As the user's own `chimera` (`src/bin/chimera-breakout.rs`): the same command line as
//!   `chimera`, with `breakout` beside the built-in strategies, so `backtest --config`, `up`,
//!   `up --processes` and `node` run it from `examples/breakout/up.toml`.

use chimera_kernel::event::MarketEvent;
use chimera_kernel::order::Side;
use chimera_kernel::strategy::{
    positive_qty, positive_usize, Actions, OrderRequest, Params, Strategy, StrategyContext,
    StrategyParams, StrategyRegistry, StrategyStateError,
};
use chimera_kernel::value::{Price, Quantity};
use std::collections::VecDeque;

/// Adds this crate's strategies to `registry`.
pub fn register(registry: &mut StrategyRegistry) -> &mut StrategyRegistry {
    registry.register("breakout", build_breakout)
}

/// Builds a [`Breakout`] from `lookback` (bars, > 0) and `qty` (> 0).
///
/// # Errors
/// Every missing, unknown or invalid param.
pub fn build_breakout(params: &StrategyParams) -> Result<Box<dyn Strategy>, Vec<String>> {
    let mut p = Params::new(params, &["lookback", "qty"]);
    let lookback = p.parse("lookback", positive_usize);
    let qty = p.parse("qty", positive_qty);
    let built = lookback
        .zip(qty)
        .map(|(lookback, qty)| Box::new(Breakout::new(lookback, qty)) as Box<dyn Strategy>);
    p.finish(built)
}

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
            } else if low.is_some_and(|l| bar.close < l) && position.is_positive() {
                out.submit(OrderRequest {
                    reduce_only: true,
                    ..OrderRequest::market(bar.symbol.clone(), Side::Sell, position.abs(), "exit")
                });
            }
            self.window.pop_front();
        }
        self.window.push_back((bar.high, bar.low));
    }

    /// Leaves nothing behind: cancels what still rests and closes what is held.
    fn on_stop(&mut self, ctx: &StrategyContext<'_>, out: &mut Actions) {
        for order in ctx.open_orders() {
            out.cancel(order.intent.client_order_id.clone());
        }
        for symbol in ctx.portfolio.positions.keys() {
            let held = ctx.position_qty(symbol);
            let side = if held.is_positive() {
                Side::Sell
            } else {
                Side::Buy
            };
            if !held.is_zero() {
                out.submit(OrderRequest {
                    reduce_only: true,
                    ..OrderRequest::market(symbol.clone(), side, held.abs(), "stop")
                });
            }
        }
    }

    /// The window, so a restarted node does not wait `lookback` bars again.
    fn save_state(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.window).ok()
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<(), StrategyStateError> {
        let window: VecDeque<(Price, Price)> = serde_json::from_value(state.clone())
            .map_err(|e| StrategyStateError::new("breakout", e.to_string()))?;
        if window.len() > self.lookback {
            return Err(StrategyStateError::new(
                "breakout",
                format!(
                    "saved window has {} bars, more than lookback {}",
                    window.len(),
                    self.lookback
                ),
            ));
        }
        self.window = window;
        Ok(())
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
    use chimera_kernel::value::Amount;
    use chimera_kernel::Decimal;
    use chimera_sim::{Backtest, SimConfig};

    #[test]
    fn breakout_buys_the_break_and_exits_the_breakdown() {
        let instrument = Instrument::linear("BTCUSDT", "USDT", MarketKind::Perp).unwrap();
        let mut portfolio = Portfolio::new(PortfolioId::new("b"), Asset::new("USDT"));
        portfolio.deposit(Asset::new("USDT"), Amount::new(Decimal::from(10_000)));
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
