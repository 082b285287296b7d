//! Binance's payloads as typed structs: REST bodies ([`rest`]), user-data events ([`user`])
//! and market-data frames ([`market`]). Field names are Binance's (single letters on streams),
//! renamed to words here. Decoding never panics: a payload that does not fit is an error
//! carrying its bytes, for the dead-letter topic.

pub mod market;
pub mod rest;
pub mod treasury;
pub mod user;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};

/// A decimal as Binance sends it: a string (`"0.10000000"`), or an integer in a few bodies.
/// JSON floats are refused: money never passes through `f64`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawDecimal {
    Text(String),
    Int(i64),
}

impl RawDecimal {
    fn parse<E: serde::de::Error>(self) -> Result<Option<Decimal>, E> {
        match self {
            RawDecimal::Text(s) if s.trim().is_empty() => Ok(None),
            RawDecimal::Text(s) => s
                .trim()
                .parse::<Decimal>()
                .or_else(|_| Decimal::from_scientific(s.trim()))
                .map(Some)
                .map_err(E::custom),
            RawDecimal::Int(i) => Ok(Some(Decimal::from(i))),
        }
    }
}

/// A required decimal (see [`RawDecimal`]).
pub(crate) fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    RawDecimal::deserialize(d)?
        .parse()?
        .ok_or_else(|| serde::de::Error::custom("empty decimal"))
}

/// An optional decimal (absent, `null` or empty string → `None`).
pub(crate) fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    Option::<RawDecimal>::deserialize(d)?.map_or(Ok(None), RawDecimal::parse)
}

/// Decodes `bytes` as `T`, keeping the bytes in the error.
///
/// # Errors
/// [`DecodeError`] with serde's message and the bytes.
pub fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(bytes).map_err(|e| DecodeError {
        what: what.to_owned(),
        message: e.to_string(),
        bytes: bytes.to_vec(),
    })
}

/// A payload that did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable {what}: {message}")]
pub struct DecodeError {
    /// What was being decoded.
    pub what: String,
    /// serde's message.
    pub message: String,
    /// The payload as received.
    pub bytes: Vec<u8>,
}

impl From<DecodeError> for chimera_ports::PortError {
    fn from(e: DecodeError) -> Self {
        chimera_ports::PortError::Codec {
            message: format!("undecodable {}: {}", e.what, e.message),
            bytes: e.bytes,
        }
    }
}
