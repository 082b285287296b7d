//! Request parameters → a simulated-venue order, with Binance's parameter errors.

use crate::config::FakeProduct;
use crate::wire::ApiError;
use chimera_kernel::order::{OrderKind, Side, TimeInForce, TrailingKind, TriggerSource};
use chimera_kernel::value::{Price, Quantity};
use rust_decimal::Decimal;

/// Binance's answer to a missing mandatory parameter.
pub(crate) fn missing(key: &str) -> ApiError {
    ApiError::new(
        400,
        -1102,
        format!("Mandatory parameter '{key}' was not sent, was empty/null, or malformed."),
    )
}

/// The parameters of one request, decoded.
pub struct Args<'a>(pub &'a [(String, String)]);

impl Args<'_> {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A mandatory value.
    ///
    /// # Errors
    /// `-1102` when absent.
    pub fn need(&self, key: &str) -> Result<&str, ApiError> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing(key))
    }

    /// A decimal value.
    ///
    /// # Errors
    /// `-1100` when not a number.
    pub fn decimal(&self, key: &str) -> Result<Option<Decimal>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<Decimal>().map_err(|_| {
                    ApiError::new(400, -1100, format!("Illegal characters found in parameter '{key}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'."))
                })
            })
            .transpose()
    }

    /// A mandatory decimal value.
    ///
    /// # Errors
    /// `-1102` absent, `-1100` malformed.
    pub fn need_decimal(&self, key: &str) -> Result<Decimal, ApiError> {
        self.need(key)?;
        self.decimal(key)?.ok_or_else(|| missing(key))
    }

    /// `"true"` → true.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

fn price(d: Decimal, key: &str) -> Result<Price, ApiError> {
    Price::new(d).map_err(|_| ApiError::new(400, -1013, format!("Invalid {key}.")))
}

/// The side parameter.
///
/// # Errors
/// `-1102` / `-1117`.
pub fn side(args: &Args<'_>) -> Result<Side, ApiError> {
    match args.need("side")? {
        "BUY" => Ok(Side::Buy),
        "SELL" => Ok(Side::Sell),
        _ => Err(ApiError::new(400, -1117, "Invalid side.")),
    }
}

/// Quantity (zero allowed by the sim's lot check, which answers LOT_SIZE).
///
/// # Errors
/// `-1102`, `-1100`, `-4003` for negative.
pub fn quantity(args: &Args<'_>, key: &str) -> Result<Quantity, ApiError> {
    let q = args.need_decimal(key)?;
    Quantity::new(q).map_err(|_| ApiError::new(400, -4003, "Quantity less than or equal to zero."))
}

fn tif(args: &Args<'_>) -> Result<TimeInForce, ApiError> {
    match args.get("timeInForce") {
        None => Err(missing("timeInForce")),
        Some("GTC") => Ok(TimeInForce::Gtc),
        Some("IOC") => Ok(TimeInForce::Ioc),
        Some("FOK") => Ok(TimeInForce::Fok),
        Some("GTX") => Ok(TimeInForce::Gtx),
        Some(_) => Err(ApiError::new(400, -1115, "Invalid timeInForce.")),
    }
}

fn trigger(args: &Args<'_>) -> TriggerSource {
    match args.get("workingType") {
        Some("MARK_PRICE") => TriggerSource::Mark,
        _ => TriggerSource::Last,
    }
}

/// The order of a new-order request at `endpoint` (`order` or `algo`).
///
/// # Errors
/// Binance's parameter errors; `-4120` for a conditional type on the futures order endpoint.
pub fn parse(
    product: FakeProduct,
    algo: bool,
    args: &Args<'_>,
) -> Result<(OrderKind, TimeInForce), ApiError> {
    let order_type = args.need("type")?;
    let limit = |key: &str| -> Result<Price, ApiError> { price(args.need_decimal(key)?, key) };
    let conditional = matches!(
        order_type,
        "STOP" | "STOP_MARKET" | "TAKE_PROFIT" | "TAKE_PROFIT_MARKET" | "TRAILING_STOP_MARKET"
    );
    if product == FakeProduct::Usdm && conditional && !algo {
        return Err(ApiError::new(
            400,
            -4120,
            "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
        ));
    }
    let gtc = TimeInForce::Gtc;
    Ok(match (product, order_type) {
        (_, "MARKET") => (OrderKind::Market, TimeInForce::Ioc),
        (_, "LIMIT") => {
            let t = tif(args)?;
            (
                OrderKind::Limit {
                    price: limit("price")?,
                    post_only: t == TimeInForce::Gtx,
                },
                t,
            )
        }
        (FakeProduct::Spot, "LIMIT_MAKER") => (
            OrderKind::Limit {
                price: limit("price")?,
                post_only: true,
            },
            gtc,
        ),
        (FakeProduct::Spot, "STOP_LOSS") if args.get("trailingDelta").is_some() => {
            let delta = args.need("trailingDelta")?.parse::<u32>().map_err(|_| {
                ApiError::new(
                    400,
                    -1100,
                    "Illegal characters found in parameter 'trailingDelta'.",
                )
            })?;
            (
                OrderKind::TrailingStop {
                    flavour: TrailingKind::StopLoss,
                    delta_bips: delta,
                    activation: args
                        .decimal("stopPrice")?
                        .map(|p| price(p, "stopPrice"))
                        .transpose()?,
                    price: None,
                    trigger: TriggerSource::Last,
                },
                gtc,
            )
        }
        (FakeProduct::Spot, "STOP_LOSS") => (
            OrderKind::StopMarket {
                stop_price: limit("stopPrice")?,
                trigger: TriggerSource::Last,
            },
            gtc,
        ),
        (FakeProduct::Spot, "STOP_LOSS_LIMIT") => (
            OrderKind::StopLimit {
                stop_price: limit("stopPrice")?,
                price: limit("price")?,
                trigger: TriggerSource::Last,
            },
            tif(args)?,
        ),
        (FakeProduct::Spot, "TAKE_PROFIT") => (
            OrderKind::TakeProfitMarket {
                stop_price: limit("stopPrice")?,
                trigger: TriggerSource::Last,
            },
            gtc,
        ),
        (FakeProduct::Spot, "TAKE_PROFIT_LIMIT") => (
            OrderKind::TakeProfitLimit {
                stop_price: limit("stopPrice")?,
                price: limit("price")?,
                trigger: TriggerSource::Last,
            },
            tif(args)?,
        ),
        (FakeProduct::Usdm, "STOP_MARKET") => (
            OrderKind::StopMarket {
                stop_price: limit("triggerPrice")?,
                trigger: trigger(args),
            },
            gtc,
        ),
        (FakeProduct::Usdm, "STOP") => (
            OrderKind::StopLimit {
                stop_price: limit("triggerPrice")?,
                price: limit("price")?,
                trigger: trigger(args),
            },
            args.get("timeInForce").map_or(Ok(gtc), |_| tif(args))?,
        ),
        (FakeProduct::Usdm, "TAKE_PROFIT_MARKET") => (
            OrderKind::TakeProfitMarket {
                stop_price: limit("triggerPrice")?,
                trigger: trigger(args),
            },
            gtc,
        ),
        (FakeProduct::Usdm, "TAKE_PROFIT") => (
            OrderKind::TakeProfitLimit {
                stop_price: limit("triggerPrice")?,
                price: limit("price")?,
                trigger: trigger(args),
            },
            args.get("timeInForce").map_or(Ok(gtc), |_| tif(args))?,
        ),
        (FakeProduct::Usdm, "TRAILING_STOP_MARKET") => {
            let rate = args.need_decimal("callbackRate")?;
            let bips = (rate * Decimal::from(100)).trunc();
            (
                OrderKind::TrailingStop {
                    flavour: TrailingKind::StopLoss,
                    delta_bips: rust_decimal::prelude::ToPrimitive::to_u32(&bips).unwrap_or(0),
                    activation: args
                        .decimal("activatePrice")?
                        .map(|p| price(p, "activatePrice"))
                        .transpose()?,
                    price: None,
                    trigger: trigger(args),
                },
                gtc,
            )
        }
        _ => return Err(ApiError::new(400, -1116, "Invalid orderType.")),
    })
}
