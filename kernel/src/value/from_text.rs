//! Reading a value from its text where the input holds it, without copying the text.
//!
//! Why: serde's `Cow<str>` is an owned copy unless the field is marked `#[serde(borrow)]`, so
//! reading every price and quantity through it cost one allocation each: five per bar in the
//! node and again in the gateway, more per order and fill. A visitor is handed the string in
//! place (or, from a reader that must copy, its own buffer) and parses it there.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Reads a string and parses it with `parse`, naming `expecting` when the input is not a
/// string.
///
/// # Errors
/// The input is not a string, or `parse` refuses it (its error as a custom error).
pub(crate) fn from_text<'de, D, T, E>(
    deserializer: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, E>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
{
    deserializer.deserialize_str(Text { expecting, parse })
}

/// The same for an optional value: `null` (or an absent field with `#[serde(default)]`) is
/// `None`.
///
/// # Errors
/// As [`from_text`].
pub(crate) fn from_optional_text<'de, D, T, E>(
    deserializer: D,
    expecting: &'static str,
    parse: fn(&str) -> Result<T, E>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    E: fmt::Display,
{
    deserializer.deserialize_option(Optional(Text { expecting, parse }))
}

struct Text<T, E> {
    expecting: &'static str,
    parse: fn(&str) -> Result<T, E>,
}

impl<T, E: fmt::Display> Visitor<'_> for Text<T, E> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} written as a string", self.expecting)
    }

    fn visit_str<X: de::Error>(self, text: &str) -> Result<T, X> {
        (self.parse)(text).map_err(X::custom)
    }
}

struct Optional<T, E>(Text<T, E>);

impl<'de, T, E: fmt::Display> Visitor<'de> for Optional<T, E> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} written as a string, or null", self.0.expecting)
    }

    fn visit_none<X: de::Error>(self) -> Result<Option<T>, X> {
        Ok(None)
    }

    fn visit_unit<X: de::Error>(self) -> Result<Option<T>, X> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_str(self.0).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use crate::value::{decimal_str, Amount, Price, Quantity};
    use rust_decimal::Decimal;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Row {
        price: Price,
        size: Quantity,
        pnl: Amount,
        #[serde(with = "decimal_str")]
        raw: Decimal,
        #[serde(default, with = "decimal_str::option")]
        maybe: Option<Decimal>,
    }

    #[test]
    fn values_are_read_from_borrowed_escaped_and_owned_text() {
        let plain = r#"{"price":"101.5","size":"2","pnl":"-3.25","raw":"1e-8","maybe":"0.5"}"#;
        let row: Row = serde_json::from_str(plain).unwrap();
        assert_eq!(row.price, "101.5".parse().unwrap());
        assert_eq!(row.size, "2".parse().unwrap());
        assert_eq!(row.pnl, "-3.25".parse().unwrap());
        assert_eq!(row.raw, Decimal::new(1, 8));
        assert_eq!(row.maybe, Some(Decimal::new(5, 1)));
        // An escape makes serde_json copy the text into its scratch buffer first.
        let escaped = r#"{"price":"10\u0031","size":"2","pnl":"0","raw":"1","maybe":null}"#;
        let row: Row = serde_json::from_str(escaped).unwrap();
        assert_eq!(row.price, "101".parse().unwrap());
        assert_eq!(row.maybe, None);
        // A reader (not a slice) and a `Value` hand over owned strings.
        let from_reader: Row = serde_json::from_reader(plain.as_bytes()).unwrap();
        let value: serde_json::Value = serde_json::from_str(plain).unwrap();
        assert_eq!(from_reader, serde_json::from_value::<Row>(value).unwrap());
        let absent = r#"{"price":"1","size":"0","pnl":"0","raw":"0"}"#;
        assert_eq!(serde_json::from_str::<Row>(absent).unwrap().maybe, None);
    }

    #[test]
    fn refusals_name_the_type_and_the_text() {
        let bad = |json: &str| serde_json::from_str::<Row>(json).unwrap_err().to_string();
        let not_a_number = bad(r#"{"price":"abc","size":"1","pnl":"0","raw":"0"}"#);
        assert!(
            not_a_number.contains("Price: `abc` is not a decimal number"),
            "{not_a_number}"
        );
        let out_of_range = bad(r#"{"price":"-1","size":"1","pnl":"0","raw":"0"}"#);
        assert!(out_of_range.contains("must be > 0"), "{out_of_range}");
        let not_a_string = bad(r#"{"price":101,"size":"1","pnl":"0","raw":"0"}"#);
        assert!(
            not_a_string.contains("expected Price written as a string"),
            "{not_a_string}"
        );
        let bad_option = bad(r#"{"price":"1","size":"1","pnl":"0","raw":"0","maybe":"x"}"#);
        assert!(
            bad_option.contains("`x` is not a decimal number"),
            "{bad_option}"
        );
    }
}
