//! Exact value types: [`Price`], [`Quantity`], [`Notional`], [`FeeRate`], [`Money`], and the
//! signed accounting values [`SignedQty`] (a position) and [`Amount`] (balances, PnL, fees).
//!
//! Each is a newtype over [`Decimal`] whose constructor checks the domain rule (a price is
//! positive, a quantity is not negative, a fee rate lies in `(-1, 1)`), so a value that exists is
//! valid. There is no `From<f64>`: parse from a string or build from a `Decimal`.
//!
//! Arithmetic is provided only where it means something:
//!
//! | expression                    | result      |
//! |-------------------------------|-------------|
//! | `Price * Quantity`            | `Notional`  |
//! | `Notional * FeeRate`          | `Decimal` (signed fee amount, quote asset) |
//! | `Quantity + Quantity`         | `Quantity`  |
//! | `Quantity.checked_sub(Quantity)` | `Option<Quantity>` |
//! | `Money + Money` (same asset)  | `Result<Money, ValueError>` |
//!
//! All values serialise as decimal strings (`"42000.5"`) so that non-Rust consumers never see a
//! binary float.

mod decimal_newtype;
mod money;
mod signed;

pub use crate::ids::Asset;
pub use decimal_newtype::{
    decimal_from_f64_8dp, fast_cmp, to_f64_fast, FeeRate, Notional, Price, Quantity,
};
pub use money::Money;
pub use signed::{Amount, SignedQty};

use rust_decimal::Decimal;

/// Why a value could not be constructed or combined.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The text is not a decimal number.
    #[error("{kind}: `{input}` is not a decimal number")]
    Unparsable {
        /// Which value type was being parsed.
        kind: &'static str,
        /// The rejected text.
        input: String,
    },
    /// The number is outside the domain of the type.
    #[error("{kind}: {value} is out of range ({rule})")]
    OutOfRange {
        /// Which value type was being built.
        kind: &'static str,
        /// The rejected number.
        value: Decimal,
        /// The rule it broke, e.g. "must be > 0".
        rule: &'static str,
    },
    /// Two amounts in different assets were combined.
    #[error("cannot combine {left} with {right}: different assets")]
    AssetMismatch {
        /// Asset of the left operand.
        left: String,
        /// Asset of the right operand.
        right: String,
    },
}

/// Parses a decimal from text, accepting plain and scientific notation (`"1e-8"`).
///
/// # Errors
/// [`ValueError::Unparsable`] naming `kind` and the input when the text is not a number.
pub fn parse_decimal(kind: &'static str, text: &str) -> Result<Decimal, ValueError> {
    let trimmed = text.trim();
    trimmed
        .parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(trimmed))
        .map_err(|_| ValueError::Unparsable {
            kind,
            input: text.to_owned(),
        })
}

/// Serde helpers that write a raw [`Decimal`] as a normalised string and read it back from a
/// string (or, leniently, a JSON number given as text). Use with `#[serde(with = ...)]`.
pub mod decimal_str {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the decimal as a normalised string.
    ///
    /// # Errors
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&value.normalize())
    }

    /// Reads a decimal from a string.
    ///
    /// # Errors
    /// A custom error naming the text when it is not a decimal number.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        super::parse_decimal("decimal", &text).map_err(serde::de::Error::custom)
    }

    /// The same for an optional decimal (`null` when absent).
    pub mod option {
        use rust_decimal::Decimal;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes the decimal as a normalised string, or `null`.
        ///
        /// # Errors
        /// Only the serializer's own errors.
        pub fn serialize<S: Serializer>(
            value: &Option<Decimal>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => serializer.collect_str(&v.normalize()),
                None => serializer.serialize_none(),
            }
        }

        /// Reads an optional decimal from a string or `null`.
        ///
        /// # Errors
        /// A custom error naming the text when it is not a decimal number.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Decimal>, D::Error> {
            Option::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?
                .map(|text| super::super::parse_decimal("decimal", &text))
                .transpose()
                .map_err(serde::de::Error::custom)
        }
    }

    /// The same for a list of decimals.
    pub mod vec {
        use rust_decimal::Decimal;
        use serde::ser::SerializeSeq;
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes each decimal as a normalised string.
        ///
        /// # Errors
        /// Only the serializer's own errors.
        pub fn serialize<S: Serializer>(
            values: &[Decimal],
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            let mut seq = serializer.serialize_seq(Some(values.len()))?;
            for v in values {
                seq.serialize_element(&v.normalize().to_string())?;
            }
            seq.end()
        }

        /// Reads a list of decimals written as strings.
        ///
        /// # Errors
        /// A custom error naming the first text that is not a decimal number.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Vec<Decimal>, D::Error> {
            Vec::<std::borrow::Cow<'de, str>>::deserialize(deserializer)?
                .iter()
                .map(|text| super::super::parse_decimal("decimal", text))
                .collect::<Result<_, _>>()
                .map_err(serde::de::Error::custom)
        }
    }
}

/// Appends an integer's decimal digits to `out` without the formatting machinery.
pub fn write_integer(out: &mut String, value: i64) {
    if value < 0 {
        out.push('-');
    }
    let mut buf = [0_u8; 20];
    let start = digits_u64(&mut buf, 20, value.unsigned_abs());
    out.push_str(std::str::from_utf8(&buf[start..]).unwrap_or(""));
}

/// Writes `n`'s digits right-aligned into `buf` ending at `end`; returns the start index.
fn digits_u64(buf: &mut [u8], end: usize, mut n: u64) -> usize {
    let mut i = end;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return i;
        }
    }
}

/// Appends a decimal's plain (normalised, no exponent) text to `out` without the formatting
/// machinery: a hot path for CSV reports.
pub fn write_decimal(out: &mut String, value: Decimal) {
    const TEN_POW_19: u128 = 10_000_000_000_000_000_000;
    let mut buf = [b'0'; 64];
    let end = buf.len();
    let n = value.mantissa().unsigned_abs();
    // At most one 128-bit division: split into two 64-bit halves of 19 digits.
    let mut start = if let Ok(small) = u64::try_from(n) {
        digits_u64(&mut buf, end, small)
    } else {
        let (hi, lo) = ((n / TEN_POW_19) as u64, (n % TEN_POW_19) as u64);
        let lo_start = digits_u64(&mut buf, end, lo);
        for slot in &mut buf[end - 19..lo_start] {
            *slot = b'0';
        }
        digits_u64(&mut buf, end - 19, hi)
    };
    let scale = value.scale() as usize;
    // Leading zeros so there is at least one digit before the point.
    while end - start <= scale {
        start -= 1;
        buf[start] = b'0';
    }
    let point = end - scale;
    let mut stop = end;
    while stop > point && buf[stop - 1] == b'0' {
        stop -= 1;
    }
    let int_part = &buf[start..point];
    let frac_part = &buf[point..stop];
    let is_zero = int_part.iter().all(|&d| d == b'0') && frac_part.is_empty();
    if value.is_sign_negative() && !is_zero {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(int_part).unwrap_or("0"));
    if !frac_part.is_empty() {
        out.push('.');
        out.push_str(std::str::from_utf8(frac_part).unwrap_or(""));
    }
}

#[cfg(test)]
mod write_tests {
    use super::write_decimal;
    use rust_decimal_macros::dec;

    #[test]
    fn writes_like_display_of_the_normalised_value() {
        for d in [
            dec!(0),
            dec!(0.000),
            dec!(-0.5),
            dec!(79228162514264337593543950335),
            dec!(-7.9228162514264337593543950335),
            dec!(0.0000000000000000000000000001),
            dec!(-0.00),
            dec!(12345678901234567890.5),
            dec!(100.2500),
            dec!(0.00012),
            dec!(-123456789.987654321),
            dec!(1000),
        ] {
            let mut out = String::new();
            write_decimal(&mut out, d);
            assert_eq!(out, d.normalize().to_string());
        }
    }
}
