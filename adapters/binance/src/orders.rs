//! Kernel orders as Binance request parameters, per product.
//!
//! | kernel | spot `type` | USDⓈ-M |
//! |---|---|---|
//! | market | `MARKET` | `MARKET` |
//! | limit | `LIMIT` (`LIMIT_MAKER` when post-only or GTX) | `LIMIT` (`GTX` when post-only) |
//! | stop market / limit | `STOP_LOSS` / `STOP_LOSS_LIMIT` | algo `STOP_MARKET` / `STOP` |
//! | take-profit market / limit | `TAKE_PROFIT` / `TAKE_PROFIT_LIMIT` | algo `TAKE_PROFIT_MARKET` / `TAKE_PROFIT` |
//! | trailing stop | `STOP_LOSS` with `trailingDelta` (bips) | algo `TRAILING_STOP_MARKET` with `callbackRate` (%) |
//!
//! USDⓈ-M conditional orders go to the algo-order endpoint (`POST /fapi/v1/algoOrder`) since
//! Binance stopped taking them on `/fapi/v1/order` (`-4120`). Spot has no reduce-only flag: a
//! reducing spot order is a plain sell (or buy) of what is held.

use crate::config::Product;
use crate::sign::Params;
use chimera_kernel::order::{OrderIntent, OrderKind, Side, TimeInForce, TriggerSource};
use rust_decimal::Decimal;

/// Where an order is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/v3/order` or `POST /fapi/v1/order`.
    Order,
    /// `POST /fapi/v1/algoOrder`.
    Algo,
}

/// A decimal as Binance takes it (no exponent, no trailing zeros).
pub fn num(d: Decimal) -> String {
    d.normalize().to_string()
}

fn side(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn tif(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
        TimeInForce::Gtx => "GTX",
    }
}

/// The parameters placing `intent` on `product`, and where to send them.
///
/// # Errors
/// A text naming what the product cannot do (the order is refused as `InvalidOrder`).
pub fn new_order(product: Product, intent: &OrderIntent) -> Result<(Endpoint, Params), String> {
    match product {
        Product::Spot => Ok((Endpoint::Order, spot(intent))),
        Product::Usdm => usdm(intent),
    }
}

/// A spot order's parameters (also the source of an order-list leg's).
pub(crate) fn spot(i: &OrderIntent) -> Params {
    let base = Params::new()
        .with("symbol", i.symbol.as_str())
        .with("side", side(i.side));
    let with_qty = |p: Params| p.with("quantity", num(i.qty.get()));
    let p = match i.kind {
        OrderKind::Market => with_qty(base.with("type", "MARKET")),
        OrderKind::Limit { price, post_only }
            if post_only || i.time_in_force == TimeInForce::Gtx =>
        {
            with_qty(base.with("type", "LIMIT_MAKER")).with("price", num(price.get()))
        }
        OrderKind::Limit { price, .. } => with_qty(base.with("type", "LIMIT"))
            .with("timeInForce", tif(i.time_in_force))
            .with("price", num(price.get())),
        OrderKind::StopMarket { stop_price, .. } => {
            with_qty(base.with("type", "STOP_LOSS")).with("stopPrice", num(stop_price.get()))
        }
        OrderKind::StopLimit {
            stop_price, price, ..
        } => with_qty(base.with("type", "STOP_LOSS_LIMIT"))
            .with("timeInForce", tif(i.time_in_force))
            .with("price", num(price.get()))
            .with("stopPrice", num(stop_price.get())),
        OrderKind::TakeProfitMarket { stop_price, .. } => {
            with_qty(base.with("type", "TAKE_PROFIT")).with("stopPrice", num(stop_price.get()))
        }
        OrderKind::TakeProfitLimit {
            stop_price, price, ..
        } => with_qty(base.with("type", "TAKE_PROFIT_LIMIT"))
            .with("timeInForce", tif(i.time_in_force))
            .with("price", num(price.get()))
            .with("stopPrice", num(stop_price.get())),
        OrderKind::TrailingStop {
            delta_bips,
            activation,
            price,
            ..
        } => {
            let p = match price {
                Some(limit) => with_qty(base.with("type", "STOP_LOSS_LIMIT"))
                    .with("timeInForce", tif(i.time_in_force))
                    .with("price", num(limit.get())),
                None => with_qty(base.with("type", "STOP_LOSS")),
            };
            p.with("trailingDelta", delta_bips)
                .with_opt("stopPrice", activation.map(|a| num(a.get())))
        }
    };
    p.with("newClientOrderId", i.client_order_id.as_str())
        .with("newOrderRespType", "FULL")
}

fn working_type(t: TriggerSource) -> &'static str {
    match t {
        TriggerSource::Last => "CONTRACT_PRICE",
        TriggerSource::Mark => "MARK_PRICE",
    }
}

fn usdm(i: &OrderIntent) -> Result<(Endpoint, Params), String> {
    let base = Params::new()
        .with("symbol", i.symbol.as_str())
        .with("side", side(i.side));
    let reduce = |p: Params| {
        if i.reduce_only || i.close_position {
            p.with("reduceOnly", "true")
        } else {
            p
        }
    };
    let qty = num(i.qty.get());
    match i.kind {
        OrderKind::Market => Ok((
            Endpoint::Order,
            reduce(base.with("type", "MARKET").with("quantity", qty))
                .with("newClientOrderId", i.client_order_id.as_str())
                .with("newOrderRespType", "RESULT"),
        )),
        OrderKind::Limit { price, post_only } => {
            let tif = if post_only {
                "GTX"
            } else {
                tif(i.time_in_force)
            };
            Ok((
                Endpoint::Order,
                reduce(
                    base.with("type", "LIMIT")
                        .with("timeInForce", tif)
                        .with("quantity", qty)
                        .with("price", num(price.get())),
                )
                .with("newClientOrderId", i.client_order_id.as_str())
                .with("newOrderRespType", "RESULT"),
            ))
        }
        kind => {
            let (name, trigger, limit) = match kind {
                OrderKind::StopMarket {
                    stop_price,
                    trigger,
                } => ("STOP_MARKET", Some((stop_price, trigger)), None),
                OrderKind::StopLimit {
                    stop_price,
                    price,
                    trigger,
                } => ("STOP", Some((stop_price, trigger)), Some(price)),
                OrderKind::TakeProfitMarket {
                    stop_price,
                    trigger,
                } => ("TAKE_PROFIT_MARKET", Some((stop_price, trigger)), None),
                OrderKind::TakeProfitLimit {
                    stop_price,
                    price,
                    trigger,
                } => ("TAKE_PROFIT", Some((stop_price, trigger)), Some(price)),
                OrderKind::TrailingStop { price: Some(_), .. } => {
                    return Err("USDⓈ-M trailing stops are market orders (no limit price)".into())
                }
                _ => ("TRAILING_STOP_MARKET", None, None),
            };
            let mut p = base.with("algoType", "CONDITIONAL").with("type", name);
            let closes = i.close_position && matches!(name, "STOP_MARKET" | "TAKE_PROFIT_MARKET");
            p = if closes {
                p.with("closePosition", "true")
            } else {
                reduce(p.with("quantity", qty))
            };
            if let Some((stop, source)) = trigger {
                p = p
                    .with("triggerPrice", num(stop.get()))
                    .with("workingType", working_type(source));
            }
            if let Some(limit) = limit {
                p = p
                    .with("price", num(limit.get()))
                    .with("timeInForce", tif(i.time_in_force));
            }
            if let OrderKind::TrailingStop {
                delta_bips,
                activation,
                trigger,
                ..
            } = kind
            {
                // callbackRate is a percentage with one decimal, 0.1 ..= 10.
                let rate = Decimal::from(delta_bips) / Decimal::from(100);
                if rate < Decimal::new(1, 1) || rate > Decimal::from(10) {
                    return Err(format!(
                        "USDⓈ-M trailing stops trail by 10 to 1000 bips, not {delta_bips}"
                    ));
                }
                p = p
                    .with("callbackRate", num(rate.round_dp(1)))
                    .with("workingType", working_type(trigger))
                    .with_opt("activatePrice", activation.map(|a| num(a.get())));
            }
            Ok((
                Endpoint::Algo,
                p.with("clientAlgoId", i.client_order_id.as_str()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chimera_kernel::ids::{ClientOrderId, IntentId, PortfolioId, Symbol};
    use chimera_kernel::testing::{px, qty};
    use chimera_kernel::time::Timestamp;

    fn intent(kind: OrderKind) -> OrderIntent {
        let intent_id = IntentId::for_portfolio(&PortfolioId::new("p"), 1);
        OrderIntent {
            client_order_id: ClientOrderId::for_intent(&intent_id),
            intent_id,
            portfolio_id: PortfolioId::new("p"),
            symbol: Symbol::new("BTCUSDT"),
            side: Side::Sell,
            qty: qty(Decimal::new(1500, 3)),
            kind,
            time_in_force: TimeInForce::Gtc,
            reduce_only: true,
            close_position: false,
            created_at: Timestamp(0),
            tag: "".into(),
        }
    }

    #[test]
    fn a_post_only_limit_is_limit_maker_on_spot_and_gtx_on_futures() {
        let i = intent(OrderKind::Limit {
            price: px(Decimal::new(4_000_010, 2)),
            post_only: true,
        });
        let (_, spot) = new_order(Product::Spot, &i).expect("spot");
        assert!(spot.query().starts_with(
            "symbol=BTCUSDT&side=SELL&type=LIMIT_MAKER&quantity=1.5&price=40000.1&newClientOrderId="
        ), "{}", spot.query());
        assert!(spot.get("reduceOnly").is_none(), "spot has no reduce-only");
        let (at, fut) = new_order(Product::Usdm, &i).expect("futures");
        assert_eq!(at, Endpoint::Order);
        assert_eq!(fut.get("timeInForce"), Some("GTX"));
        assert_eq!(fut.get("reduceOnly"), Some("true"));
    }

    #[test]
    fn futures_stops_go_to_the_algo_endpoint() {
        let mut i = intent(OrderKind::StopMarket {
            stop_price: px(Decimal::from(39_000)),
            trigger: TriggerSource::Mark,
        });
        i.close_position = true;
        let (at, p) = new_order(Product::Usdm, &i).expect("futures");
        assert_eq!(at, Endpoint::Algo);
        assert_eq!(p.get("algoType"), Some("CONDITIONAL"));
        assert_eq!(p.get("type"), Some("STOP_MARKET"));
        assert_eq!(p.get("closePosition"), Some("true"));
        assert_eq!(p.get("quantity"), None, "closePosition sends no quantity");
        assert_eq!(p.get("workingType"), Some("MARK_PRICE"));
        assert_eq!(p.get("clientAlgoId"), Some(i.client_order_id.as_str()));
    }
}
