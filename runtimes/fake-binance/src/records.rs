//! The fake's records of orders, trades, income, wallet transfers and account settings, as
//! Binance keeps them (what queries, events and REST answers are written from).

use crate::wire::dec;
use chimera_kernel::order::{Side, TimeInForce};
use rust_decimal::Decimal;
use serde_json::{json, Value};

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
        matches!(self.status, "NEW" | "PARTIALLY_FILLED" | "PENDING_NEW")
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

/// One income-history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Income {
    /// Account index.
    pub account: usize,
    /// Symbol.
    pub symbol: String,
    /// `FUNDING_FEE`.
    pub income_type: &'static str,
    /// Signed amount.
    pub income: Decimal,
    /// Asset.
    pub asset: String,
    /// Time, epoch ms.
    pub time: i64,
    /// Binance's entry id.
    pub tran_id: i64,
}

impl Income {
    /// The entry as `/fapi/v1/income` lists it.
    pub fn to_json(&self) -> Value {
        json!({"symbol": self.symbol, "incomeType": self.income_type, "income": dec(self.income),
               "asset": self.asset, "info": "FUNDING_FEE", "time": self.time,
               "tranId": self.tran_id, "tradeId": ""})
    }
}

/// One transfer made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferEntry {
    /// Account index.
    pub account: usize,
    /// `MAIN_UMFUTURE` or `UMFUTURE_MAIN`.
    pub kind: String,
    /// Asset.
    pub asset: String,
    /// Amount.
    pub amount: Decimal,
    /// Binance's id.
    pub tran_id: i64,
    /// When.
    pub time: i64,
}

/// One account's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountSettings {
    /// Hedge mode.
    pub hedge: bool,
    /// Symbol → (leverage, isolated).
    pub symbols: std::collections::BTreeMap<String, (u32, bool)>,
}

impl AccountSettings {
    /// Each configured account's settings at start (hedge mode as configured).
    pub fn for_accounts(
        accounts: &[crate::config::FakeAccount],
    ) -> std::collections::HashMap<usize, Self> {
        accounts
            .iter()
            .enumerate()
            .map(|(n, a)| {
                let settings = Self {
                    hedge: a.hedge_mode,
                    ..Self::default()
                };
                (n, settings)
            })
            .collect()
    }
}
