//! `ema-cross`: the classic moving-average crossover, as other frameworks ship it.
//!
//! Two EMAs of bar closes with `alpha = 2 / (n + 1)`, seeded with the first close and ready
//! after `n` values. No signal before the slow EMA is ready. On every bar afterwards:
//! - fast ≥ slow: flat → enter long `qty`; short → buy to close, then enter long (two orders);
//! - fast < slow: flat → enter short `qty` (perp: open a short; spot: only when the base balance
//!   covers it); long → sell to close, then enter short where allowed.
//!
//! With `entries = cross`, positions open only on the bar the EMAs cross.
//!
//! Entries go through the portfolio's decision pipeline ([`crate::decision`]) as signals
//! `cross_up` / `cross_down` (on a crossover) or `fast_above` / `fast_below` (flat between
//! crossovers) with the EMA gap as value: gates, rules, a model and sizing may
//! skip or resize them; closes are always sent.
//!
//! Decisions use the projected position (position + working orders) so a reversal in flight is
//! not sent twice.

use super::{Actions, OrderRequest, Strategy, StrategyContext, StrategyStateError};
use crate::event::MarketEvent;
pub use crate::features::indicators::ExponentialMovingAverage;
use crate::ids::{FastMap, Symbol};
use crate::instrument::MarketKind;
use crate::order::Side;
use crate::value::Quantity;
use rust_decimal::Decimal;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Pair {
    fast: ExponentialMovingAverage,
    slow: ExponentialMovingAverage,
    /// Whether fast was at or above slow on the last bar (`None` before both were ready).
    #[serde(default)]
    above: Option<bool>,
}

/// The crossover strategy; keeps one EMA pair per symbol it sees bars for.
#[derive(Debug, Clone)]
pub struct EmaCross {
    fast: usize,
    slow: usize,
    qty: Quantity,
    pairs: FastMap<Symbol, Pair>,
    close_on_stop: bool,
    on_cross_only: bool,
}

impl EmaCross {
    /// A crossover of `fast` and `slow` periods trading `qty` per entry.
    pub fn new(fast: usize, slow: usize, qty: Quantity) -> Self {
        Self {
            fast,
            slow,
            qty,
            pairs: FastMap::default(),
            close_on_stop: true,
            on_cross_only: false,
        }
    }

    /// Whether positions are opened only on the bar the EMAs cross (`entries = cross`), not
    /// whenever the portfolio is flat (`entries = always`, the default and the reference
    /// frameworks' behaviour). With stops, take-profits or rules that skip entries, crossing
    /// entries are what one wants: a stopped-out position is not re-entered on the next bar.
    pub fn with_entries_on_cross_only(mut self, on_cross_only: bool) -> Self {
        self.on_cross_only = on_cross_only;
        self
    }

    /// Whether [`Strategy::on_stop`] cancels the working orders and closes the positions
    /// (`true` by default, as the reference frameworks' EMA-cross examples do).
    pub fn with_close_on_stop(mut self, close: bool) -> Self {
        self.close_on_stop = close;
        self
    }
}

impl Strategy for EmaCross {
    fn name(&self) -> &'static str {
        "ema-cross"
    }

    fn save_state(&self) -> Option<serde_json::Value> {
        let pairs: std::collections::BTreeMap<&str, &Pair> =
            self.pairs.iter().map(|(s, p)| (s.as_str(), p)).collect();
        serde_json::to_value(pairs).ok()
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<(), StrategyStateError> {
        let fail = |problem: String| StrategyStateError::new("ema-cross", problem);
        let pairs: std::collections::BTreeMap<String, Pair> =
            serde_json::from_value(state.clone()).map_err(|e| fail(e.to_string()))?;
        for (symbol, pair) in pairs {
            if pair.fast.period() != self.fast || pair.slow.period() != self.slow {
                return Err(fail(format!(
                    "ema-cross state for {symbol} has periods {}/{}, the strategy {}/{}",
                    pair.fast.period(),
                    pair.slow.period(),
                    self.fast,
                    self.slow
                )));
            }
            self.pairs.insert(Symbol::new(symbol), pair);
        }
        Ok(())
    }

    fn on_market(&mut self, event: &MarketEvent, ctx: &StrategyContext<'_>, out: &mut Actions) {
        let MarketEvent::Bar(bar) = event else { return };
        // The same double as the general conversion (see `to_f64_fast`), at a fraction of its cost.
        let close = crate::value::to_f64_fast(bar.close.get());
        if !close.is_finite() {
            return;
        }
        let (fast, slow) = (self.fast, self.slow);
        let pair = self
            .pairs
            .entry(bar.symbol.clone())
            .or_insert_with(|| Pair {
                fast: ExponentialMovingAverage::new(fast),
                slow: ExponentialMovingAverage::new(slow),
                above: None,
            });
        let fast_value = pair.fast.update(close);
        let slow_value = pair.slow.update(close);
        if !pair.slow.is_ready() || !pair.fast.is_ready() {
            return;
        }
        let above = fast_value >= slow_value;
        let crossed = pair.above.is_some_and(|was| was != above);
        pair.above = Some(above);
        if self.on_cross_only && !crossed {
            return;
        }
        let Some(instrument) = ctx.instrument(&bar.symbol) else {
            return;
        };
        let symbol = &bar.symbol;
        let projected = ctx.projected_qty(symbol);
        let want = if fast_value >= slow_value {
            Side::Buy
        } else {
            Side::Sell
        };
        let holding_against = match want {
            Side::Buy => projected.is_negative(),
            Side::Sell => projected.is_positive(),
        };
        let flat = projected.is_zero();
        if !flat && !holding_against {
            return;
        }
        if holding_against {
            {
                let close_qty = projected.abs();
                out.submit(OrderRequest {
                    reduce_only: true,
                    ..OrderRequest::market(symbol.clone(), want, close_qty, "close")
                });
            }
        }
        let can_enter = match (instrument.kind, want) {
            (MarketKind::Perp, _) | (MarketKind::Spot, Side::Buy) => true,
            (MarketKind::Spot, Side::Sell) => {
                // Base left after the close must cover the short entry.
                let base_after_close = ctx.portfolio.balance(&instrument.base).get()
                    - projected.get().max(Decimal::ZERO);
                base_after_close >= self.qty.get()
            }
        };
        if can_enter {
            // Through the portfolio's decision pipeline: with the default policy it is the
            // same market order of `qty`, tagged `entry`.
            out.enter(crate::decision::Entry {
                symbol: symbol.clone(),
                side: want,
                qty: self.qty,
                signal: (if want == Side::Buy {
                    "cross_up"
                } else {
                    "cross_down"
                })
                .into(),
                value: crate::value::decimal_from_f64_8dp(fast_value - slow_value)
                    .map(|d| d.normalize()),
            });
        }
    }

    fn on_stop(&mut self, ctx: &StrategyContext<'_>, out: &mut Actions) {
        if !self.close_on_stop {
            return;
        }
        for order in ctx.open_orders() {
            out.cancel(order.intent.client_order_id.clone());
        }
        let mut symbols: Vec<&Symbol> = self.pairs.keys().collect();
        symbols.sort();
        for symbol in symbols {
            let position = ctx.position_qty(symbol);
            let side = if position.is_negative() {
                Side::Buy
            } else {
                Side::Sell
            };
            {
                let qty = position.abs();
                if !qty.is_zero() {
                    out.submit(OrderRequest {
                        reduce_only: true,
                        ..OrderRequest::market(symbol.clone(), side, qty, "stop")
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ExponentialMovingAverage;

    #[test]
    fn ema_is_seeded_with_first_value_and_ready_after_period() {
        let mut ema = ExponentialMovingAverage::new(3);
        assert!((ema.update(10.0) - 10.0).abs() < 1e-12);
        assert!(!ema.is_ready());
        // alpha = 0.5
        assert!((ema.update(20.0) - 15.0).abs() < 1e-12);
        assert!((ema.update(30.0) - 22.5).abs() < 1e-12);
        assert!(ema.is_ready());
    }
}
