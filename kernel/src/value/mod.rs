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
mod from_text;
mod money;
mod signed;
mod text;

pub use crate::ids::Asset;
pub use decimal_newtype::{
    decimal_from_f64_8dp, fast_cmp, to_f64_fast, FeeRate, Notional, Price, Quantity,
};
pub(crate) use from_text::from_text;
pub use money::Money;
pub use signed::{Amount, SignedQty};
pub(crate) use text::{pair as digit_pair, push_ascii};
pub use text::{push_decimal, push_integer, write_decimal, write_integer};

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
    use serde::{Deserializer, Serializer};

    /// Writes the decimal as a normalised string.
    ///
    /// # Errors
    /// Only the serializer's own errors.
    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        super::text::serialize_decimal(*value, serializer)
    }

    /// Reads a decimal from a string.
    ///
    /// # Errors
    /// A custom error naming the text when it is not a decimal number.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        super::from_text::from_text(deserializer, "decimal", |text| {
            super::parse_decimal("decimal", text)
        })
    }

    /// The same for an optional decimal (`null` when absent).
    pub mod option {
        use rust_decimal::Decimal;
        use serde::{Deserializer, Serializer};

        /// Writes the decimal as a normalised string, or `null`.
        ///
        /// # Errors
        /// Only the serializer's own errors.
        pub fn serialize<S: Serializer>(
            value: &Option<Decimal>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => super::super::text::serialize_decimal(*v, serializer),
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
            super::super::from_text::from_optional_text(deserializer, "decimal", |text| {
                super::super::parse_decimal("decimal", text)
            })
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
