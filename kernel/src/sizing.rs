//! Position sizing: how much to buy or sell for a decision, from one of four rules, multiplied by
//! the decision's `size_mult`, capped by the margin (or balance) available, rounded down to the
//! lot and checked against the minimum notional. Exact decimals throughout: a size is money.
//!
//! The rules:
//! - fixed quantity;
//! - fixed notional (quote value at the price);
//! - fraction of equity (quote value = equity × fraction);
//! - volatility target: the quantity whose adverse move of k·ATR loses the risk per trade,
//!   `risk / (k · ATR · multiplier)`.
//!
//! The cap: on a perpetual, initial margin = notional ÷ leverage must fit in the available
//! margin; on spot, the notional must fit in the available balance. A capped size is reported
//! as such, so a decision record says why it is smaller than asked.

use crate::instrument::{Instrument, MarketKind};
use crate::value::{Price, Quantity};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How to size an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum SizingRule {
    /// Always this quantity.
    FixedQty {
        /// The quantity.
        qty: Quantity,
    },
    /// This quote value at the price.
    FixedNotional {
        /// Quote value.
        #[serde(with = "crate::value::decimal_str")]
        notional: Decimal,
    },
    /// This fraction of the portfolio's equity, as quote value at the price.
    EquityFraction {
        /// Fraction of equity (0.1 = 10 %).
        #[serde(with = "crate::value::decimal_str")]
        fraction: Decimal,
    },
    /// Lose `risk` (quote) on an adverse move of `atr_mult` ATRs.
    VolTarget {
        /// Quote amount risked per trade.
        #[serde(with = "crate::value::decimal_str")]
        risk: Decimal,
        /// How many ATRs the stop is away.
        #[serde(with = "crate::value::decimal_str")]
        atr_mult: Decimal,
    },
}

/// What a sizing needs to know about the moment.
#[derive(Debug, Clone, Copy)]
pub struct SizingInputs<'a> {
    /// The instrument (lot, minimum notional, multiplier, leverage).
    pub instrument: &'a Instrument,
    /// The price the order is expected to trade at.
    pub price: Price,
    /// The portfolio's equity, in quote.
    pub equity: Decimal,
    /// Margin (perpetuals) or quote balance (spot) free for this order.
    pub available: Decimal,
    /// The symbol's ATR, when warm (volatility targeting needs it).
    pub atr: Option<Decimal>,
    /// The decision's size multiplier (1 = as the rule says).
    pub size_mult: Decimal,
}

/// A size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sized {
    /// The quantity to order (lot-rounded, > 0).
    pub qty: Quantity,
    /// The margin or balance cut it below what the rule asked.
    pub capped: bool,
}

/// Why no size could be given. A closed set: decisions record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum SizingRefusal {
    /// Volatility targeting without a warm ATR (or with a zero one).
    #[error("no ATR yet to size by volatility")]
    NoAtr,
    /// A multiplier or parameter that is zero or negative.
    #[error("a size multiplier or parameter is not positive")]
    NotPositive,
    /// Nothing is free to trade with.
    #[error("no margin or balance available")]
    NoMargin,
    /// The size rounds down to zero lots.
    #[error("the size rounds down to zero lots")]
    ZeroQuantity,
    /// The order's notional is below the venue's minimum.
    #[error("the order's notional is below the venue's minimum")]
    BelowMinNotional,
}

impl SizingRule {
    /// The size for `inputs`.
    ///
    /// # Errors
    /// A [`SizingRefusal`] saying why no order should be sent.
    pub fn size(&self, inputs: &SizingInputs<'_>) -> Result<Sized, SizingRefusal> {
        let instrument = inputs.instrument;
        let unit_value = inputs.price.get() * instrument.contract_multiplier;
        if inputs.size_mult <= Decimal::ZERO || unit_value <= Decimal::ZERO {
            return Err(SizingRefusal::NotPositive);
        }
        let raw = match *self {
            SizingRule::FixedQty { qty } => qty.get(),
            SizingRule::FixedNotional { notional } => positive(notional)? / unit_value,
            SizingRule::EquityFraction { fraction } => {
                positive(fraction)? * inputs.equity.max(Decimal::ZERO) / unit_value
            }
            SizingRule::VolTarget { risk, atr_mult } => {
                let atr = inputs
                    .atr
                    .filter(|a| *a > Decimal::ZERO)
                    .ok_or(SizingRefusal::NoAtr)?;
                positive(risk)? / (positive(atr_mult)? * atr * instrument.contract_multiplier)
            }
        } * inputs.size_mult;
        let leverage = match instrument.kind {
            MarketKind::Perp => instrument.leverage.max(Decimal::ONE),
            MarketKind::Spot => Decimal::ONE,
        };
        if inputs.available <= Decimal::ZERO {
            return Err(SizingRefusal::NoMargin);
        }
        let affordable = inputs.available * leverage / unit_value;
        let capped = raw > affordable;
        let wanted = Quantity::new(raw.min(affordable)).map_err(|_| SizingRefusal::ZeroQuantity)?;
        let qty = instrument.round_qty_down(wanted);
        if qty.is_zero() {
            return Err(SizingRefusal::ZeroQuantity);
        }
        if instrument.notional(inputs.price, qty) < instrument.min_notional.get() {
            return Err(SizingRefusal::BelowMinNotional);
        }
        Ok(Sized { qty, capped })
    }
}

fn positive(x: Decimal) -> Result<Decimal, SizingRefusal> {
    if x > Decimal::ZERO {
        Ok(x)
    } else {
        Err(SizingRefusal::NotPositive)
    }
}
