//! Endpoint paths and request weights per product (from the spot and USDⓈ-M REST docs).

use crate::config::Product;
use crate::rest::Cost;

/// The paths of one product.
#[derive(Debug, Clone, Copy)]
pub struct Paths {
    /// Server time.
    pub time: &'static str,
    /// Symbols, filters and limits.
    pub exchange_info: &'static str,
    /// Depth snapshot.
    pub depth: &'static str,
    /// New / cancel / query / amend (futures) order.
    pub order: &'static str,
    /// Open orders.
    pub open_orders: &'static str,
    /// The account's trades.
    pub trades: &'static str,
}

/// Spot paths.
pub const SPOT: Paths = Paths {
    time: "/api/v3/time",
    exchange_info: "/api/v3/exchangeInfo",
    depth: "/api/v3/depth",
    order: "/api/v3/order",
    open_orders: "/api/v3/openOrders",
    trades: "/api/v3/myTrades",
};

/// USDⓈ-M paths.
pub const USDM: Paths = Paths {
    time: "/fapi/v1/time",
    exchange_info: "/fapi/v1/exchangeInfo",
    depth: "/fapi/v1/depth",
    order: "/fapi/v1/order",
    open_orders: "/fapi/v1/openOrders",
    trades: "/fapi/v1/userTrades",
};

/// USDⓈ-M conditional orders.
pub const USDM_ALGO_ORDER: &str = "/fapi/v1/algoOrder";
/// USDⓈ-M user-data listen key.
pub const USDM_LISTEN_KEY: &str = "/fapi/v1/listenKey";
/// USDⓈ-M balances.
pub const USDM_BALANCE: &str = "/fapi/v3/balance";
/// USDⓈ-M positions.
pub const USDM_POSITION_RISK: &str = "/fapi/v3/positionRisk";
/// USDⓈ-M income history (funding).
pub const USDM_INCOME: &str = "/fapi/v1/income";
/// Spot account (balances).
pub const SPOT_ACCOUNT: &str = "/api/v3/account";
/// Spot cancel-replace.
pub const SPOT_CANCEL_REPLACE: &str = "/api/v3/order/cancelReplace";
/// Spot amend keeping queue priority (quantity decrease only).
pub const SPOT_AMEND: &str = "/api/v3/order/amend/keepPriority";
/// Spot OCO.
pub const SPOT_OCO: &str = "/api/v3/orderList/oco";
/// Spot OTO (one order triggers another).
pub const SPOT_OTO: &str = "/api/v3/orderList/oto";
/// Spot OTOCO (one order triggers an OCO).
pub const SPOT_OTOCO: &str = "/api/v3/orderList/otoco";

impl Paths {
    /// The paths of `product`.
    pub fn of(product: Product) -> Self {
        match product {
            Product::Spot => SPOT,
            Product::Usdm => USDM,
        }
    }
}

/// The weight of a request on `product` (spot, futures).
pub fn cost(product: Product, spot: u64, futures: u64) -> Cost {
    Cost::weight(match product {
        Product::Spot => spot,
        Product::Usdm => futures,
    })
}
