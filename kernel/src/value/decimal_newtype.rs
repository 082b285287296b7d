//! The checked decimal newtypes and their (few) meaningful operators.

use super::{parse_decimal, ValueError};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::{Add, Mul};
use std::str::FromStr;

/// Orders two decimals by value; when their scales are equal (the common case for prices and
/// quantities of one instrument) it compares the integer mantissas directly, which is several
/// times faster than the general rescaling comparison.
#[inline]
pub fn fast_cmp(a: &Decimal, b: &Decimal) -> std::cmp::Ordering {
    if a.scale() == b.scale() {
        a.mantissa().cmp(&b.mantissa())
    } else {
        a.cmp(b)
    }
}

/// Declares a `Copy` newtype over `Decimal` with a checked constructor, string serde,
/// `FromStr` and `Display`. `$check` is the domain rule and `$rule` its human wording.
macro_rules! decimal_newtype {
    ($(#[$doc:meta])* $name:ident, $rule:literal, |$v:ident| $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(Decimal);

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

        impl $name {
            /// Builds the value after checking the domain rule.
            ///
            /// # Errors
            #[doc = concat!("[`ValueError::OutOfRange`] when the number breaks the rule: ", $rule, ".")]
            pub fn new($v: Decimal) -> Result<Self, ValueError> {
                if $check {
                    Ok(Self($v))
                } else {
                    Err(ValueError::OutOfRange { kind: stringify!($name), value: $v, rule: $rule })
                }
            }

            /// The underlying exact decimal.
            pub const fn get(self) -> Decimal {
                self.0
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = ValueError;
            fn try_from(value: Decimal) -> Result<Self, ValueError> {
                Self::new(value)
            }
        }

        impl FromStr for $name {
            type Err = ValueError;
            fn from_str(text: &str) -> Result<Self, ValueError> {
                Self::new(parse_decimal(stringify!($name), text)?)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.normalize(), f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                super::text::serialize_decimal(self.0, serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                super::from_text::from_text(deserializer, stringify!($name), Self::from_str)
            }
        }
    };
}

decimal_newtype!(
    /// A price in quote-asset units per base unit. Always strictly positive.
    Price, "must be > 0", |v| v.is_sign_positive() && !v.is_zero()
);
decimal_newtype!(
    /// An unsigned quantity of base asset (or contracts). Never negative; direction is carried
    /// by an order side or by a signed position, never by the quantity.
    Quantity, "must be >= 0", |v| v.is_zero() || v.is_sign_positive()
);
decimal_newtype!(
    /// Price × quantity in quote-asset units. Never negative.
    Notional, "must be >= 0", |v| v.is_zero() || v.is_sign_positive()
);
decimal_newtype!(
    /// A fee as a fraction of notional (`0.001` = 0.1%). Negative values are maker rebates.
    FeeRate, "must be in (-1, 1)", |v| v > Decimal::NEGATIVE_ONE && v < Decimal::ONE
);

impl Quantity {
    /// The zero quantity.
    pub const ZERO: Quantity = Quantity(Decimal::ZERO);

    /// `self - other`, or `None` when the result would be negative.
    pub fn checked_sub(self, other: Quantity) -> Option<Quantity> {
        let diff = self.0 - other.0;
        (diff >= Decimal::ZERO).then_some(Quantity(diff))
    }

    /// Whether the quantity is zero.
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// The smaller of two quantities.
    pub fn min(self, other: Quantity) -> Quantity {
        if self <= other {
            self
        } else {
            other
        }
    }
}

impl Add for Quantity {
    type Output = Quantity;
    fn add(self, rhs: Quantity) -> Quantity {
        Quantity(self.0 + rhs.0)
    }
}

impl Mul<Quantity> for Price {
    type Output = Notional;
    fn mul(self, rhs: Quantity) -> Notional {
        Notional(self.0 * rhs.0)
    }
}

impl Mul<FeeRate> for Notional {
    type Output = Decimal;
    fn mul(self, rhs: FeeRate) -> Decimal {
        self.0 * rhs.0
    }
}

impl FeeRate {
    /// A zero fee.
    pub const ZERO: FeeRate = FeeRate(Decimal::ZERO);
}

impl Notional {
    /// Zero notional.
    pub const ZERO: Notional = Notional(Decimal::ZERO);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn price_rejects_zero_and_negative() {
        assert!(Price::new(dec!(0)).is_err());
        assert!(Price::new(dec!(-1)).is_err());
        assert_eq!(Price::new(dec!(1.5)).map(Price::get), Ok(dec!(1.5)));
    }

    #[test]
    fn quantity_rejects_negative_and_parses_scientific() {
        assert!("-0.1".parse::<Quantity>().is_err());
        assert_eq!(
            "1e-3".parse::<Quantity>().map(Quantity::get),
            Ok(dec!(0.001))
        );
        assert!("abc".parse::<Quantity>().is_err());
    }

    #[test]
    fn fee_rate_bounds() {
        assert!(FeeRate::new(dec!(1)).is_err());
        assert!(FeeRate::new(dec!(-0.0001)).is_ok());
    }

    #[test]
    fn serialises_as_string_and_checks_on_deserialise() {
        let price = Price::new(dec!(42000.50)).unwrap();
        assert_eq!(serde_json::to_string(&price).unwrap(), "\"42000.5\"");
        let back: Price = serde_json::from_str("\"42000.5\"").unwrap();
        assert_eq!(back, price);
        assert!(serde_json::from_str::<Price>("\"-1\"").is_err());
    }

    #[test]
    fn price_times_quantity_is_notional() {
        let n = Price::new(dec!(100)).unwrap() * Quantity::new(dec!(0.25)).unwrap();
        assert_eq!(n.get(), dec!(25));
        assert_eq!(n * FeeRate::new(dec!(0.001)).unwrap(), dec!(0.025));
    }

    #[test]
    fn ordering_agrees_with_decimal_across_scales() {
        let values = [
            dec!(-2),
            dec!(0),
            dec!(0.000),
            dec!(1.5),
            dec!(1.50),
            dec!(1.499999),
            dec!(100),
            dec!(99.999),
        ];
        for a in values {
            for b in values {
                assert_eq!(fast_cmp(&a, &b), a.cmp(&b), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn checked_sub_never_goes_negative() {
        let a = Quantity::new(dec!(1)).unwrap();
        let b = Quantity::new(dec!(2)).unwrap();
        assert_eq!(a.checked_sub(b), None);
        assert_eq!(b.checked_sub(a), Some(a));
    }
}

/// Powers of ten exactly representable as `f64` (10^0 … 10^22).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A decimal as the nearest `f64`, for indicators (never for money). For a mantissa below
/// 2^53 it is one correctly rounded division, several times faster than the general
/// conversion; larger mantissas take the general path.
#[inline]
pub fn to_f64_fast(d: Decimal) -> f64 {
    let m = d.mantissa();
    let scale = d.scale() as usize;
    if m.unsigned_abs() < (1_u128 << 53) && scale < POW10.len() {
        // Exact: both operands are exactly representable.
        #[expect(clippy::cast_precision_loss, reason = "below 2^53: exact")]
        let m = m as i64 as f64;
        return m / POW10[scale];
    }
    rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(f64::NAN)
}

/// An indicator's `f64` value as a decimal with 8 decimal places (`None` when not finite or
/// beyond ±9·10^10): the fast way to bring an ATR or a volatility into decimal arithmetic.
#[inline]
pub fn decimal_from_f64_8dp(x: f64) -> Option<Decimal> {
    if !x.is_finite() || x.abs() >= 9e10 {
        return None;
    }
    #[expect(clippy::cast_possible_truncation, reason = "bounded above")]
    let scaled = (x * 1e8).round() as i64;
    Some(Decimal::new(scaled, 8))
}

#[cfg(test)]
mod fast_conversions {
    use super::*;

    #[test]
    fn fast_conversions_agree_with_the_general_ones() {
        use rust_decimal::prelude::ToPrimitive;
        for text in [
            "0",
            "1",
            "-1",
            "40123.45",
            "0.000001",
            "123456789.123456789",
            "-0.5",
            "79228162514264337593543950335",
        ] {
            let d: Decimal = text.parse().expect("decimal");
            assert_eq!(
                to_f64_fast(d).to_bits(),
                d.to_f64().expect("f64").to_bits(),
                "{text}: the same double, bit for bit"
            );
        }
        assert_eq!(
            decimal_from_f64_8dp(12.345_678_914),
            Some(Decimal::new(1_234_567_891, 8))
        );
        assert_eq!(decimal_from_f64_8dp(f64::NAN), None);
        assert_eq!(decimal_from_f64_8dp(1e11), None);
    }
}
