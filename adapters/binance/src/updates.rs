//! REST answers as [`OrderUpdate`]s, the one shape the [`crate::tracker::Tracker`] takes:
//! an order's trades (from a spot `FULL` answer, or queried after a gap), each with the status
//! it left the order in, then the order's own status.

use crate::codec::rest::OrderBody;
use crate::codec::user::{OrderUpdate, TradeUpdate};
use crate::rest::local_ms;

/// A REST order body as updates: its `FULL` fills, then its status.
pub fn body_updates(order: &OrderBody) -> Vec<OrderUpdate> {
    let time = order_time(order);
    let fills = order.fills.iter().map(|f| {
        let trade = TradeUpdate {
            id: f.trade_id,
            qty: f.qty,
            price: f.price,
            fee: f.commission,
            fee_asset: f.commission_asset.clone(),
            maker: false,
        };
        (trade, time)
    });
    order_updates(order, fills)
}

/// `trades` of `order` (with their times), each with the status it left the order in, then
/// the order's status.
pub fn order_updates(
    order: &OrderBody,
    trades: impl IntoIterator<Item = (TradeUpdate, i64)>,
) -> Vec<OrderUpdate> {
    let base = OrderUpdate {
        symbol: order.symbol.clone(),
        client_order_id: order
            .orig_client_order_id
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| order.client_order_id.clone()),
        order_id: order.order_id,
        exec_type: String::new(),
        status: order.status.clone(),
        side: order.side.clone().unwrap_or_default(),
        price: order.price.unwrap_or_default(),
        qty: order.orig_qty.unwrap_or_default(),
        trade: None,
        cum_qty: order.executed_qty.unwrap_or_default(),
        reject_reason: String::new(),
        time: order_time(order),
    };
    let mut cum = rust_decimal::Decimal::ZERO;
    let mut out: Vec<OrderUpdate> = trades
        .into_iter()
        .map(|(trade, time)| {
            cum += trade.qty;
            let status = if Some(cum) >= order.orig_qty {
                "FILLED"
            } else {
                "PARTIALLY_FILLED"
            };
            OrderUpdate {
                exec_type: "TRADE".to_owned(),
                status: status.to_owned(),
                trade: Some(trade),
                cum_qty: cum,
                time,
                ..base.clone()
            }
        })
        .collect();
    out.push(base);
    out
}

fn order_time(order: &OrderBody) -> i64 {
    order
        .transact_time
        .or(order.update_time)
        .or(order.time)
        .unwrap_or_else(local_ms)
}

impl OrderUpdate {
    /// An update that only says `status` (an algo order placed, canceled), without a trade.
    pub fn status_only(
        symbol: String,
        client_order_id: String,
        order_id: i64,
        status: &str,
        time: i64,
    ) -> Self {
        Self {
            symbol,
            client_order_id,
            order_id,
            exec_type: String::new(),
            status: status.to_owned(),
            side: String::new(),
            price: rust_decimal::Decimal::ZERO,
            qty: rust_decimal::Decimal::ZERO,
            trade: None,
            cum_qty: rust_decimal::Decimal::ZERO,
            reject_reason: String::new(),
            time,
        }
    }
}
