//! `scripted`: replays a fixed list of market orders at given times.
//!
//! Param `orders` = comma-separated `TIMESTAMP:SIDE:QTY` (TIMESTAMP in RFC 3339 UTC). Each item is
//! split from the right, since the timestamp itself contains colons. An order is placed when the
//! first market event with time ≥ TIMESTAMP arrives (for a bar, its timestamp as written), on that
//! event's symbol, or only on `symbol` when that param is given. Used to replay a trade list and
//! for what-if studies.

use super::{Actions, OrderRequest, Strategy, StrategyContext, StrategyStateError};
use crate::event::MarketEvent;
use crate::ids::Symbol;
use crate::order::Side;
use crate::time::Timestamp;
use crate::value::Quantity;

/// One scheduled order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedOrder {
    /// Earliest event time that triggers it.
    pub at: Timestamp,
    /// Direction.
    pub side: Side,
    /// Quantity.
    pub qty: Quantity,
}

impl ScriptedOrder {
    /// Parses `TIMESTAMP:SIDE:QTY`.
    ///
    /// # Errors
    /// A message naming the item and what part of it is wrong.
    pub fn parse(item: &str) -> Result<Self, String> {
        let item = item.trim();
        let mut parts = item.rsplitn(3, ':');
        let (Some(qty), Some(side), Some(at)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("`{item}`: expected TIMESTAMP:SIDE:QTY"));
        };
        let at = Timestamp::parse(at).map_err(|e| format!("`{item}`: {e}"))?;
        let side = side.parse::<Side>().map_err(|e| format!("`{item}`: {e}"))?;
        let qty = qty
            .parse::<Quantity>()
            .map_err(|e| format!("`{item}`: {e}"))?;
        if qty.is_zero() {
            return Err(format!("`{item}`: quantity must be > 0"));
        }
        Ok(Self { at, side, qty })
    }
}

/// The scripted strategy.
#[derive(Debug, Clone)]
pub struct Scripted {
    orders: Vec<ScriptedOrder>,
    next: usize,
    symbol: Option<Symbol>,
}

impl Scripted {
    /// Orders are sorted by time (stable, so equal times keep their given order).
    pub fn new(mut orders: Vec<ScriptedOrder>, symbol: Option<Symbol>) -> Self {
        orders.sort_by_key(|o| o.at);
        Self {
            orders,
            next: 0,
            symbol,
        }
    }

    /// Orders not yet placed.
    pub fn remaining(&self) -> &[ScriptedOrder] {
        &self.orders[self.next..]
    }
}

impl Strategy for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    fn save_state(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "next": self.next }))
    }

    fn load_state(&mut self, state: &serde_json::Value) -> Result<(), StrategyStateError> {
        let fail = |problem: String| StrategyStateError::new("scripted", problem);
        let next = state
            .get("next")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| fail(format!("{state}: expected {{\"next\": n}}")))?;
        let next = usize::try_from(next).map_err(|e| fail(e.to_string()))?;
        if next > self.orders.len() {
            return Err(fail(format!(
                "points at order {next} of {}",
                self.orders.len()
            )));
        }
        self.next = next;
        Ok(())
    }

    fn on_market(&mut self, event: &MarketEvent, _ctx: &StrategyContext<'_>, out: &mut Actions) {
        if self.symbol.as_ref().is_some_and(|s| s != event.symbol()) {
            return;
        }
        let ts = event.ts();
        while let Some(order) = self.orders.get(self.next).filter(|o| o.at <= ts) {
            out.submit(OrderRequest::market(
                event.symbol().clone(),
                order.side,
                order.qty,
                "scripted",
            ));
            self.next += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_from_the_right() {
        let o = ScriptedOrder::parse("2022-01-01T00:05:00Z:SELL:0.5").unwrap();
        assert_eq!(o.at, Timestamp::parse("2022-01-01T00:05:00Z").unwrap());
        assert_eq!(o.side, Side::Sell);
        assert_eq!(o.qty.get(), dec!(0.5));
    }

    #[test]
    fn bad_items_name_themselves() {
        let err = ScriptedOrder::parse("2022-01-01T00:05:00Z:HOLD:1").unwrap_err();
        assert!(err.contains("HOLD"), "{err}");
        assert!(ScriptedOrder::parse("BUY:1").is_err());
        assert!(ScriptedOrder::parse("2022-01-01T00:05:00Z:BUY:0").is_err());
    }
}
