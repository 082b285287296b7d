//! Signed accounting values: [`SignedQty`] (a position: + long, − short) and [`Amount`] (money
//! in the asset the context names: a balance, PnL, fees, funding, equity). They are distinct
//! types so sizing and risk code cannot add a quantity to money or compare PnL with a
//! position; each has only the arithmetic that means something. Serialised as decimal strings,
//! exactly like the raw decimals they replace.

use super::decimal_newtype::fast_cmp;
use super::{parse_decimal, Price, Quantity};
use crate::order::Side;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

/// Declares a signed `Copy` newtype over `Decimal` with additive arithmetic, string serde and
/// `Display`.
macro_rules! signed_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(Decimal);

        impl $name {
            /// Zero.
            pub const ZERO: Self = Self(Decimal::ZERO);

            /// Wraps a decimal (any sign).
            pub const fn new(value: Decimal) -> Self {
                Self(value)
            }

            /// The underlying exact decimal.
            pub const fn get(self) -> Decimal {
                self.0
            }

            /// Whether it is zero.
            pub fn is_zero(self) -> bool {
                self.0.is_zero()
            }

            /// Whether it is > 0.
            pub fn is_positive(self) -> bool {
                !self.0.is_zero() && self.0.is_sign_positive()
            }

            /// Whether it is < 0.
            pub fn is_negative(self) -> bool {
                !self.0.is_zero() && self.0.is_sign_negative()
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                fast_cmp(&self.0, &other.0)
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Add for $name {
            type Output = Self;
            fn add(self, other: Self) -> Self {
                Self(self.0 + other.0)
            }
        }

        impl Sub for $name {
            type Output = Self;
            fn sub(self, other: Self) -> Self {
                Self(self.0 - other.0)
            }
        }

        impl Neg for $name {
            type Output = Self;
            fn neg(self) -> Self {
                Self(-self.0)
            }
        }

        impl AddAssign for $name {
            fn add_assign(&mut self, other: Self) {
                self.0 += other.0;
            }
        }

        impl SubAssign for $name {
            fn sub_assign(&mut self, other: Self) {
                self.0 -= other.0;
            }
        }

        impl Sum for $name {
            fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
                Self(iter.map(|v| v.0).sum())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.normalize(), f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = super::ValueError;
            fn from_str(text: &str) -> Result<Self, super::ValueError> {
                parse_decimal(stringify!($name), text).map(Self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                super::text::serialize_decimal(self.0, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                super::from_text::from_text(deserializer, stringify!($name), |text| {
                    parse_decimal(stringify!($name), text).map(Self)
                })
            }
        }
    };
}

signed_newtype!(
    /// A signed quantity of base asset or contracts: + long, − short. Its magnitude is a
    /// [`Quantity`]; its sign is the direction.
    SignedQty
);
signed_newtype!(
    /// A signed amount of money in the asset its context names (a balance in its asset; PnL,
    /// fees, funding and equity in the quote or reporting asset). Negative is owed or paid.
    Amount
);

impl SignedQty {
    /// `qty` in the direction of `side`: + for a buy, − for a sell.
    pub fn from_side(side: Side, qty: Quantity) -> Self {
        Self(qty.get() * side.sign())
    }

    /// The magnitude.
    pub fn abs(self) -> Quantity {
        Quantity::new(self.0.abs()).unwrap_or(Quantity::ZERO)
    }

    /// Whether adding `other` to `self` only grows it: `self` is flat, or both have the same
    /// sign.
    pub fn same_direction(self, other: Self) -> bool {
        self.0.is_zero() || self.0.is_sign_positive() == other.0.is_sign_positive()
    }
}

impl Amount {
    /// The magnitude.
    pub fn abs(self) -> Self {
        Self(self.0.abs())
    }

    /// Rounded to `dp` decimal places (banker's rounding, as `Decimal::round_dp`).
    pub fn round_dp(self, dp: u32) -> Self {
        Self(self.0.round_dp(dp))
    }

    /// Scaled by a ratio (a contract multiplier, a rate).
    pub fn scale(self, ratio: Decimal) -> Self {
        Self(self.0 * ratio)
    }

    /// Divided by a ratio (leverage); `None` for a zero ratio.
    pub fn checked_div(self, ratio: Decimal) -> Option<Self> {
        self.0.checked_div(ratio).map(Self)
    }

    /// `self / other` as a plain ratio (returns, ROE); `None` when `other` is zero.
    pub fn ratio_to(self, other: Self) -> Option<Decimal> {
        self.0.checked_div(other.0)
    }
}

/// Signed notional: quantity × price, + for a long.
impl std::ops::Mul<Price> for SignedQty {
    type Output = Amount;
    fn mul(self, price: Price) -> Amount {
        Amount(self.0 * price.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn serialises_like_the_raw_decimals_it_replaces() {
        let amount = Amount::new(dec!(-1.2500));
        assert_eq!(serde_json::to_string(&amount).unwrap(), "\"-1.25\"");
        assert_eq!(serde_json::from_str::<Amount>("\"-1.25\"").unwrap(), amount);
        let qty = SignedQty::from_side(Side::Sell, Quantity::new(dec!(0.5)).unwrap());
        assert_eq!(qty.get(), dec!(-0.5));
        assert_eq!(qty.abs(), Quantity::new(dec!(0.5)).unwrap());
        assert_eq!(qty * Price::new(dec!(10)).unwrap(), Amount::new(dec!(-5)));
        assert!(qty.is_negative() && !qty.is_positive());
    }
}
