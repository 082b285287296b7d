//! Spot's own trading requests: native cancel-replace (`POST /api/v3/order/cancelReplace`)
//! and OCO order lists (`POST /api/v3/orderList/oco`; OTO and OTOCO are in `spot_lists`), each
//! sent once per replacement or list
//! and settled like any placement (refused → `Rejected` for the new legs; unknown outcome →
//! looked up).

use crate::codec::rest::{CancelReplaceBody, OrderListBody};
use crate::config::Product;
use crate::connector::BinanceVenue;
use crate::orders::{self, num};
use crate::paths;
use crate::rest::{Cost, Method};
use crate::sign::Params;
use crate::updates::body_updates;
use crate::venue::{price_param, Sent};
use chimera_kernel::event::RejectReason;
use chimera_kernel::order::{CancelReplaceRequest, OrderKind, OrderListRequest, ReplaceMode, Side};
use chimera_ports::PortResult;

impl BinanceVenue {
    pub(crate) async fn spot_cancel_replace(
        &self,
        request: &CancelReplaceRequest,
    ) -> PortResult<()> {
        let replacement = &request.replacement;
        let Some(account) = self.account(&replacement.portfolio_id) else {
            return self.inner.place(replacement).await.map_err(Into::into);
        };
        let Ok((_, order)) = orders::new_order(Product::Spot, replacement) else {
            return self.inner.place(replacement).await.map_err(Into::into);
        };
        {
            let mut tracker = self.inner.lock_tracker();
            if tracker.knows(&replacement.client_order_id) {
                return Ok(());
            }
            tracker.insert(replacement, false);
        }
        let mode = match request.mode {
            ReplaceMode::StopOnFailure => "STOP_ON_FAILURE",
            ReplaceMode::AllowFailure => "ALLOW_FAILURE",
        };
        let params = order.with("cancelReplaceMode", mode).with(
            "cancelOrigClientOrderId",
            request.cancel.client_order_id.as_str(),
        );
        let sent_at = self.inner.rest.server_now();
        let sent = self
            .inner
            .send::<CancelReplaceBody>(
                &account,
                Method::Post,
                paths::SPOT_CANCEL_REPLACE,
                params,
                Cost::order(1),
            )
            .await;
        if let Ok(Sent::Refused(-2021, msg)) = &sent {
            // "Order cancel-replace partially failed": one half went through, the answer does
            // not say which in a form worth trusting. The new order is looked up; the user
            // stream reports the cancel if it happened.
            tracing::info!(%msg, id = %replacement.client_order_id, "cancel-replace partly failed: looking the new order up");
            self.inner
                .lock_tracker()
                .set_unresolved(&replacement.client_order_id, Some(sent_at));
            return Ok(());
        }
        self.inner
            .settle(&[&replacement.client_order_id], sent_at, sent, |both| {
                self.inner.apply(&body_updates(&both.cancel_response));
                self.inner.apply(&body_updates(&both.new_order_response));
            })
            .map_err(Into::into)
    }

    /// Refuses every leg of `list` as an invalid order, saying why (nothing is sent).
    pub(crate) fn refuse_list(&self, list: &OrderListRequest, message: &str) {
        for leg in &list.orders {
            self.inner.emit({
                let mut tracker = self.inner.lock_tracker();
                tracker.insert(leg, false);
                tracker.rejected(
                    &leg.client_order_id,
                    RejectReason::InvalidOrder,
                    message.to_owned(),
                    self.inner.rest.server_now(),
                )
            });
        }
    }

    pub(crate) async fn spot_oco(&self, list: &OrderListRequest) -> PortResult<()> {
        let refuse = |message: &str| self.refuse_list(list, message);
        let (limit, stop) = match list.orders.as_slice() {
            [a, b] if matches!(a.kind, OrderKind::Limit { .. }) && b.kind.is_contingent() => (a, b),
            [a, b] if matches!(b.kind, OrderKind::Limit { .. }) && a.kind.is_contingent() => (b, a),
            _ => {
                refuse("an OCO is a limit leg and a stop leg");
                return Ok(());
            }
        };
        let Some(account) = self.account(&list.portfolio_id) else {
            refuse("no Binance account is configured for this portfolio");
            return Ok(());
        };
        {
            let mut tracker = self.inner.lock_tracker();
            if tracker.knows(&limit.client_order_id) {
                return Ok(());
            }
            tracker.insert(limit, false);
            tracker.insert(stop, false);
        }
        let (above, below) = match limit.side {
            Side::Sell => ("above", "below"),
            Side::Buy => ("below", "above"),
        };
        let stop_type = if stop.kind.limit_price().is_some() {
            "STOP_LOSS_LIMIT"
        } else {
            "STOP_LOSS"
        };
        let mut p = Params::new()
            .with("symbol", list.symbol.as_str())
            .with(
                "side",
                if limit.side == Side::Buy {
                    "BUY"
                } else {
                    "SELL"
                },
            )
            .with("quantity", num(limit.qty.get()))
            .with("listClientOrderId", list.list_id.as_str());
        let key = |side: &str, field: &str| -> &'static str {
            match (side, field) {
                ("above", "Type") => "aboveType",
                ("above", "Price") => "abovePrice",
                ("above", "StopPrice") => "aboveStopPrice",
                ("above", "ClientOrderId") => "aboveClientOrderId",
                ("above", "TimeInForce") => "aboveTimeInForce",
                ("below", "Type") => "belowType",
                ("below", "Price") => "belowPrice",
                ("below", "StopPrice") => "belowStopPrice",
                ("below", "ClientOrderId") => "belowClientOrderId",
                _ => "belowTimeInForce",
            }
        };
        p = p
            .with(key(above, "Type"), "LIMIT_MAKER")
            .with_opt(key(above, "Price"), price_param(limit.kind.limit_price()))
            .with(key(above, "ClientOrderId"), limit.client_order_id.as_str())
            .with(key(below, "Type"), stop_type)
            .with_opt(key(below, "StopPrice"), price_param(stop.kind.stop_price()))
            .with_opt(key(below, "Price"), price_param(stop.kind.limit_price()))
            .with(key(below, "ClientOrderId"), stop.client_order_id.as_str());
        if stop.kind.limit_price().is_some() {
            p = p.with(key(below, "TimeInForce"), "GTC");
        }
        let p = p.with("newOrderRespType", "FULL");
        let sent_at = self.inner.rest.server_now();
        let sent = self
            .inner
            .send::<OrderListBody>(&account, Method::Post, paths::SPOT_OCO, p, Cost::order(1))
            .await;
        self.inner
            .settle(
                &[&limit.client_order_id, &stop.client_order_id],
                sent_at,
                sent,
                |body| {
                    for order in &body.order_reports {
                        self.inner.apply(&body_updates(order));
                    }
                },
            )
            .map_err(Into::into)
    }
}
