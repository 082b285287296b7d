//! Instrument definitions for spot pairs and USDT-margined linear perpetuals, with the venue
//! filters (tick, lot, minimum notional) and the rounding helpers that satisfy them.

use crate::ids::{Asset, Symbol};
use crate::value::{FeeRate, Notional, Price, Quantity, ValueError};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// What kind of market an instrument trades on. This decides how fills move balances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketKind {
    /// Spot: a buy moves quote into base, a sell base into quote.
    Spot,
    /// USDT-margined linear perpetual: fills change a signed position; only realised PnL, fees
    /// and funding move the quote balance.
    Perp,
}

impl std::str::FromStr for MarketKind {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "spot" => Ok(MarketKind::Spot),
            "perp" | "perpetual" | "futures" => Ok(MarketKind::Perp),
            other => Err(format!("unknown market `{other}` (expected spot or perp)")),
        }
    }
}

/// Which venue filter an order breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterViolation {
    /// Price is not a multiple of the tick size.
    TickSize,
    /// Quantity is zero or not a multiple of the lot size.
    LotSize,
    /// Price × quantity is below the minimum notional.
    MinNotional,
    /// Quantity above the most one order may carry (Binance `LOT_SIZE.maxQty`).
    MaxQuantity,
    /// A market order's quantity breaks `MARKET_LOT_SIZE` (its step or maximum).
    MarketLotSize,
    /// Price outside the venue's `[min_price, max_price]`.
    PriceRange,
    /// Limit price too far from the reference price (Binance `PERCENT_PRICE`).
    PercentPrice,
}

/// The venue's further order limits, each optional (absent: no such limit). Kept apart from
/// the core filters so instruments written before they existed read and write unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLimits {
    /// Most quantity per order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_qty: Option<Quantity>,
    /// Quantity step of market orders, when it differs from the lot size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_lot: Option<Quantity>,
    /// Most quantity per market order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_max_qty: Option<Quantity>,
    /// Lowest price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price: Option<Price>,
    /// Highest price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<Price>,
    /// A limit price may be at most the reference × this (e.g. 1.05).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::value::decimal_str::option"
    )]
    pub percent_up: Option<Decimal>,
    /// A limit price may be at least the reference × this (e.g. 0.95).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::value::decimal_str::option"
    )]
    pub percent_down: Option<Decimal>,
}

impl OrderLimits {
    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A tradable instrument and its venue rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    /// Venue symbol, e.g. `BTCUSDT`.
    pub symbol: Symbol,
    /// Spot or perpetual.
    pub kind: MarketKind,
    /// Base asset (what is bought), e.g. `BTC`.
    pub base: Asset,
    /// Quote asset (what prices are in, and for perps the margin asset), e.g. `USDT`.
    pub quote: Asset,
    /// Smallest price increment.
    pub tick_size: Price,
    /// Smallest quantity increment (and minimum quantity).
    pub lot_size: Quantity,
    /// Smallest allowed price × quantity × multiplier.
    pub min_notional: Notional,
    /// Fee rate for passive (resting) fills.
    pub maker_fee: FeeRate,
    /// Fee rate for aggressive fills.
    pub taker_fee: FeeRate,
    /// Base units per contract (1 for Binance USDT perps and for spot).
    #[serde(with = "crate::value::decimal_str")]
    pub contract_multiplier: Decimal,
    /// Account leverage used for margin requirements (perps; 1 for spot).
    #[serde(with = "crate::value::decimal_str")]
    pub leverage: Decimal,
    /// Maintenance margin rate of a perpetual position (Binance's first tier for BTCUSDT:
    /// 0.4%). A venue liquidates an account whose equity falls below the sum over its
    /// positions of |notional at the mark| × this rate.
    #[serde(with = "crate::value::decimal_str", default = "default_maintenance")]
    pub maintenance_margin_rate: Decimal,
    /// Further venue limits (maximum quantities, market lot, price range, percent price).
    #[serde(default, skip_serializing_if = "OrderLimits::is_empty")]
    pub limits: OrderLimits,
}

fn default_maintenance() -> Decimal {
    Decimal::new(4, 3)
}

impl Instrument {
    /// A spot or perpetual instrument with Binance-like defaults: tick 0.01, lot 0.001,
    /// min notional 5, fees 0.02% maker / 0.05% taker, multiplier 1, leverage 1, maintenance
    /// margin 0.4%.
    ///
    /// # Errors
    /// [`ValueError`] when `symbol` does not end with the `quote` asset code.
    pub fn linear(symbol: &str, quote: &str, kind: MarketKind) -> Result<Self, ValueError> {
        let base = symbol
            .strip_suffix(quote)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| ValueError::AssetMismatch {
                left: symbol.to_owned(),
                right: quote.to_owned(),
            })?;
        Ok(Self {
            symbol: Symbol::new(symbol),
            kind,
            base: Asset::new(base),
            quote: Asset::new(quote),
            tick_size: Price::new(Decimal::new(1, 2))?,
            lot_size: Quantity::new(Decimal::new(1, 3))?,
            min_notional: Notional::new(Decimal::from(5))?,
            maker_fee: FeeRate::new(Decimal::new(2, 4))?,
            taker_fee: FeeRate::new(Decimal::new(5, 4))?,
            contract_multiplier: Decimal::ONE,
            leverage: Decimal::ONE,
            maintenance_margin_rate: default_maintenance(),
            limits: OrderLimits::default(),
        })
    }

    /// Rounds a price to the nearest tick (half away from zero), never below one tick.
    pub fn round_price(&self, price: Decimal) -> Price {
        let tick = self.tick_size.get();
        let ticks =
            (price / tick).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        Price::new((ticks * tick).max(tick)).unwrap_or(self.tick_size)
    }

    /// Rounds a quantity down to a whole number of lots (never rounds up: never trades more than
    /// asked).
    pub fn round_qty_down(&self, qty: Quantity) -> Quantity {
        let lot = self.lot_size.get();
        let lots = (qty.get() / lot).trunc();
        Quantity::new(lots * lot).unwrap_or(Quantity::ZERO)
    }

    /// Quote notional of `qty` at `price`, including the contract multiplier.
    pub fn notional(&self, price: Price, qty: Quantity) -> Decimal {
        (price * qty).get() * self.contract_multiplier
    }

    /// Checks an order's price (when it has one) and quantity against the venue filters.
    ///
    /// # Errors
    /// The first [`FilterViolation`] found, checked in the order tick, lot, notional.
    pub fn check_order(
        &self,
        price: Price,
        limit: bool,
        qty: Quantity,
    ) -> Result<(), FilterViolation> {
        let l = &self.limits;
        if limit && !(price.get() % self.tick_size.get()).is_zero() {
            return Err(FilterViolation::TickSize);
        }
        if limit
            && (l.min_price.is_some_and(|m| price < m) || l.max_price.is_some_and(|m| price > m))
        {
            return Err(FilterViolation::PriceRange);
        }
        if qty.is_zero() || !(qty.get() % self.lot_size.get()).is_zero() {
            return Err(FilterViolation::LotSize);
        }
        if l.max_qty.is_some_and(|m| qty > m) {
            return Err(FilterViolation::MaxQuantity);
        }
        if !limit {
            let off_step = l
                .market_lot
                .is_some_and(|step| !step.is_zero() && !(qty.get() % step.get()).is_zero());
            if off_step || l.market_max_qty.is_some_and(|m| qty > m) {
                return Err(FilterViolation::MarketLotSize);
            }
        }
        if self.notional(price, qty) < self.min_notional.get() {
            return Err(FilterViolation::MinNotional);
        }
        Ok(())
    }

    /// Checks a limit price against the percent-price band around `reference` (the mark on a
    /// perpetual, the recent average on spot). Spot bounds both ways; on a perpetual a buy is
    /// bounded above and a sell below, as Binance does.
    ///
    /// # Errors
    /// [`FilterViolation::PercentPrice`].
    pub fn check_price_band(
        &self,
        side: crate::order::Side,
        price: Price,
        reference: Price,
    ) -> Result<(), FilterViolation> {
        let l = &self.limits;
        let above = l
            .percent_up
            .is_some_and(|up| price.get() > reference.get() * up);
        let below = l
            .percent_down
            .is_some_and(|down| price.get() < reference.get() * down);
        let breaks = match (self.kind, side) {
            (MarketKind::Spot, _) => above || below,
            (MarketKind::Perp, crate::order::Side::Buy) => above,
            (MarketKind::Perp, crate::order::Side::Sell) => below,
        };
        if breaks {
            Err(FilterViolation::PercentPrice)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn btc() -> Instrument {
        Instrument::linear("BTCUSDT", "USDT", MarketKind::Perp).unwrap()
    }

    #[test]
    fn linear_splits_base_and_quote() {
        let i = btc();
        assert_eq!(i.base.as_str(), "BTC");
        assert_eq!(i.quote.as_str(), "USDT");
        assert!(Instrument::linear("BTCUSD", "USDT", MarketKind::Spot).is_err());
    }

    #[test]
    fn rounding_respects_tick_and_lot() {
        let i = btc();
        assert_eq!(i.round_price(dec!(100.005)).get(), dec!(100.01));
        assert_eq!(i.round_price(dec!(0.0001)).get(), dec!(0.01));
        let q = Quantity::new(dec!(0.0019)).unwrap();
        assert_eq!(i.round_qty_down(q).get(), dec!(0.001));
    }

    #[test]
    fn filters_report_the_violation() {
        let i = btc();
        let p = Price::new(dec!(100)).unwrap();
        let q = |d| Quantity::new(d).unwrap();
        assert_eq!(
            i.check_order(Price::new(dec!(100.001)).unwrap(), true, q(dec!(1))),
            Err(FilterViolation::TickSize)
        );
        assert_eq!(
            i.check_order(p, true, q(dec!(0.0005))),
            Err(FilterViolation::LotSize)
        );
        assert_eq!(
            i.check_order(p, false, q(dec!(0.001))),
            Err(FilterViolation::MinNotional)
        );
        assert_eq!(i.check_order(p, false, q(dec!(0.05))), Ok(()));
    }
}
