//! What a parent order reports: where it stands ([`ExecState`]) and how far it got
//! ([`ExecProgress`]), emitted by the engine as [`crate::engine::Output::Execution`] on every
//! change, its terminal state last.

use crate::order::Side;
use crate::time::Timestamp;
use crate::value::Quantity;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Where a parent order stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ExecState {
    /// Working.
    Working,
    /// The whole quantity filled.
    Completed,
    /// Stopped before completing (canceled by the engine or the operator); what filled stays.
    Canceled,
    /// Could not complete: the venue refused what it needed.
    Failed {
        /// Why, in words (the child's reject reason and message).
        reason: String,
    },
}

impl ExecState {
    /// Whether the parent is done.
    pub fn is_terminal(&self) -> bool {
        !matches!(self, ExecState::Working)
    }
}

/// Progress of a parent order, emitted on every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecProgress {
    /// The parent's intent.
    pub intent_id: crate::ids::IntentId,
    /// Portfolio.
    pub portfolio_id: crate::ids::PortfolioId,
    /// Instrument.
    pub symbol: crate::ids::Symbol,
    /// Direction.
    pub side: Side,
    /// The algorithm (`maker-taker`, `twap`).
    pub algo: String,
    /// Parent quantity.
    pub qty: Quantity,
    /// Filled so far.
    pub filled: Quantity,
    /// Still to fill.
    pub remaining: Quantity,
    /// Closed again by exit legs (brackets).
    #[serde(default)]
    pub exited: Quantity,
    /// Average fill price, once anything filled.
    #[serde(with = "crate::value::decimal_str::option", default)]
    pub avg_price: Option<Decimal>,
    /// Mid when the parent arrived.
    #[serde(with = "crate::value::decimal_str::option", default)]
    pub arrival_mid: Option<Decimal>,
    /// Slippage of the average price against the arrival mid, in basis points, positive when
    /// it cost (bought above, sold below).
    #[serde(with = "crate::value::decimal_str::option", default)]
    pub slippage_bps: Option<Decimal>,
    /// Σ fees paid (negative: rebates), in the fee asset.
    #[serde(with = "crate::value::decimal_str", default)]
    pub fees: Decimal,
    /// Part of the fill taken as maker.
    #[serde(default)]
    pub maker_qty: Quantity,
    /// Child orders sent so far.
    pub children: u32,
    /// Where it stands.
    pub state: ExecState,
    /// When this was reported.
    pub at: Timestamp,
}
