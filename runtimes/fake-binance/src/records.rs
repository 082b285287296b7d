//! The fake's records of orders and trades, as Binance keeps them (what queries, events and
//! REST answers are written from).

use chimera_kernel::order::{Side, TimeInForce};
use rust_decimal::Decimal;

/// One order as Binance records it.
#[derive(Debug, Clone)]
pub struct Record {
    /// Owning account.
    pub account: usize,
    /// The client's id.
    pub cid: String,
    /// Binance's id.
    pub order_id: i64,
    /// Symbol.
    pub symbol: String,
    /// Side.
    pub side: Side,
    /// `LIMIT`, `MARKET`, ...
    pub type_name: String,
    /// Time in force.
    pub tif: TimeInForce,
    /// Limit price (0 for market).
    pub price: Decimal,
    /// Trigger price (0 when none).
    pub stop_price: Decimal,
    /// Quantity.
    pub orig_qty: Decimal,
    /// Executed.
    pub executed: Decimal,
    /// Σ price × qty executed.
    pub cum_quote: Decimal,
    /// Binance status.
    pub status: &'static str,
    /// Placement time.
    pub time: i64,
    /// Last change.
    pub update_time: i64,
    /// Placed at the algo endpoint.
    pub algo: bool,
    /// Reduce-only.
    pub reduce_only: bool,
}

impl Record {
    /// Whether it is still working.
    pub fn is_open(&self) -> bool {
        matches!(self.status, "NEW" | "PARTIALLY_FILLED")
    }
}

/// One trade of an account.
#[derive(Debug, Clone)]
pub struct AccountTrade {
    /// Account.
    pub account: usize,
    /// Symbol.
    pub symbol: String,
    /// Trade id.
    pub id: i64,
    /// Order id.
    pub order_id: i64,
    /// Side of our order.
    pub side: Side,
    /// Price.
    pub price: Decimal,
    /// Quantity.
    pub qty: Decimal,
    /// Fee.
    pub commission: Decimal,
    /// Fee asset.
    pub commission_asset: String,
    /// Time.
    pub time: i64,
    /// Maker.
    pub maker: bool,
}
