//! USDⓈ-M account settings on the fake: position mode (`/fapi/v1/positionSide/dual`),
//! leverage (`/fapi/v1/leverage`), margin type (`/fapi/v1/marginType`) and their query
//! (`/fapi/v1/symbolConfig`), with Binance's refusals: nothing to change (`-4059`, `-4046`),
//! open orders or a position in the way (`-4067`/`-4068`, `-4047`/`-4048`), a leverage out of
//! range (`-4028`). In hedge mode an order without `positionSide` is refused (`-4061`).
//! The settings are reported as set; the matching core's margin keeps the instrument's
//! leverage.

use crate::orders::Args;
pub use crate::records::AccountSettings;
use crate::state::Exchange;
use crate::wire::ApiError;
use chimera_kernel::ids::Symbol;
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// Binance's default leverage for a new symbol.
const DEFAULT_LEVERAGE: u32 = 20;

fn ok() -> Value {
    json!({"code": 200, "msg": "success"})
}

fn has_open_orders(ex: &Exchange, account: usize, symbol: Option<&str>) -> bool {
    ex.records
        .values()
        .any(|r| r.account == account && r.is_open() && symbol.is_none_or(|s| s == r.symbol))
}

fn has_position(ex: &Exchange, account: usize, symbol: Option<&str>) -> bool {
    ex.books(account).is_some_and(|b| {
        b.positions
            .values()
            .any(|p| !p.qty.get().is_zero() && symbol.is_none_or(|s| s == p.symbol.as_str()))
    })
}

impl Exchange {
    fn symbol_setting(&self, account: usize, symbol: &str) -> (u32, bool) {
        self.settings
            .get(&account)
            .and_then(|s| s.symbols.get(symbol).copied())
            .unwrap_or((DEFAULT_LEVERAGE, false))
    }

    /// Whether `account` is in hedge mode.
    pub fn hedge_mode(&self, account: usize) -> bool {
        self.settings.get(&account).is_some_and(|s| s.hedge)
    }

    /// The leverage reported for `symbol`.
    pub fn leverage(&self, account: usize, symbol: &Symbol) -> u32 {
        self.symbol_setting(account, symbol.as_str()).0
    }
}

/// `GET /fapi/v1/positionSide/dual`.
pub fn dual(ex: &Exchange, account: usize) -> Value {
    json!({"dualSidePosition": ex.hedge_mode(account)})
}

/// `POST /fapi/v1/positionSide/dual`.
///
/// # Errors
/// Binance's refusals (module docs).
pub fn set_dual(ex: &mut Exchange, account: usize, args: &Args<'_>) -> Result<Value, ApiError> {
    let want = args.need("dualSidePosition")? == "true";
    if ex.hedge_mode(account) == want {
        return Err(ApiError::new(
            400,
            -4059,
            "No need to change position side.",
        ));
    }
    if has_open_orders(ex, account, None) {
        return Err(ApiError::new(
            400,
            -4067,
            "Position side cannot be changed if there exists open orders.",
        ));
    }
    if has_position(ex, account, None) {
        return Err(ApiError::new(
            400,
            -4068,
            "Position side cannot be changed if there exists position.",
        ));
    }
    ex.settings.entry(account).or_default().hedge = want;
    Ok(ok())
}

/// `POST /fapi/v1/leverage`.
///
/// # Errors
/// `-4028` out of 1..=125; `-1121` unknown symbol.
pub fn set_leverage(ex: &mut Exchange, account: usize, args: &Args<'_>) -> Result<Value, ApiError> {
    let symbol = args.need("symbol")?.to_owned();
    if !ex.instruments.contains_key(&symbol) {
        return Err(ApiError::new(400, -1121, "Invalid symbol."));
    }
    let text = args.need("leverage")?;
    let leverage = text
        .parse::<u32>()
        .ok()
        .filter(|l| (1..=125).contains(l))
        .ok_or_else(|| ApiError::new(400, -4028, format!("Leverage {text} is not valid")))?;
    let isolated = ex.symbol_setting(account, &symbol).1;
    ex.settings
        .entry(account)
        .or_default()
        .symbols
        .insert(symbol.clone(), (leverage, isolated));
    Ok(json!({"leverage": leverage, "maxNotionalValue": "1000000", "symbol": symbol}))
}

/// `POST /fapi/v1/marginType`.
///
/// # Errors
/// Binance's refusals (module docs).
pub fn set_margin_type(
    ex: &mut Exchange,
    account: usize,
    args: &Args<'_>,
) -> Result<Value, ApiError> {
    let symbol = args.need("symbol")?.to_owned();
    if !ex.instruments.contains_key(&symbol) {
        return Err(ApiError::new(400, -1121, "Invalid symbol."));
    }
    let isolated = match args.need("marginType")? {
        "ISOLATED" => true,
        "CROSSED" => false,
        _ => return Err(ApiError::new(400, -1116, "Invalid marginType.")),
    };
    let (leverage, was) = ex.symbol_setting(account, &symbol);
    if was == isolated {
        return Err(ApiError::new(400, -4046, "No need to change margin type."));
    }
    if has_open_orders(ex, account, Some(&symbol)) {
        return Err(ApiError::new(
            400,
            -4047,
            "Margin type cannot be changed if there exists open orders.",
        ));
    }
    if has_position(ex, account, Some(&symbol)) {
        return Err(ApiError::new(
            400,
            -4048,
            "Margin type cannot be changed if there exists position.",
        ));
    }
    ex.settings
        .entry(account)
        .or_default()
        .symbols
        .insert(symbol, (leverage, isolated));
    Ok(ok())
}

/// `GET /fapi/v1/symbolConfig`.
pub fn symbol_config(ex: &Exchange, account: usize, args: &Args<'_>) -> Value {
    Value::Array(
        ex.instruments
            .keys()
            .filter(|s| args.get("symbol").is_none_or(|want| want == s.as_str()))
            .map(|s| {
                let (leverage, isolated) = ex.symbol_setting(account, s);
                json!({"symbol": s, "marginType": if isolated { "ISOLATED" } else { "CROSSED" },
                       "isAutoAddMargin": "false", "leverage": leverage,
                       "maxNotionalValue": Decimal::from(1_000_000).to_string()})
            })
            .collect(),
    )
}
