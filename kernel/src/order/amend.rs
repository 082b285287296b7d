//! Changing a working order: an amend in place ([`AmendRequest`]) or a cancel-replace
//! ([`CancelReplaceRequest`]).
//!
//! Venues differ in what they let an amend change, and the kernel follows Binance:
//! - USD-M perpetuals (`PUT /fapi/v1/order`) amend the price and quantity of a LIMIT order;
//!   the amended order goes to the back of its price level's queue. A new quantity at or below
//!   what already executed cancels the order; a post-only order whose new price would take
//!   liquidity is canceled too. A new price or quantity failing the filters is refused and the
//!   order works on unchanged.
//! - Spot (`PUT /api/v3/order/amend/keepPriority`) only reduces the quantity, and the order
//!   keeps its place in the queue. A new price on spot is a cancel-replace.
//!
//! A cancel-replace (spot's `POST /api/v3/order/cancelReplace`; two requests elsewhere) cancels
//! one order and places another under a new client order id, which loses queue priority. With
//! [`ReplaceMode::StopOnFailure`] the new order is not placed when the cancel fails (the old
//! order filled or was already gone), so the two are never both working; with
//! [`ReplaceMode::AllowFailure`] it is placed regardless.
//!
//! Both carry the order's amendment number, so the runtime can key a message by it: replaying
//! an amend applies it once.

use super::{CancelRequest, OrderIntent};
use crate::ids::{ClientOrderId, PortfolioId, Symbol};
use crate::time::Timestamp;
use crate::value::{Price, Quantity};
use serde::{Deserialize, Serialize};

/// A request to change a working order in place. Both fields are the order's new values (the
/// unchanged one repeats the current value), as Binance's futures endpoint wants them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmendRequest {
    /// Owning portfolio.
    pub portfolio_id: PortfolioId,
    /// The order to change.
    pub client_order_id: ClientOrderId,
    /// Instrument.
    pub symbol: Symbol,
    /// The new limit price (`None`: an order without one, e.g. a stop-market, where only the
    /// quantity can change).
    pub price: Option<Price>,
    /// The new total quantity of the order (including what already executed).
    pub qty: Quantity,
    /// The order's amendment number, from 1: the idempotency key of this amend.
    pub amendment: u32,
    /// When the request was made.
    pub created_at: Timestamp,
}

/// What happens to the replacement when the cancel of a cancel-replace fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplaceMode {
    /// Do not place the new order (it is rejected with
    /// [`crate::event::RejectReason::CancelReplaceFailed`]).
    #[default]
    StopOnFailure,
    /// Place the new order anyway.
    AllowFailure,
}

/// Cancel one order and place another in one request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelReplaceRequest {
    /// The order to cancel.
    pub cancel: CancelRequest,
    /// The order to place instead (its own intent and client order id).
    pub replacement: OrderIntent,
    /// Whether the replacement depends on the cancel succeeding.
    #[serde(default)]
    pub mode: ReplaceMode,
}
