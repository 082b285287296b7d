//! Events into the kernel: market data ([`MarketEvent`]) and execution reports
//! ([`ExecutionReport`]), plus the local [`OrderBook`] built from snapshots and deltas.

mod book;
mod book_levels;
mod execution;
mod market;
mod market_decode;

pub use book::{BookError, OrderBook};
pub use execution::{ExecutionReport, Fill, Liquidity, RejectReason, ReportKind};
pub use market::{
    Bar, BookDelta, BookLevel, BookSnapshot, FundingRate, MarkPrice, MarketEvent, Quote, Trade,
};

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Everything a portfolio engine can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Market data.
    Market(MarketEvent),
    /// An execution report about one of the portfolio's orders.
    Execution(ExecutionReport),
    /// A timer the engine asked for through `next_deadline` fired.
    Timer {
        /// When it fired.
        ts: Timestamp,
    },
}
