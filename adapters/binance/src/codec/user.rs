//! User-data events: spot `executionReport`, `outboundAccountPosition`, `balanceUpdate` and
//! `eventStreamTerminated` (WebSocket API subscription), USDⓈ-M `ORDER_TRADE_UPDATE`,
//! `ACCOUNT_UPDATE` and `listenKeyExpired` (listenKey stream). [`OrderUpdate`] is what both
//! products' order events have in common, which is all the connector reports from.

use super::{decimal, opt_decimal};
use rust_decimal::Decimal;
use serde::Deserialize;

/// One user-data event, by its `e`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "e")]
pub enum UserEvent {
    /// Spot order update.
    #[serde(rename = "executionReport")]
    SpotExecution(Box<SpotExecution>),
    /// Futures order update.
    #[serde(rename = "ORDER_TRADE_UPDATE")]
    FuturesOrder(Box<FuturesOrderEvent>),
    /// Futures balances and positions changed.
    #[serde(rename = "ACCOUNT_UPDATE")]
    FuturesAccount(Box<AccountUpdate>),
    /// Futures: the listenKey expired; the stream ends.
    #[serde(rename = "listenKeyExpired")]
    ListenKeyExpired,
    /// Spot: the subscription ended (logout, key revoked).
    #[serde(rename = "eventStreamTerminated")]
    StreamTerminated,
    /// Spot: balances after a change.
    #[serde(rename = "outboundAccountPosition")]
    SpotBalances,
    /// Spot: a deposit, withdrawal or transfer.
    #[serde(rename = "balanceUpdate")]
    SpotBalanceUpdate,
    /// Anything else (margin calls, config updates, strategy updates): ignored.
    #[serde(other)]
    Other,
}

/// Spot `executionReport`.
#[derive(Debug, Clone, Deserialize)]
#[allow(
    non_snake_case,
    reason = "Binance's one-letter field names differ only by case"
)]
pub struct SpotExecution {
    /// Event time.
    pub E: i64,
    /// Symbol.
    pub s: String,
    /// Client order id (of this request: a cancel's own id on `CANCELED`).
    pub c: String,
    /// Side.
    pub S: String,
    /// Order type.
    pub o: String,
    /// Quantity.
    #[serde(deserialize_with = "decimal")]
    pub q: Decimal,
    /// Price.
    #[serde(deserialize_with = "decimal")]
    pub p: Decimal,
    /// Original client order id (the canceled order's id on `CANCELED`; empty otherwise).
    #[serde(default)]
    pub C: String,
    /// Execution type.
    pub x: String,
    /// Order status.
    pub X: String,
    /// Reject reason.
    #[serde(default)]
    pub r: String,
    /// Order id.
    pub i: i64,
    /// Last executed quantity.
    #[serde(deserialize_with = "decimal")]
    pub l: Decimal,
    /// Cumulative executed quantity.
    #[serde(deserialize_with = "decimal")]
    pub z: Decimal,
    /// Last executed price.
    #[serde(deserialize_with = "decimal")]
    pub L: Decimal,
    /// Commission.
    #[serde(deserialize_with = "decimal")]
    pub n: Decimal,
    /// Commission asset (`null` without a trade).
    #[serde(default)]
    pub N: Option<String>,
    /// Transaction time.
    pub T: i64,
    /// Trade id (`-1` without a trade).
    pub t: i64,
    /// Maker side of the trade.
    #[serde(default)]
    pub m: bool,
    /// Order list id (`-1` outside a list).
    #[serde(default)]
    pub g: Option<i64>,
}

/// Futures `ORDER_TRADE_UPDATE`.
#[derive(Debug, Clone, Deserialize)]
#[allow(
    non_snake_case,
    reason = "Binance's one-letter field names differ only by case"
)]
pub struct FuturesOrderEvent {
    /// Event time.
    pub E: i64,
    /// Transaction time.
    pub T: i64,
    /// The order.
    pub o: FuturesOrder,
}

/// The order of an `ORDER_TRADE_UPDATE`.
#[derive(Debug, Clone, Deserialize)]
#[allow(
    non_snake_case,
    reason = "Binance's one-letter field names differ only by case"
)]
pub struct FuturesOrder {
    /// Symbol.
    pub s: String,
    /// Client order id.
    pub c: String,
    /// Side.
    pub S: String,
    /// Order type.
    pub o: String,
    /// Quantity.
    #[serde(deserialize_with = "decimal")]
    pub q: Decimal,
    /// Price.
    #[serde(deserialize_with = "decimal")]
    pub p: Decimal,
    /// Execution type: `NEW`, `CANCELED`, `CALCULATED` (liquidation), `EXPIRED`, `TRADE`,
    /// `AMENDMENT`.
    pub x: String,
    /// Order status.
    pub X: String,
    /// Order id.
    pub i: i64,
    /// Last filled quantity.
    #[serde(deserialize_with = "decimal")]
    pub l: Decimal,
    /// Cumulative filled quantity.
    #[serde(deserialize_with = "decimal")]
    pub z: Decimal,
    /// Last filled price.
    #[serde(deserialize_with = "decimal")]
    pub L: Decimal,
    /// Commission asset (absent without a trade).
    #[serde(default)]
    pub N: Option<String>,
    /// Commission (absent without a trade).
    #[serde(default, deserialize_with = "opt_decimal")]
    pub n: Option<Decimal>,
    /// Trade time.
    pub T: i64,
    /// Trade id (0 without a trade).
    pub t: i64,
    /// Maker side.
    #[serde(default)]
    pub m: bool,
    /// Reduce-only.
    #[serde(default)]
    pub R: bool,
    /// Realised profit of the trade.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub rp: Option<Decimal>,
}

/// Futures `ACCOUNT_UPDATE`.
#[derive(Debug, Clone, Deserialize)]
#[allow(
    non_snake_case,
    reason = "Binance's one-letter field names differ only by case"
)]
pub struct AccountUpdate {
    /// Event time.
    pub E: i64,
    /// The update.
    pub a: AccountChange,
}

/// The body of an `ACCOUNT_UPDATE`.
#[derive(Debug, Clone, Deserialize)]
#[allow(
    non_snake_case,
    reason = "Binance's one-letter field names differ only by case"
)]
pub struct AccountChange {
    /// Why: `ORDER`, `FUNDING_FEE`, `DEPOSIT`, `WITHDRAW`, ...
    pub m: String,
    /// Balances.
    #[serde(default)]
    pub B: Vec<BalanceChange>,
    /// Positions.
    #[serde(default)]
    pub P: Vec<PositionChange>,
}

/// A balance in an `ACCOUNT_UPDATE`.
#[derive(Debug, Clone, Deserialize)]
pub struct BalanceChange {
    /// Asset.
    pub a: String,
    /// Wallet balance.
    #[serde(deserialize_with = "decimal")]
    pub wb: Decimal,
    /// Balance change except PnL and commission.
    #[serde(default, deserialize_with = "opt_decimal")]
    pub bc: Option<Decimal>,
}

/// A position in an `ACCOUNT_UPDATE`.
#[derive(Debug, Clone, Deserialize)]
pub struct PositionChange {
    /// Symbol.
    pub s: String,
    /// Signed amount.
    #[serde(deserialize_with = "decimal")]
    pub pa: Decimal,
    /// Entry price.
    #[serde(deserialize_with = "decimal")]
    pub ep: Decimal,
}

/// An order event in the terms both products share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderUpdate {
    /// Symbol.
    pub symbol: String,
    /// The order's client id.
    pub client_order_id: String,
    /// Binance's id.
    pub order_id: i64,
    /// Execution type.
    pub exec_type: String,
    /// Status after it.
    pub status: String,
    /// Side (`BUY`/`SELL`).
    pub side: String,
    /// Order price.
    pub price: Decimal,
    /// Order quantity.
    pub qty: Decimal,
    /// Trade: quantity, price, fee, fee asset, id, maker.
    pub trade: Option<TradeUpdate>,
    /// Cumulative filled.
    pub cum_qty: Decimal,
    /// Reject reason text.
    pub reject_reason: String,
    /// Event time.
    pub time: i64,
}

/// The trade in an order event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeUpdate {
    /// Trade id.
    pub id: i64,
    /// Quantity.
    pub qty: Decimal,
    /// Price.
    pub price: Decimal,
    /// Fee.
    pub fee: Decimal,
    /// Fee asset.
    pub fee_asset: String,
    /// Maker.
    pub maker: bool,
}

impl From<&SpotExecution> for OrderUpdate {
    fn from(e: &SpotExecution) -> Self {
        // On a cancel, `c` is the cancel request's id and `C` the order's.
        let client_order_id = if e.C.is_empty() {
            e.c.clone()
        } else {
            e.C.clone()
        };
        Self {
            symbol: e.s.clone(),
            client_order_id,
            order_id: e.i,
            exec_type: e.x.clone(),
            status: e.X.clone(),
            side: e.S.clone(),
            price: e.p,
            qty: e.q,
            trade: (e.x == "TRADE" && e.t >= 0).then(|| TradeUpdate {
                id: e.t,
                qty: e.l,
                price: e.L,
                fee: e.n,
                fee_asset: e.N.clone().unwrap_or_default(),
                maker: e.m,
            }),
            cum_qty: e.z,
            reject_reason: e.r.clone(),
            time: e.T.max(e.E),
        }
    }
}

impl From<&FuturesOrderEvent> for OrderUpdate {
    fn from(e: &FuturesOrderEvent) -> Self {
        let o = &e.o;
        Self {
            symbol: o.s.clone(),
            client_order_id: o.c.clone(),
            order_id: o.i,
            exec_type: o.x.clone(),
            status: o.X.clone(),
            side: o.S.clone(),
            price: o.p,
            qty: o.q,
            trade: (matches!(o.x.as_str(), "TRADE" | "CALCULATED") && o.t > 0).then(|| {
                TradeUpdate {
                    id: o.t,
                    qty: o.l,
                    price: o.L,
                    fee: o.n.unwrap_or_default(),
                    fee_asset: o.N.clone().unwrap_or_else(|| "USDT".to_owned()),
                    maker: o.m,
                }
            }),
            cum_qty: o.z,
            reject_reason: String::new(),
            time: o.T.max(e.T),
        }
    }
}

/// The spot WebSocket API's wrapper around a subscribed event:
/// `{"subscriptionId": 0, "event": {...}}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WsApiEvent {
    /// The subscription.
    pub subscription_id: Option<u64>,
    /// The event.
    pub event: UserEvent,
}
