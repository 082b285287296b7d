//! In-trade risk: exits the portfolio's engine takes on its own, without the strategy.
//!
//! - Stop loss and take profit, as a fraction of the entry price or in ATRs (the feature
//!   `atr:N` of the position's symbol, computed by the portfolio set): the position is closed at
//!   market (reduce-only, close-position) when the price crosses the level.
//! - The drawdown breaker: once equity is the given fraction below its peak, every position is
//!   closed and the portfolio is paused (its strategy's new orders are refused until an
//!   operator resumes it).
//!
//! Each exit is an ordinary order tagged `risk:<trigger>`, plus a [`RiskAction`] record with the
//! trigger's closed code, so it is never mistaken for the strategy's own. An exit is not sent
//! again while the position's close is working. The peak equity is in the engine's snapshot, so
//! a restarted engine measures from the same peak.

use super::RiskLimits;
use crate::features::FeatureSpec;
use crate::ids::Symbol;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What made the engine act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskTrigger {
    /// The position lost its stop-loss fraction.
    StopLoss,
    /// The position gained its take-profit fraction.
    TakeProfit,
    /// The price moved the stop-loss ATRs against the position.
    StopLossAtr,
    /// The price moved the take-profit ATRs for the position.
    TakeProfitAtr,
    /// Equity fell the drawdown limit below its peak.
    DrawdownBreaker,
}

impl RiskTrigger {
    /// The tag of the exit orders (`risk:stop_loss`, ...).
    pub fn tag(self) -> &'static str {
        match self {
            Self::StopLoss => "risk:stop_loss",
            Self::TakeProfit => "risk:take_profit",
            Self::StopLossAtr => "risk:stop_loss_atr",
            Self::TakeProfitAtr => "risk:take_profit_atr",
            Self::DrawdownBreaker => "risk:drawdown_breaker",
        }
    }
}

/// A record of an exit the engine took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskAction {
    /// When.
    pub at: Timestamp,
    /// Why.
    pub trigger: RiskTrigger,
    /// The symbol closed (`None` for the breaker, which closes all).
    pub symbol: Option<Symbol>,
    /// The price that triggered it, or the equity for the breaker.
    #[serde(with = "crate::value::decimal_str::option")]
    pub level: Option<Decimal>,
}

impl RiskLimits {
    /// Whether any in-trade exit is configured.
    pub fn has_exits(&self) -> bool {
        self.stop_loss_pct.is_some()
            || self.take_profit_pct.is_some()
            || self.stop_loss_atr.is_some()
            || self.take_profit_atr.is_some()
            || self.max_drawdown_pct.is_some()
    }

    /// The ATR feature the ATR exits read, when configured.
    pub fn atr_feature(&self) -> Option<FeatureSpec> {
        (self.stop_loss_atr.is_some() || self.take_profit_atr.is_some())
            .then(|| FeatureSpec::Atr(self.atr_period.unwrap_or(14).max(1)))
    }

    /// The exit a position of signed size `qty` entered at `entry` needs at `price`, given the
    /// symbol's ATR (when warm). Losses are checked before gains.
    pub fn position_exit(
        &self,
        qty: Decimal,
        entry: Decimal,
        price: Decimal,
        atr: Option<f64>,
    ) -> Option<RiskTrigger> {
        if qty.is_zero() || entry <= Decimal::ZERO {
            return None;
        }
        // The move in the position's favour: positive is a gain.
        let favour = if qty > Decimal::ZERO {
            price - entry
        } else {
            entry - price
        };
        let fraction = favour / entry;
        let atr = atr
            .and_then(crate::value::decimal_from_f64_8dp)
            .filter(|a| *a > Decimal::ZERO);
        if self.stop_loss_pct.is_some_and(|l| fraction <= -l) {
            return Some(RiskTrigger::StopLoss);
        }
        if let (Some(k), Some(atr)) = (self.stop_loss_atr, atr) {
            if favour <= -(k * atr) {
                return Some(RiskTrigger::StopLossAtr);
            }
        }
        if self.take_profit_pct.is_some_and(|l| fraction >= l) {
            return Some(RiskTrigger::TakeProfit);
        }
        if let (Some(k), Some(atr)) = (self.take_profit_atr, atr) {
            if favour >= k * atr {
                return Some(RiskTrigger::TakeProfitAtr);
            }
        }
        None
    }

    /// Whether `equity` is the drawdown limit or more below `peak`.
    pub fn drawdown_tripped(&self, peak: Decimal, equity: Decimal) -> bool {
        match self.max_drawdown_pct {
            Some(limit) if peak > Decimal::ZERO => (peak - equity) / peak >= limit,
            _ => false,
        }
    }
}
