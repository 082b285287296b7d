//! What kind of order it is ([`OrderKind`]), how long it works ([`TimeInForce`]) and which
//! price arms a contingent one ([`TriggerSource`]).
//!
//! Contingent kinds (stops, take-profits, trailing stops) rest at the venue untriggered; when
//! their trigger condition is met they become a market order, or a limit order at `price`
//! when they carry one. The conditions are Binance's, the same for spot and USDT perpetuals:
//!
//! | kind | BUY fires when | SELL fires when |
//! |---|---|---|
//! | stop (`StopMarket`, `StopLimit`) | trigger price ≥ `stop_price` | trigger price ≤ `stop_price` |
//! | take-profit (`TakeProfitMarket`, `TakeProfitLimit`) | trigger price ≤ `stop_price` | trigger price ≥ `stop_price` |
//! | trailing stop | see [`super::TrailingTrigger`] | see [`super::TrailingTrigger`] |
//!
//! A contingent order whose condition already holds when it arrives is refused
//! ([`crate::event::RejectReason::WouldImmediatelyTrigger`]), as Binance does.

use super::{Side, TrailingKind};
use crate::value::Price;
use serde::{Deserialize, Serialize};

/// Which price arms a contingent order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TriggerSource {
    /// The last traded price (Binance `CONTRACT_PRICE`; spot's only choice).
    #[default]
    Last,
    /// The mark price (perpetuals; the venue uses the mid when the data carries no mark).
    Mark,
}

/// Order type. Decoded with its `"type"` read first (`kind_decode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderKind {
    /// Execute now at the best available price.
    Market,
    /// Execute at `price` or better; rests until filled, canceled or expired.
    Limit {
        /// Limit price.
        price: Price,
        /// Refuse the order rather than take liquidity (Binance `LIMIT_MAKER`).
        post_only: bool,
    },
    /// A stop-loss that becomes a market order when the trigger price reaches `stop_price`.
    StopMarket {
        /// Trigger level.
        stop_price: Price,
        /// Which price is compared with it.
        #[serde(default)]
        trigger: TriggerSource,
    },
    /// A stop-loss that becomes a limit order at `price` when triggered.
    StopLimit {
        /// Trigger level.
        stop_price: Price,
        /// Limit price once triggered.
        price: Price,
        /// Which price is compared with it.
        #[serde(default)]
        trigger: TriggerSource,
    },
    /// A take-profit that becomes a market order when triggered.
    TakeProfitMarket {
        /// Trigger level.
        stop_price: Price,
        /// Which price is compared with it.
        #[serde(default)]
        trigger: TriggerSource,
    },
    /// A take-profit that becomes a limit order at `price` when triggered.
    TakeProfitLimit {
        /// Trigger level.
        stop_price: Price,
        /// Limit price once triggered.
        price: Price,
        /// Which price is compared with it.
        #[serde(default)]
        trigger: TriggerSource,
    },
    /// A trailing stop (or trailing take-profit): fires `delta_bips` basis points back from
    /// the best price since activation, then trades at market, or at `price` when given.
    TrailingStop {
        /// Stop-loss or take-profit flavour (decides the activation condition).
        flavour: TrailingKind,
        /// Distance from the extreme, in basis points (1–9 999; Binance futures' callback
        /// rate of 0.1%–10% is 10–1 000).
        delta_bips: u32,
        /// Start tracking only once the market reaches this price.
        activation: Option<Price>,
        /// Limit price once triggered (`None`: market).
        price: Option<Price>,
        /// Which price is tracked.
        #[serde(default)]
        trigger: TriggerSource,
    },
}

impl OrderKind {
    /// The price the order trades at or better, once live (`None`: market).
    pub fn limit_price(&self) -> Option<Price> {
        match *self {
            OrderKind::Limit { price, .. }
            | OrderKind::StopLimit { price, .. }
            | OrderKind::TakeProfitLimit { price, .. } => Some(price),
            OrderKind::TrailingStop { price, .. } => price,
            OrderKind::Market
            | OrderKind::StopMarket { .. }
            | OrderKind::TakeProfitMarket { .. } => None,
        }
    }

    /// The fixed trigger level of a stop or take-profit; a trailing stop's activation price.
    pub fn stop_price(&self) -> Option<Price> {
        match *self {
            OrderKind::StopMarket { stop_price, .. }
            | OrderKind::StopLimit { stop_price, .. }
            | OrderKind::TakeProfitMarket { stop_price, .. }
            | OrderKind::TakeProfitLimit { stop_price, .. } => Some(stop_price),
            OrderKind::TrailingStop { activation, .. } => activation,
            OrderKind::Market | OrderKind::Limit { .. } => None,
        }
    }

    /// Whether the order waits for a trigger before it can trade.
    pub fn is_contingent(&self) -> bool {
        !matches!(self, OrderKind::Market | OrderKind::Limit { .. })
    }

    /// Which price arms it (`None` for market and limit orders).
    pub fn trigger_source(&self) -> Option<TriggerSource> {
        match *self {
            OrderKind::StopMarket { trigger, .. }
            | OrderKind::StopLimit { trigger, .. }
            | OrderKind::TakeProfitMarket { trigger, .. }
            | OrderKind::TakeProfitLimit { trigger, .. }
            | OrderKind::TrailingStop { trigger, .. } => Some(trigger),
            OrderKind::Market | OrderKind::Limit { .. } => None,
        }
    }

    /// For a fixed-level stop or take-profit: whether `price` meets its trigger condition for
    /// a `side` order (table in the module doc). `None` for other kinds.
    pub fn fires_at(&self, side: Side, price: Price) -> Option<bool> {
        let (stop_price, is_stop) = match *self {
            OrderKind::StopMarket { stop_price, .. } | OrderKind::StopLimit { stop_price, .. } => {
                (stop_price, true)
            }
            OrderKind::TakeProfitMarket { stop_price, .. }
            | OrderKind::TakeProfitLimit { stop_price, .. } => (stop_price, false),
            _ => return None,
        };
        let rises_to = price >= stop_price;
        let falls_to = price <= stop_price;
        Some(match (side, is_stop) {
            (Side::Buy, true) | (Side::Sell, false) => rises_to,
            (Side::Sell, true) | (Side::Buy, false) => falls_to,
        })
    }

    /// The same order with its limit price replaced (`None` when it has no limit price to
    /// replace).
    pub fn with_limit_price(&self, new: Price) -> Option<OrderKind> {
        let mut kind = *self;
        match &mut kind {
            OrderKind::Limit { price, .. }
            | OrderKind::StopLimit { price, .. }
            | OrderKind::TakeProfitLimit { price, .. }
            | OrderKind::TrailingStop {
                price: Some(price), ..
            } => *price = new,
            _ => return None,
        }
        Some(kind)
    }

    /// What the order becomes once triggered: a market order, or a (non post-only) limit.
    pub fn triggered(&self) -> OrderKind {
        match self.limit_price() {
            Some(price) if self.is_contingent() => OrderKind::Limit {
                price,
                post_only: false,
            },
            _ if self.is_contingent() => OrderKind::Market,
            _ => *self,
        }
    }

    /// Checks that `time_in_force` makes sense for this kind, as Binance does: a market order
    /// takes no time in force but IOC/FOK semantics (GTC is accepted as "the default"), GTX and
    /// post-only only suit orders that rest, and a post-only limit cannot be IOC or FOK.
    ///
    /// # Errors
    /// A sentence saying what does not go together.
    pub fn check_time_in_force(&self, time_in_force: TimeInForce) -> Result<(), &'static str> {
        let market_like = self.limit_price().is_none();
        match (self, time_in_force) {
            (_, TimeInForce::Gtx) if market_like => Err("GTX (post-only) needs a limit price"),
            (
                OrderKind::Limit {
                    post_only: true, ..
                },
                TimeInForce::Ioc | TimeInForce::Fok,
            ) => Err("a post-only order cannot be IOC or FOK"),
            _ => Ok(()),
        }
    }

    /// Stable name (Binance's order type spelling), for reports and messages.
    pub fn name(&self) -> &'static str {
        match self {
            OrderKind::Market => "MARKET",
            OrderKind::Limit {
                post_only: true, ..
            } => "LIMIT_MAKER",
            OrderKind::Limit { .. } => "LIMIT",
            OrderKind::StopMarket { .. } => "STOP_MARKET",
            OrderKind::StopLimit { .. } => "STOP_LIMIT",
            OrderKind::TakeProfitMarket { .. } => "TAKE_PROFIT_MARKET",
            OrderKind::TakeProfitLimit { .. } => "TAKE_PROFIT_LIMIT",
            OrderKind::TrailingStop { .. } => "TRAILING_STOP",
        }
    }
}

/// How long an order works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum TimeInForce {
    /// Good till canceled.
    #[default]
    Gtc,
    /// Immediate or cancel: the unfilled rest is canceled at once.
    Ioc,
    /// Fill or kill: fills completely at once or not at all (the order expires unfilled).
    Fok,
    /// Good till crossing (post-only, Binance futures): refused if any part would take
    /// liquidity.
    Gtx,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn p(v: rust_decimal::Decimal) -> Price {
        Price::new(v).unwrap()
    }

    #[test]
    fn trigger_conditions_follow_the_table() {
        let stop = OrderKind::StopMarket {
            stop_price: p(dec!(100)),
            trigger: TriggerSource::Last,
        };
        let take = OrderKind::TakeProfitMarket {
            stop_price: p(dec!(100)),
            trigger: TriggerSource::Last,
        };
        assert_eq!(stop.fires_at(Side::Sell, p(dec!(100))), Some(true));
        assert_eq!(stop.fires_at(Side::Sell, p(dec!(101))), Some(false));
        assert_eq!(stop.fires_at(Side::Buy, p(dec!(101))), Some(true));
        assert_eq!(stop.fires_at(Side::Buy, p(dec!(99))), Some(false));
        assert_eq!(take.fires_at(Side::Sell, p(dec!(101))), Some(true));
        assert_eq!(take.fires_at(Side::Sell, p(dec!(99))), Some(false));
        assert_eq!(take.fires_at(Side::Buy, p(dec!(99))), Some(true));
        assert_eq!(OrderKind::Market.fires_at(Side::Buy, p(dec!(1))), None);
    }

    #[test]
    fn triggered_orders_become_market_or_limit() {
        let stop_limit = OrderKind::StopLimit {
            stop_price: p(dec!(100)),
            price: p(dec!(99)),
            trigger: TriggerSource::Mark,
        };
        assert_eq!(
            stop_limit.triggered(),
            OrderKind::Limit {
                price: p(dec!(99)),
                post_only: false
            }
        );
        let trailing = OrderKind::TrailingStop {
            flavour: TrailingKind::StopLoss,
            delta_bips: 100,
            activation: None,
            price: None,
            trigger: TriggerSource::Last,
        };
        assert_eq!(trailing.triggered(), OrderKind::Market);
        assert_eq!(OrderKind::Market.triggered(), OrderKind::Market);
    }

    #[test]
    fn old_spellings_still_read() {
        let kind: OrderKind =
            serde_json::from_str(r#"{"type":"stop_market","stop_price":"5"}"#).unwrap();
        assert_eq!(kind.trigger_source(), Some(TriggerSource::Last));
        let limit: OrderKind =
            serde_json::from_str(r#"{"type":"limit","price":"5","post_only":false}"#).unwrap();
        assert_eq!(limit.limit_price(), Some(p(dec!(5))));
    }
}
