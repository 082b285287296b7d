//! REST response bodies (spot `/api/v3`, USDⓈ-M `/fapi`). Only the fields the connector uses
//! are named; others are ignored, so a field Binance adds breaks nothing.

use super::{decimal, opt_decimal};
use crate::limits::RateLimitSpec;
use rust_decimal::Decimal;
use serde::Deserialize;

/// `GET /api/v3/exchangeInfo`, `GET /fapi/v1/exchangeInfo`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeInfo {
    /// The host's limits.
    #[serde(default)]
    pub rate_limits: Vec<RateLimitSpec>,
    /// Listed symbols.
    pub symbols: Vec<SymbolInfo>,
}

/// One symbol of exchangeInfo.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SymbolInfo {
    /// `BTCUSDT`.
    pub symbol: String,
    /// `TRADING`, `BREAK`, ...
    pub status: String,
    /// `BTC`.
    pub base_asset: String,
    /// `USDT`.
    pub quote_asset: String,
    /// USDⓈ-M: `PERPETUAL`, `CURRENT_QUARTER`, ...
    #[serde(default)]
    pub contract_type: Option<String>,
    /// USDⓈ-M: the margin asset.
    #[serde(default)]
    pub margin_asset: Option<String>,
    /// Spot: whether OCO lists are allowed.
    #[serde(default)]
    pub oco_allowed: bool,
    /// Spot: whether OTO lists are allowed.
    #[serde(default)]
    pub oto_allowed: bool,
    /// Order types allowed.
    #[serde(default)]
    pub order_types: Vec<String>,
    /// The filters.
    #[serde(default)]
    pub filters: Vec<Filter>,
}

/// A symbol filter, by `filterType`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "filterType", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Filter {
    /// Price bounds and tick.
    #[serde(rename_all = "camelCase")]
    PriceFilter {
        /// Lowest price (0: none).
        #[serde(deserialize_with = "decimal")]
        min_price: Decimal,
        /// Highest price (0: none).
        #[serde(deserialize_with = "decimal")]
        max_price: Decimal,
        /// Tick.
        #[serde(deserialize_with = "decimal")]
        tick_size: Decimal,
    },
    /// Quantity bounds and step (limit orders).
    #[serde(rename_all = "camelCase")]
    LotSize {
        /// Smallest quantity.
        #[serde(deserialize_with = "decimal")]
        min_qty: Decimal,
        /// Largest quantity.
        #[serde(deserialize_with = "decimal")]
        max_qty: Decimal,
        /// Step.
        #[serde(deserialize_with = "decimal")]
        step_size: Decimal,
    },
    /// Quantity bounds and step (market orders).
    #[serde(rename_all = "camelCase")]
    MarketLotSize {
        /// Smallest quantity.
        #[serde(deserialize_with = "decimal")]
        min_qty: Decimal,
        /// Largest quantity.
        #[serde(deserialize_with = "decimal")]
        max_qty: Decimal,
        /// Step (0: as LOT_SIZE).
        #[serde(deserialize_with = "decimal")]
        step_size: Decimal,
    },
    /// Spot: notional bounds.
    #[serde(rename_all = "camelCase")]
    Notional {
        /// Smallest notional.
        #[serde(deserialize_with = "decimal")]
        min_notional: Decimal,
        /// Largest notional.
        #[serde(default, deserialize_with = "opt_decimal")]
        max_notional: Option<Decimal>,
    },
    /// Spot (older) and futures: smallest notional. Futures send it as `notional`.
    #[serde(rename_all = "camelCase")]
    MinNotional {
        /// Smallest notional (spot).
        #[serde(default, deserialize_with = "opt_decimal")]
        min_notional: Option<Decimal>,
        /// Smallest notional (futures).
        #[serde(default, deserialize_with = "opt_decimal")]
        notional: Option<Decimal>,
    },
    /// Futures: price within a percentage of the mark.
    #[serde(rename_all = "camelCase")]
    PercentPrice {
        /// Highest as a multiple of the mark.
        #[serde(deserialize_with = "decimal")]
        multiplier_up: Decimal,
        /// Lowest as a multiple of the mark.
        #[serde(deserialize_with = "decimal")]
        multiplier_down: Decimal,
    },
    /// Spot: price within a percentage of the average, by side.
    #[serde(rename_all = "camelCase")]
    PercentPriceBySide {
        /// Highest bid as a multiple of the average.
        #[serde(deserialize_with = "decimal")]
        bid_multiplier_up: Decimal,
        /// Lowest bid as a multiple of the average.
        #[serde(deserialize_with = "decimal")]
        bid_multiplier_down: Decimal,
        /// Highest ask as a multiple of the average.
        #[serde(deserialize_with = "decimal")]
        ask_multiplier_up: Decimal,
        /// Lowest ask as a multiple of the average.
        #[serde(deserialize_with = "decimal")]
        ask_multiplier_down: Decimal,
    },
    /// Any other filter (kept unread).
    #[serde(other)]
    Other,
}

/// An order as REST returns it (new order with `RESULT`/`FULL`, query, cancel, open orders).
/// Spot and futures share these names; each fills in some.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderBody {
    /// Symbol.
    pub symbol: String,
    /// Binance's id.
    pub order_id: i64,
    /// Our id.
    pub client_order_id: String,
    /// Spot cancels: the id of the canceled order.
    #[serde(default)]
    pub orig_client_order_id: Option<String>,
    /// `NEW`, `PARTIALLY_FILLED`, `FILLED`, `CANCELED`, `EXPIRED`, `REJECTED`, ...
    pub status: String,
    /// Limit price (`0` for market orders).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub price: Option<Decimal>,
    /// Quantity asked.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub orig_qty: Option<Decimal>,
    /// Quantity executed.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub executed_qty: Option<Decimal>,
    /// `LIMIT`, `MARKET`, ...
    #[serde(default, rename = "type")]
    pub order_type: Option<String>,
    /// `BUY` / `SELL`.
    #[serde(default)]
    pub side: Option<String>,
    /// Spot: when it was placed or changed.
    #[serde(default)]
    pub transact_time: Option<i64>,
    /// Futures and queries: last change.
    #[serde(default)]
    pub update_time: Option<i64>,
    /// Query: placement time.
    #[serde(default)]
    pub time: Option<i64>,
    /// Spot `FULL`: the fills of the placement.
    #[serde(default)]
    pub fills: Vec<SpotFill>,
}

/// One fill in a spot `FULL` new-order response.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpotFill {
    /// Price.
    #[serde(deserialize_with = "decimal")]
    pub price: Decimal,
    /// Quantity.
    #[serde(deserialize_with = "decimal")]
    pub qty: Decimal,
    /// Fee.
    #[serde(deserialize_with = "decimal")]
    pub commission: Decimal,
    /// Fee asset.
    pub commission_asset: String,
    /// Trade id.
    pub trade_id: i64,
}

/// `POST /fapi/v1/algoOrder` and algo queries: a conditional order at Binance's algo service.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlgoOrderBody {
    /// Binance's id.
    pub algo_id: i64,
    /// Our id.
    pub client_algo_id: String,
    /// `NEW`, `CANCELED`, `TRIGGERED`, `FINISHED`, `EXPIRED`, ...
    #[serde(default)]
    pub algo_status: Option<String>,
    /// Symbol.
    #[serde(default)]
    pub symbol: Option<String>,
    /// Create time.
    #[serde(default)]
    pub create_time: Option<i64>,
}

/// A trade of the account (spot `myTrades`, futures `userTrades`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountTrade {
    /// Symbol.
    pub symbol: String,
    /// Trade id.
    pub id: i64,
    /// Order id.
    pub order_id: i64,
    /// Price.
    #[serde(deserialize_with = "decimal")]
    pub price: Decimal,
    /// Quantity.
    #[serde(deserialize_with = "decimal")]
    pub qty: Decimal,
    /// Fee.
    #[serde(deserialize_with = "decimal")]
    pub commission: Decimal,
    /// Fee asset.
    pub commission_asset: String,
    /// Time.
    pub time: i64,
    /// Spot: maker.
    #[serde(default)]
    pub is_maker: Option<bool>,
    /// Futures: maker.
    #[serde(default)]
    pub maker: Option<bool>,
}

impl AccountTrade {
    /// Whether we were the maker.
    pub fn was_maker(&self) -> bool {
        self.is_maker.or(self.maker).unwrap_or(false)
    }
}

/// Spot `GET /api/v3/account`.
#[derive(Debug, Clone, Deserialize)]
pub struct SpotAccount {
    /// Balances.
    pub balances: Vec<SpotBalance>,
}

/// A spot balance.
#[derive(Debug, Clone, Deserialize)]
pub struct SpotBalance {
    /// Asset.
    pub asset: String,
    /// Available.
    #[serde(deserialize_with = "decimal")]
    pub free: Decimal,
    /// In orders.
    #[serde(deserialize_with = "decimal")]
    pub locked: Decimal,
}

/// Futures `GET /fapi/v3/balance` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FuturesBalance {
    /// Asset.
    pub asset: String,
    /// Wallet balance.
    #[serde(deserialize_with = "decimal")]
    pub balance: Decimal,
    /// Available for new orders.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub available_balance: Option<Decimal>,
}

/// Futures `GET /fapi/v3/positionRisk` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PositionRisk {
    /// Symbol.
    pub symbol: String,
    /// Signed size (one-way mode).
    #[serde(deserialize_with = "decimal")]
    pub position_amt: Decimal,
    /// Average entry price.
    #[serde(deserialize_with = "decimal")]
    pub entry_price: Decimal,
    /// Mark price.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub mark_price: Option<Decimal>,
    /// Unrealised PnL.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub un_realized_profit: Option<Decimal>,
    /// `BOTH`, `LONG`, `SHORT`.
    #[serde(default)]
    pub position_side: Option<String>,
    /// Leverage (v2 only).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub leverage: Option<Decimal>,
}

/// Futures `GET /fapi/v1/income` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Income {
    /// Symbol (empty for transfers).
    #[serde(default)]
    pub symbol: String,
    /// `FUNDING_FEE`, `REALIZED_PNL`, `COMMISSION`, `TRANSFER`, ...
    pub income_type: String,
    /// Amount (signed).
    #[serde(deserialize_with = "decimal")]
    pub income: Decimal,
    /// Asset.
    pub asset: String,
    /// Time.
    pub time: i64,
    /// Binance's id of the entry.
    #[serde(default)]
    pub tran_id: Option<i64>,
}

/// `POST /fapi/v1/listenKey`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenKey {
    /// The key.
    pub listen_key: String,
}

/// Spot `POST /api/v3/order/cancelReplace` success.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelReplaceBody {
    /// `SUCCESS`.
    pub cancel_result: String,
    /// `SUCCESS`.
    pub new_order_result: String,
    /// The canceled order.
    pub cancel_response: OrderBody,
    /// The new order.
    pub new_order_response: OrderBody,
}

/// Spot `POST /api/v3/orderList/*` success.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderListBody {
    /// Binance's list id.
    pub order_list_id: i64,
    /// Our list id.
    pub list_client_order_id: String,
    /// The legs as placed.
    #[serde(default)]
    pub order_reports: Vec<OrderBody>,
}
