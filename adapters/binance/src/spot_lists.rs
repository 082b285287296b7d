//! Spot one-triggers-the-other lists: OTO (`POST /api/v3/orderList/oto`: a working limit order
//! and one pending order) and OTOCO (`POST /api/v3/orderList/otoco`: a working limit order and
//! a pending OCO pair). Each leg is written as a single order would be, its parameters renamed
//! under the leg's prefix (`workingPrice`, `pendingStopPrice`, `pendingAboveType`, ...); the
//! pending pair's side and quantity are the list's `pendingSide` / `pendingQuantity`. Sent
//! once, settled like any placement; pending orders are reported when Binance places them.

use crate::codec::rest::OrderListBody;
use crate::connector::BinanceVenue;
use crate::orders::{self, num};
use crate::paths;
use crate::rest::{Cost, Method};
use crate::sign::Params;
use crate::updates::body_updates;
use chimera_kernel::order::{Contingency, OrderIntent, OrderKind, OrderListRequest, Side};
use chimera_ports::PortResult;

/// The names a leg's fields take under its prefix.
struct Names {
    kind: &'static str,
    price: &'static str,
    stop_price: &'static str,
    time_in_force: &'static str,
    client_id: &'static str,
    trailing: &'static str,
    side_qty: Option<(&'static str, &'static str)>,
}

const WORKING: Names = Names {
    kind: "workingType",
    price: "workingPrice",
    stop_price: "workingStopPrice",
    time_in_force: "workingTimeInForce",
    client_id: "workingClientOrderId",
    trailing: "workingTrailingDelta",
    side_qty: Some(("workingSide", "workingQuantity")),
};
const PENDING: Names = Names {
    kind: "pendingType",
    price: "pendingPrice",
    stop_price: "pendingStopPrice",
    time_in_force: "pendingTimeInForce",
    client_id: "pendingClientOrderId",
    trailing: "pendingTrailingDelta",
    side_qty: Some(("pendingSide", "pendingQuantity")),
};
const ABOVE: Names = Names {
    kind: "pendingAboveType",
    price: "pendingAbovePrice",
    stop_price: "pendingAboveStopPrice",
    time_in_force: "pendingAboveTimeInForce",
    client_id: "pendingAboveClientOrderId",
    trailing: "pendingAboveTrailingDelta",
    side_qty: None,
};
const BELOW: Names = Names {
    kind: "pendingBelowType",
    price: "pendingBelowPrice",
    stop_price: "pendingBelowStopPrice",
    time_in_force: "pendingBelowTimeInForce",
    client_id: "pendingBelowClientOrderId",
    trailing: "pendingBelowTrailingDelta",
    side_qty: None,
};

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

/// Adds `leg` under `names`; an OCO's limit leg goes as `LIMIT_MAKER` (what Binance takes in
/// a pair), without a time in force.
fn with_leg(p: Params, names: &Names, leg: &OrderIntent, limit_maker: bool) -> Params {
    let own = orders::spot(leg);
    let kind = if limit_maker {
        "LIMIT_MAKER"
    } else {
        own.get("type").unwrap_or("LIMIT")
    };
    let mut p = p
        .with(names.kind, kind)
        .with_opt(names.price, own.get("price"))
        .with_opt(names.stop_price, own.get("stopPrice"))
        .with_opt(
            names.time_in_force,
            own.get("timeInForce").filter(|_| !limit_maker),
        )
        .with(names.client_id, leg.client_order_id.as_str())
        .with_opt(names.trailing, own.get("trailingDelta"));
    if let Some((side, qty)) = names.side_qty {
        p = p
            .with(side, side_name(leg.side))
            .with(qty, num(leg.qty.get()));
    }
    p
}

/// Why the list cannot be sent as it is, if it cannot.
fn shape(list: &OrderListRequest) -> Result<(), &'static str> {
    let working = list.orders.first().ok_or("an empty list")?;
    if !matches!(working.kind, OrderKind::Limit { .. }) {
        return Err("the working order of an OTO/OTOCO is a limit order");
    }
    match (list.contingency, list.orders.as_slice()) {
        (Contingency::Oto, [_, _]) => Ok(()),
        (Contingency::Otoco, [_, a, b])
            if a.side == b.side
                && a.qty == b.qty
                && a.kind.is_contingent() != b.kind.is_contingent() =>
        {
            Ok(())
        }
        (Contingency::Otoco, _) => {
            Err("an OTOCO's pending pair is a limit leg and a stop leg of one side and quantity")
        }
        _ => Err("an OTO is a working order and one pending order"),
    }
}

impl BinanceVenue {
    pub(crate) async fn spot_one_triggers(&self, list: &OrderListRequest) -> PortResult<()> {
        let refuse = |message: &str| self.refuse_list(list, message);
        if let Err(why) = shape(list) {
            refuse(why);
            return Ok(());
        }
        let Some(account) = self.account(&list.portfolio_id) else {
            refuse("no Binance account is configured for this portfolio");
            return Ok(());
        };
        {
            let mut tracker = self.inner.lock_tracker();
            if tracker.knows(&list.orders[0].client_order_id) {
                return Ok(());
            }
            for leg in &list.orders {
                tracker.insert(leg, false);
            }
        }
        let base = Params::new()
            .with("symbol", list.symbol.as_str())
            .with("listClientOrderId", list.list_id.as_str());
        let p = with_leg(base, &WORKING, &list.orders[0], false);
        let (p, path) = match list.orders.as_slice() {
            [_, pending] => (with_leg(p, &PENDING, pending, false), paths::SPOT_OTO),
            [_, a, b] => {
                let (limit, stop) = if a.kind.is_contingent() {
                    (b, a)
                } else {
                    (a, b)
                };
                // A SELL pair takes profit above and stops below; a BUY pair the other way.
                let (above, below) = match limit.side {
                    Side::Sell => (limit, stop),
                    Side::Buy => (stop, limit),
                };
                let p = p
                    .with("pendingSide", side_name(limit.side))
                    .with("pendingQuantity", num(limit.qty.get()));
                let p = with_leg(p, &ABOVE, above, std::ptr::eq(above, limit));
                (
                    with_leg(p, &BELOW, below, std::ptr::eq(below, limit)),
                    paths::SPOT_OTOCO,
                )
            }
            _ => return Ok(()),
        };
        let p = p.with("newOrderRespType", "FULL");
        let ids: Vec<_> = list.orders.iter().map(|o| &o.client_order_id).collect();
        let sent_at = self.inner.rest.server_now();
        let sent = self
            .inner
            .send::<OrderListBody>(&account, Method::Post, path, p, Cost::order(1))
            .await;
        self.inner
            .settle(&ids, sent_at, sent, |body| {
                for order in &body.order_reports {
                    self.inner.apply(&body_updates(order));
                }
            })
            .map_err(Into::into)
    }
}
