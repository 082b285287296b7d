//! Risk of one portfolio. Pre-trade checks (here) are pure functions of the order and the
//! portfolio's state, answering approved or the check that refused it (a closed code, recorded
//! with the refusal); in-trade exits ([`in_trade`]) close positions the market has moved against
//! or far enough for, and stop the portfolio at its drawdown limit.
//!
//! - Position ratio: |position value after the order| ÷ equity ≤ the limit.
//! - Order notional: the order's quote value ≤ the limit.
//! - Open orders: fewer working orders than the limit.
//! - Price band: a limit price within ±N bp of the mid (fat-finger protection).
//! - Order rate: at most N orders within a sliding window of engine time.
//!
//! An order that only reduces the projected position passes the position-ratio and notional
//! checks (a risk limit must never stop a portfolio from getting smaller); the band, the count
//! and the rate apply to every order. Reduce-only consistency is the engine's own check.

pub mod in_trade;
pub mod kill;

pub use in_trade::{RiskAction, RiskTrigger};
pub use kill::{KillMode, KillState};

use crate::order::Side;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// A portfolio's limits; each is off when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskLimits {
    /// Largest |position value| ÷ equity (3 = three times equity).
    #[serde(with = "crate::value::decimal_str::option")]
    pub max_position_ratio: Option<Decimal>,
    /// Largest quote value of one order.
    #[serde(with = "crate::value::decimal_str::option")]
    pub max_order_notional: Option<Decimal>,
    /// Most working orders at once.
    pub max_open_orders: Option<usize>,
    /// Widest distance of a limit price from the mid, in basis points.
    #[serde(with = "crate::value::decimal_str::option")]
    pub price_band_bps: Option<Decimal>,
    /// Most orders within `rate_window_ms`.
    pub max_orders_per_window: Option<usize>,
    /// The order-rate window (default one second).
    pub rate_window_ms: Option<i64>,
    /// Close a position that lost this fraction of its entry price (0.02 = 2 %).
    #[serde(with = "crate::value::decimal_str::option")]
    pub stop_loss_pct: Option<Decimal>,
    /// Close a position that gained this fraction of its entry price.
    #[serde(with = "crate::value::decimal_str::option")]
    pub take_profit_pct: Option<Decimal>,
    /// Close a position the price moved this many ATRs against.
    #[serde(with = "crate::value::decimal_str::option")]
    pub stop_loss_atr: Option<Decimal>,
    /// Close a position the price moved this many ATRs for.
    #[serde(with = "crate::value::decimal_str::option")]
    pub take_profit_atr: Option<Decimal>,
    /// Bars of the ATR the ATR exits use (default 14).
    pub atr_period: Option<usize>,
    /// Close everything and pause the portfolio once equity is this fraction below its peak
    /// (0.1 = 10 %).
    #[serde(with = "crate::value::decimal_str::option")]
    pub max_drawdown_pct: Option<Decimal>,
}

/// The check that refused an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum RiskCheck {
    /// The position would exceed its ratio to equity.
    #[error("the position would exceed its limit relative to equity")]
    PositionRatio,
    /// The order is larger than allowed.
    #[error("the order's notional is above the limit")]
    OrderNotional,
    /// Too many working orders.
    #[error("too many working orders")]
    OpenOrders,
    /// The limit price is too far from the mid.
    #[error("the limit price is outside the band around the mid")]
    PriceBand,
    /// Too many orders in the window.
    #[error("too many orders in the rate window")]
    OrderRate,
}

/// An order as the checks see it.
#[derive(Debug, Clone, Copy)]
pub struct OrderCheck {
    /// Direction.
    pub side: Side,
    /// Quantity.
    pub qty: Decimal,
    /// Its limit price, if any.
    pub limit_price: Option<Decimal>,
    /// The price it is expected to trade at (its limit, else the mid or last price); `None`
    /// before any market data, when value-based checks cannot apply.
    pub price: Option<Decimal>,
    /// The mid, when both sides are known.
    pub mid: Option<Decimal>,
    /// Base units per contract.
    pub multiplier: Decimal,
}

/// What the checks need of the portfolio.
#[derive(Debug, Clone, Copy)]
pub struct PortfolioCheck {
    /// Signed projected position before the order (booked plus working).
    pub position: Decimal,
    /// Equity in quote.
    pub equity: Decimal,
    /// Working orders.
    pub open_orders: usize,
}

impl RiskLimits {
    /// Checks `order` against the limits, `recent` being the orders sent within the rate
    /// window (see [`OrderRate`]).
    ///
    /// # Errors
    /// The first [`RiskCheck`] that fails, in the order of the module doc.
    pub fn check(
        &self,
        order: &OrderCheck,
        portfolio: &PortfolioCheck,
        recent: usize,
    ) -> Result<(), RiskCheck> {
        let signed = order.qty * order.side.sign();
        let after = portfolio.position + signed;
        // Smaller and on the same side (or flat): it only reduces.
        let reduces =
            after.abs() < portfolio.position.abs() && after * portfolio.position >= Decimal::ZERO;
        if let (Some(limit), Some(price), false) = (self.max_position_ratio, order.price, reduces) {
            let value = after.abs() * price * order.multiplier;
            if portfolio.equity <= Decimal::ZERO || value > limit * portfolio.equity {
                return Err(RiskCheck::PositionRatio);
            }
        }
        if let (Some(limit), Some(price), false) = (self.max_order_notional, order.price, reduces) {
            if order.qty * price * order.multiplier > limit {
                return Err(RiskCheck::OrderNotional);
            }
        }
        if self
            .max_open_orders
            .is_some_and(|max| portfolio.open_orders >= max)
        {
            return Err(RiskCheck::OpenOrders);
        }
        if let (Some(band), Some(limit), Some(mid)) =
            (self.price_band_bps, order.limit_price, order.mid)
        {
            if mid > Decimal::ZERO && (limit - mid).abs() / mid * Decimal::from(10_000) > band {
                return Err(RiskCheck::PriceBand);
            }
        }
        if self.max_orders_per_window.is_some_and(|max| recent >= max) {
            return Err(RiskCheck::OrderRate);
        }
        Ok(())
    }

    /// Every limit that makes no sense (zero or negative), described; empty when all are fine.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut positive = |name: &str, value: Option<Decimal>| {
            if value.is_some_and(|v| v <= Decimal::ZERO) {
                problems.push(format!("{name} must be positive"));
            }
        };
        positive("max_position_ratio", self.max_position_ratio);
        positive("max_order_notional", self.max_order_notional);
        positive("price_band_bps", self.price_band_bps);
        positive("stop_loss_pct", self.stop_loss_pct);
        positive("take_profit_pct", self.take_profit_pct);
        positive("stop_loss_atr", self.stop_loss_atr);
        positive("take_profit_atr", self.take_profit_atr);
        positive("max_drawdown_pct", self.max_drawdown_pct);
        if self.max_drawdown_pct.is_some_and(|d| d >= Decimal::ONE) {
            problems.push("max_drawdown_pct must be below 1".to_owned());
        }
        if self.atr_period == Some(0) {
            problems.push("atr_period must be at least 1".to_owned());
        }
        if self.max_open_orders == Some(0) {
            problems.push("max_open_orders must be at least 1".to_owned());
        }
        if self.max_orders_per_window == Some(0) {
            problems.push("max_orders_per_window must be at least 1".to_owned());
        }
        if self.rate_window_ms.is_some_and(|w| w < 1) {
            problems.push("rate_window_ms must be at least 1".to_owned());
        }
        problems
    }

    /// The order-rate window.
    pub fn rate_window_ms(&self) -> i64 {
        self.rate_window_ms.unwrap_or(1_000).max(1)
    }
}

/// When the portfolio's recent orders were sent, for the rate check (engine time, so the same
/// in a backtest and live).
#[derive(Debug, Clone, Default)]
pub struct OrderRate {
    sent: VecDeque<Timestamp>,
}

impl OrderRate {
    /// Orders sent within `window_ms` before `now` (forgetting older ones).
    pub fn recent(&mut self, now: Timestamp, window_ms: i64) -> usize {
        while self.sent.front().is_some_and(|t| now.0 - t.0 >= window_ms) {
            self.sent.pop_front();
        }
        self.sent.len()
    }

    /// Notes an order sent at `now`.
    pub fn record(&mut self, now: Timestamp) {
        self.sent.push_back(now);
    }
}
