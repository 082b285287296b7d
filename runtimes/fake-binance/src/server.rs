//! The REST side: one dispatcher for every `/api/v3` and `/fapi` path, so weight, the API key,
//! the signature and the timestamp are checked the same way for all of them, as Binance does.

use crate::auth;
use crate::config::FakeProduct;
use crate::events::{order_body, trade_body};
use crate::orders::{self, Args};
use crate::state::{now_ms, NewOrder};
use crate::wire::{dec, ApiError};
use crate::Fake;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// How a path is secured.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Security {
    None,
    Key,
    Signed,
}

fn route(method: &Method, path: &str) -> Option<(Security, u64)> {
    let m = method.as_str();
    Some(match (m, path) {
        (_, "/api/v3/time" | "/fapi/v1/time" | "/api/v3/ping" | "/fapi/v1/ping") => {
            (Security::None, 1)
        }
        (_, "/api/v3/exchangeInfo" | "/fapi/v1/exchangeInfo") => (Security::None, 20),
        (_, "/api/v3/depth" | "/fapi/v1/depth") => (Security::None, 5),
        (_, "/fapi/v1/listenKey") => (Security::Key, 1),
        ("GET", "/api/v3/order" | "/fapi/v1/order" | "/fapi/v1/algoOrder") => (Security::Signed, 4),
        (
            _,
            "/api/v3/order"
            | "/fapi/v1/order"
            | "/fapi/v1/algoOrder"
            | "/api/v3/order/cancelReplace"
            | "/api/v3/orderList/oco"
            | "/api/v3/orderList/oto"
            | "/api/v3/orderList/otoco"
            | "/sapi/v1/asset/transfer",
        ) => (Security::Signed, 1),
        (_, "/api/v3/openOrders" | "/fapi/v1/openOrders") => (Security::Signed, 6),
        (_, "/api/v3/myTrades" | "/fapi/v1/userTrades") => (Security::Signed, 20),
        ("GET", "/fapi/v1/income" | "/fapi/v1/positionSide/dual") => (Security::Signed, 30),
        ("GET", "/fapi/v1/fundingRate") => (Security::None, 1),

        ("POST", "/fapi/v1/positionSide/dual" | "/fapi/v1/leverage" | "/fapi/v1/marginType") => {
            (Security::Signed, 1)
        }
        (
            _,
            "/api/v3/account"
            | "/fapi/v1/symbolConfig"
            | "/fapi/v3/balance"
            | "/fapi/v2/balance"
            | "/fapi/v3/positionRisk"
            | "/fapi/v2/positionRisk",
        ) => (Security::Signed, 5),
        _ => return None,
    })
}

/// Answers any REST request.
pub(crate) async fn dispatch(
    State(fake): State<Arc<Fake>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let Some((security, weight)) = route(&method, &path) else {
        return ApiError::new(404, -1000, format!("Unknown path {method} {path}.")).into_response();
    };
    let now = now_ms();
    let used = match fake.weights().admit(weight, now) {
        Ok(used) => used,
        Err(refused) => {
            let mut r = ApiError::new(
                refused.status,
                -1003,
                "Too much request weight used; current limit is exceeded. Please use WebSocket Streams for live updates to avoid polling the API.",
            )
            .into_response();
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(refused.retry_after));
            return r;
        }
    };
    let raw_query = uri.query().unwrap_or("").to_owned();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let mut params = auth::parse_query(&raw_query);
    params.extend(auth::parse_query(&body_text));
    let account = match security {
        Security::None => None,
        Security::Key | Security::Signed => {
            let key = headers.get("x-mbx-apikey").and_then(|v| v.to_str().ok());
            let Some(key) = key else {
                return with_weight(
                    ApiError::new(401, -2014, "API-key format invalid.").into_response(),
                    used,
                );
            };
            let found = fake.exchange().account_by_key(key);
            let Some(account) = found else {
                return with_weight(
                    ApiError::new(
                        401,
                        -2015,
                        "Invalid API-key, IP, or permissions for action.",
                    )
                    .into_response(),
                    used,
                );
            };
            if security == Security::Signed {
                let verify_key = fake.config.accounts[account].key.clone();
                if let Err(e) = auth::verify(&verify_key, &raw_query, &body_text)
                    .and_then(|()| auth::check_time(&params, now))
                {
                    return with_weight(e.into_response(), used);
                }
            }
            Some(account)
        }
    };
    let answer = handle(&fake, &method, &path, &Args(&params), account).await;
    with_weight(
        match answer {
            Ok(value) => Json(value).into_response(),
            Err(e) => e.into_response(),
        },
        used,
    )
}

fn with_weight(mut r: Response, used: u64) -> Response {
    r.headers_mut()
        .insert("x-mbx-used-weight-1m", HeaderValue::from(used));
    r
}

async fn handle(
    fake: &Arc<Fake>,
    method: &Method,
    path: &str,
    args: &Args<'_>,
    account: Option<usize>,
) -> Result<Value, ApiError> {
    let product = fake.config.product;
    let account = account.unwrap_or(usize::MAX);
    let m = method.as_str();
    match (m, path) {
        (_, "/api/v3/time" | "/fapi/v1/time") => Ok(json!({"serverTime": now_ms()})),
        (_, "/api/v3/ping" | "/fapi/v1/ping") | ("DELETE", "/fapi/v1/listenKey") => Ok(json!({})),
        (_, "/api/v3/exchangeInfo" | "/fapi/v1/exchangeInfo") => Ok(fake.exchange_info()),
        (_, "/api/v3/depth" | "/fapi/v1/depth") => {
            fake.depth(args.need("symbol")?, args.get("limit"))
        }
        ("GET", "/fapi/v1/income") => income(fake, account, args),
        ("POST", "/sapi/v1/asset/transfer") => {
            crate::transfers::transfer(fake, account, args).await
        }
        ("GET", "/sapi/v1/asset/transfer") => crate::transfers::history(fake, account, args),
        ("GET", "/fapi/v1/fundingRate") => Ok(crate::transfers::settled_rates(fake, args)),
        ("GET", "/fapi/v1/positionSide/dual") => {
            Ok(crate::futures_settings::dual(&fake.exchange(), account))
        }
        ("POST", "/fapi/v1/positionSide/dual") => {
            crate::futures_settings::set_dual(&mut fake.exchange(), account, args)
        }
        ("POST", "/fapi/v1/leverage") => {
            crate::futures_settings::set_leverage(&mut fake.exchange(), account, args)
        }
        ("POST", "/fapi/v1/marginType") => {
            crate::futures_settings::set_margin_type(&mut fake.exchange(), account, args)
        }
        ("GET", "/fapi/v1/symbolConfig") => Ok(crate::futures_settings::symbol_config(
            &fake.exchange(),
            account,
            args,
        )),
        ("POST", "/fapi/v1/listenKey") => Ok(json!({"listenKey": fake.listen_key(account)})),
        ("PUT", "/fapi/v1/listenKey") => fake.keepalive(account),
        ("POST", "/api/v3/order" | "/fapi/v1/order" | "/fapi/v1/algoOrder") => {
            new_order(fake, product, account, args, path.ends_with("algoOrder")).await
        }
        ("DELETE", "/api/v3/order" | "/fapi/v1/order" | "/fapi/v1/algoOrder") => {
            let algo = path.ends_with("algoOrder");
            let (cid, id) = order_ref(args, algo);
            let record = fake.exchange().cancel(account, cid, id)?;
            Ok(if algo {
                json!({"algoId": record.order_id, "clientAlgoId": record.cid, "code": "200", "msg": "success"})
            } else {
                order_body(product, &record, &[])
            })
        }
        ("GET", "/api/v3/order" | "/fapi/v1/order" | "/fapi/v1/algoOrder") => {
            let algo = path.ends_with("algoOrder");
            let (cid, id) = order_ref(args, algo);
            let ex = fake.exchange();
            let record = ex
                .find(account, cid, id)
                .ok_or_else(|| ApiError::new(400, -2013, "Order does not exist."))?;
            Ok(if algo {
                json!({"algoId": record.order_id, "clientAlgoId": record.cid, "algoStatus": record.status,
                       "symbol": record.symbol, "createTime": record.time})
            } else {
                order_body(product, record, &[])
            })
        }
        ("PUT", "/fapi/v1/order") => {
            let qty = orders::quantity(args, "quantity")?;
            let price = args.need_decimal("price")?;
            let id = args.get("orderId").and_then(|v| v.parse().ok());
            let record =
                fake.exchange()
                    .amend(account, args.get("origClientOrderId"), id, qty, price)?;
            Ok(order_body(product, &record, &[]))
        }
        ("POST", "/api/v3/order/cancelReplace") => cancel_replace(fake, account, args).await,
        ("POST", "/api/v3/orderList/oco" | "/api/v3/orderList/oto" | "/api/v3/orderList/otoco") => {
            crate::order_lists::place_list(fake, account, path, args)
        }
        ("GET", "/api/v3/openOrders" | "/fapi/v1/openOrders") => {
            let ex = fake.exchange();
            let symbol = args.get("symbol");
            Ok(ex
                .records
                .values()
                .filter(|r| r.account == account && r.is_open() && !r.algo)
                .filter(|r| symbol.is_none_or(|s| s == r.symbol))
                .map(|r| order_body(product, r, &[]))
                .collect())
        }
        ("GET", "/api/v3/myTrades" | "/fapi/v1/userTrades") => {
            let ex = fake.exchange();
            let symbol = args.need("symbol")?.to_owned();
            let order_id: Option<i64> = args.get("orderId").and_then(|v| v.parse().ok());
            Ok(ex
                .trades
                .iter()
                .filter(|t| t.account == account && t.symbol == symbol)
                .filter(|t| order_id.is_none_or(|id| id == t.order_id))
                .map(|t| trade_body(product, t))
                .collect())
        }
        ("GET", "/api/v3/account") => Ok(fake.spot_account(account)),
        ("GET", "/fapi/v3/balance" | "/fapi/v2/balance") => Ok(fake.futures_balance(account)),
        ("GET", "/fapi/v3/positionRisk" | "/fapi/v2/positionRisk") => {
            Ok(fake.position_risk(account))
        }
        _ => Err(ApiError::new(
            400,
            -1000,
            format!("{m} {path} is not supported by the fake."),
        )),
    }
}

/// Which order a cancel or query names: its client id, or Binance's id.
fn order_ref<'a>(args: &'a Args<'_>, algo: bool) -> (Option<&'a str>, Option<i64>) {
    let (cid, id) = if algo {
        ("clientAlgoId", "algoId")
    } else {
        ("origClientOrderId", "orderId")
    };
    (args.get(cid), args.get(id).and_then(|v| v.parse().ok()))
}

async fn new_order(
    fake: &Arc<Fake>,
    product: FakeProduct,
    account: usize,
    args: &Args<'_>,
    algo: bool,
) -> Result<Value, ApiError> {
    let symbol = args.need("symbol")?.to_owned();
    if product == FakeProduct::Usdm
        && fake.exchange().hedge_mode(account)
        && args.get("positionSide").is_none_or(|s| s == "BOTH")
    {
        return Err(ApiError::new(
            400,
            -4061,
            "Order's position side does not match user's setting.",
        ));
    }
    let side = orders::side(args)?;
    let (kind, tif) = orders::parse(product, algo, args)?;
    let close_position = args.flag("closePosition");
    let qty = if close_position && args.get("quantity").is_none() {
        fake.exchange().close_position_qty(account, &symbol, side)
    } else {
        orders::quantity(args, "quantity")?
    };
    let cid = args.get(if algo {
        "clientAlgoId"
    } else {
        "newClientOrderId"
    });
    let fault = fake.take_order_fault();
    let order = NewOrder {
        symbol: &symbol,
        side,
        qty,
        kind,
        tif,
        reduce_only: args.flag("reduceOnly"),
        close_position,
        cid,
        type_name: args.need("type")?,
        algo,
    };
    let placed = fake.exchange().place(account, &order);
    let (record, fills) = placed?;
    match fault {
        Some(crate::faults::OrderFault::Unknown5xx) => {
            return Err(ApiError::new(
                503,
                -1007,
                "Timeout waiting for response from backend server. Send status unknown; execution status unknown.",
            ))
        }
        Some(crate::faults::OrderFault::LoseResponse(delay)) => {
            tokio::time::sleep(delay).await;
        }
        Some(crate::faults::OrderFault::Swallowed(_)) | None => {}
    }
    Ok(if algo {
        json!({"algoId": record.order_id, "clientAlgoId": record.cid, "algoType": "CONDITIONAL",
               "orderType": record.type_name, "symbol": record.symbol, "algoStatus": "NEW",
               "triggerPrice": dec(record.stop_price), "createTime": record.time})
    } else {
        order_body(product, &record, &fills)
    })
}

async fn cancel_replace(
    fake: &Arc<Fake>,
    account: usize,
    args: &Args<'_>,
) -> Result<Value, ApiError> {
    let stop_on_failure = args.need("cancelReplaceMode")? == "STOP_ON_FAILURE";
    let cancel = fake.exchange().cancel(
        account,
        args.get("cancelOrigClientOrderId"),
        args.get("cancelOrderId").and_then(|v| v.parse().ok()),
    );
    let cancel = match cancel {
        Ok(r) => r,
        Err(e) if stop_on_failure => {
            return Err(ApiError {
                status: 400,
                code: -2022,
                msg: format!(
                    "Order cancel-replace failed. (cancel: {} {})",
                    e.code, e.msg
                ),
            })
        }
        Err(_) => {
            let placed = new_order(fake, FakeProduct::Spot, account, args, false).await?;
            return Err(ApiError::new(
                409,
                -2021,
                format!(
                    "Order cancel-replace partially failed. (new order {})",
                    placed["orderId"]
                ),
            ));
        }
    };
    let placed = new_order(fake, FakeProduct::Spot, account, args, false).await?;
    Ok(json!({
        "cancelResult": "SUCCESS",
        "newOrderResult": "SUCCESS",
        "cancelResponse": order_body(FakeProduct::Spot, &cancel, &[]),
        "newOrderResponse": placed,
    }))
}

/// `GET /fapi/v1/income`: the account's entries in `[startTime, endTime]` (the last 7 days
/// when neither is given), oldest first, at most `limit` (default 100, cap 1000).
fn income(fake: &Fake, account: usize, args: &Args<'_>) -> Result<Value, ApiError> {
    let number = |key: &str| -> Result<Option<i64>, ApiError> {
        args.get(key)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::new(
                        400,
                        -1100,
                        format!("Illegal characters found in parameter '{key}'."),
                    )
                })
            })
            .transpose()
    };
    let (start, end) = (number("startTime")?, number("endTime")?);
    let limit = number("limit")?.unwrap_or(100).clamp(1, 1000);
    let end = end.unwrap_or(i64::MAX);
    let start = start.unwrap_or_else(|| now_ms() - 7 * 86_400_000);
    let ex = fake.exchange();
    Ok(Value::Array(
        ex.income
            .iter()
            .filter(|i| i.account == account && (start..=end).contains(&i.time))
            .filter(|i| args.get("symbol").is_none_or(|s| s == i.symbol))
            .filter(|i| args.get("incomeType").is_none_or(|t| t == i.income_type))
            .take(usize::try_from(limit).unwrap_or(100))
            .map(crate::funding::Income::to_json)
            .collect(),
    ))
}
