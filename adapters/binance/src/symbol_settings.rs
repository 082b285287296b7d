//! What the config may ask of a USDⓈ-M symbol: leverage and margin type (applied at connect
//! by [`crate::futures_settings`]).

use serde::Deserialize;

/// Cross or isolated margin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MarginType {
    /// Margin shared across positions.
    Crossed,
    /// Margin per position.
    Isolated,
}

impl MarginType {
    /// Binance's spelling.
    pub fn as_binance(self) -> &'static str {
        match self {
            Self::Crossed => "CROSSED",
            Self::Isolated => "ISOLATED",
        }
    }

    /// Reads Binance's spelling (`CROSSED`, `CROSS`, `ISOLATED`, any case).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_uppercase().as_str() {
            "CROSSED" | "CROSS" => Some(Self::Crossed),
            "ISOLATED" => Some(Self::Isolated),
            _ => None,
        }
    }
}

/// One symbol's wanted settings (`[venue.symbol_settings.BTCUSDT]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolSetting {
    /// Leverage, 1..=125.
    #[serde(default)]
    pub leverage: Option<u32>,
    /// Margin type.
    #[serde(default)]
    pub margin_type: Option<MarginType>,
}
