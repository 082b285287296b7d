//! User-data events as Binance sends them: spot `executionReport` (wrapped for the WebSocket
//! API subscription) and USDⓈ-M `ORDER_TRADE_UPDATE`.

use crate::config::FakeProduct;
use crate::records::{AccountTrade, Record};
use crate::wire::dec;
use chimera_kernel::event::ReportKind;
use chimera_kernel::order::{Side, TimeInForce};
use serde_json::{json, Value};

fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// Binance's name of a time in force.
pub fn tif(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        TimeInForce::Gtx => "GTX",
    }
}

/// Execution type of a report.
fn exec_type(product: FakeProduct, kind: &ReportKind) -> &'static str {
    match kind {
        ReportKind::Accepted => "NEW",
        ReportKind::PartiallyFilled(_) | ReportKind::Filled(_) => "TRADE",
        ReportKind::Liquidated { .. } => "CALCULATED",
        ReportKind::Canceled => "CANCELED",
        ReportKind::Amended { .. } => match product {
            FakeProduct::Usdm => "AMENDMENT",
            FakeProduct::Spot => "REPLACED",
        },
        ReportKind::Rejected { .. } | ReportKind::Expired => "EXPIRED",
        ReportKind::CancelRejected { .. } | ReportKind::AmendRejected { .. } => "",
    }
}

/// The event for `record` after `kind`, wrapped as the product delivers it.
#[allow(
    clippy::many_single_char_names,
    reason = "the bindings are named after Binance's one-letter fields"
)]
pub fn order_event(
    product: FakeProduct,
    r: &Record,
    kind: &ReportKind,
    trade: Option<&AccountTrade>,
    now: i64,
) -> Value {
    let x = exec_type(product, kind);
    let (l, big_l, n, big_n, t, m) = trade.map_or(
        (
            "0".to_owned(),
            "0".to_owned(),
            "0".to_owned(),
            None,
            -1,
            false,
        ),
        |t| {
            (
                dec(t.qty),
                dec(t.price),
                dec(t.commission),
                Some(t.commission_asset.clone()),
                t.id,
                t.maker,
            )
        },
    );
    match product {
        FakeProduct::Spot => json!({
            "subscriptionId": 0,
            "event": {
                "e": "executionReport", "E": now, "s": r.symbol,
                "c": if x == "CANCELED" { format!("cancel{}", r.order_id) } else { r.cid.clone() },
                "S": side(r.side), "o": r.type_name, "f": tif(r.tif),
                "q": dec(r.orig_qty), "p": dec(r.price), "P": dec(r.stop_price),
                "F": "0.00000000", "g": -1,
                "C": if x == "CANCELED" { r.cid.clone() } else { String::new() },
                "x": x, "X": r.status, "r": "NONE", "i": r.order_id,
                "l": l, "z": dec(r.executed), "L": big_l, "n": n, "N": big_n,
                "T": now, "t": t, "I": now, "w": r.is_open(), "m": m, "M": false,
                "O": r.time, "Z": dec(r.cum_quote), "Y": "0.00000000", "Q": "0.00000000",
                "W": r.time, "V": "EXPIRE_MAKER"
            }
        }),
        FakeProduct::Usdm => {
            let avg = if r.executed.is_zero() {
                rust_decimal::Decimal::ZERO
            } else {
                r.cum_quote / r.executed
            };
            json!({
                "e": "ORDER_TRADE_UPDATE", "E": now, "T": now,
                "o": {
                    "s": r.symbol, "c": r.cid, "S": side(r.side), "o": r.type_name,
                    "f": tif(r.tif), "q": dec(r.orig_qty), "p": dec(r.price),
                    "ap": dec(avg), "sp": dec(r.stop_price), "x": x, "X": r.status,
                    "i": r.order_id, "l": l, "z": dec(r.executed), "L": big_l,
                    "N": big_n.unwrap_or_else(|| "USDT".to_owned()), "n": n, "T": now,
                    "t": if t < 0 { 0 } else { t }, "b": "0", "a": "0", "m": m,
                    "R": r.reduce_only, "wt": "CONTRACT_PRICE", "ot": r.type_name,
                    "ps": "BOTH", "cp": false, "rp": "0", "pP": false, "si": 0, "ss": 0,
                    "V": "NONE", "pm": "NONE", "gtd": 0
                }
            })
        }
    }
}

/// An order as REST returns it (new order, query, cancel).
pub fn order_body(product: FakeProduct, r: &Record, fills: &[AccountTrade]) -> Value {
    let mut body = json!({
        "symbol": r.symbol, "orderId": r.order_id, "orderListId": -1,
        "clientOrderId": r.cid, "price": dec(r.price), "origQty": dec(r.orig_qty),
        "executedQty": dec(r.executed), "status": r.status, "timeInForce": tif(r.tif),
        "type": r.type_name, "side": side(r.side), "stopPrice": dec(r.stop_price),
        "time": r.time, "updateTime": r.update_time, "transactTime": r.update_time,
    });
    match product {
        FakeProduct::Spot => {
            body["cummulativeQuoteQty"] = json!(dec(r.cum_quote));
            body["fills"] = fills
                .iter()
                .map(|t| {
                    json!({"price": dec(t.price), "qty": dec(t.qty), "commission": dec(t.commission),
                           "commissionAsset": t.commission_asset, "tradeId": t.id})
                })
                .collect();
        }
        FakeProduct::Usdm => {
            body["cumQuote"] = json!(dec(r.cum_quote));
            body["reduceOnly"] = json!(r.reduce_only);
            body["positionSide"] = json!("BOTH");
            body["avgPrice"] = json!(dec(if r.executed.is_zero() {
                rust_decimal::Decimal::ZERO
            } else {
                r.cum_quote / r.executed
            }));
        }
    }
    body
}

/// A trade as `myTrades` / `userTrades` returns it.
pub fn trade_body(product: FakeProduct, t: &AccountTrade) -> Value {
    let mut body = json!({
        "symbol": t.symbol, "id": t.id, "orderId": t.order_id, "price": dec(t.price),
        "qty": dec(t.qty), "commission": dec(t.commission), "commissionAsset": t.commission_asset,
        "time": t.time,
    });
    match product {
        FakeProduct::Spot => {
            body["isMaker"] = json!(t.maker);
            body["isBuyer"] = json!(t.side == Side::Buy);
        }
        FakeProduct::Usdm => {
            body["maker"] = json!(t.maker);
            body["buyer"] = json!(t.side == Side::Buy);
            body["side"] = json!(side(t.side));
        }
    }
    body
}
