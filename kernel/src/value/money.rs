//! [`Money`]: a signed amount of one asset (balances, PnL, fees, funding).

use super::ValueError;
use crate::ids::Asset;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A signed exact amount of a named asset. Unlike [`super::Notional`] it may be negative (a
/// loss, a fee debit, a funding payment).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount, serialised as a string.
    #[serde(with = "crate::value::decimal_str")]
    pub amount: Decimal,
    /// The asset the amount is denominated in.
    pub asset: Asset,
}

impl Money {
    /// An amount of `asset`.
    pub fn new(amount: Decimal, asset: Asset) -> Self {
        Self { amount, asset }
    }

    /// Zero of `asset`.
    pub fn zero(asset: Asset) -> Self {
        Self::new(Decimal::ZERO, asset)
    }

    /// Sum of two amounts of the same asset.
    ///
    /// # Errors
    /// [`ValueError::AssetMismatch`] when the assets differ.
    pub fn checked_add(&self, other: &Money) -> Result<Money, ValueError> {
        if self.asset != other.asset {
            return Err(ValueError::AssetMismatch {
                left: self.asset.to_string(),
                right: other.asset.to_string(),
            });
        }
        Ok(Money::new(self.amount + other.amount, self.asset.clone()))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount.normalize(), self.asset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn adding_different_assets_is_an_error() {
        let usdt = Money::new(dec!(1), Asset::new("USDT"));
        let btc = Money::new(dec!(1), Asset::new("BTC"));
        assert!(usdt.checked_add(&btc).is_err());
        assert_eq!(usdt.checked_add(&usdt).unwrap().amount, dec!(2));
    }

    #[test]
    fn serialises_amount_as_string() {
        let m = Money::new(dec!(-0.50), Asset::new("USDT"));
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"amount":"-0.5","asset":"USDT"}"#
        );
    }
}
