//! Order lists: orders a venue links so that what happens to one ends the others. The kernel
//! knows one contingency, the OCO (one-cancels-the-other: Binance spot's `POST
//! /api/v3/orderList/oco`): a take-profit limit leg and a stop leg on the same side and
//! quantity. When either fills (in part or in full) or triggers, the venue expires the other;
//! a cancel of either cancels both. The venue admits the list whole or refuses every leg
//! (Binance checks the price relationship first: for a SELL, limit > last > stop).
//!
//! Perpetuals have no native order lists: there the OCO is emulated by the engine (see
//! [`crate::execution::OcoLegs`]).

use super::OrderIntent;
use crate::ids::{ClientOrderId, PortfolioId, Symbol};
use serde::{Deserialize, Serialize};

/// How the orders of a list depend on each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Contingency {
    /// One cancels the other.
    Oco,
}

/// A request to place linked orders in one go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderListRequest {
    /// The list's client id (Binance's `listClientOrderId`): its idempotency key.
    pub list_id: ClientOrderId,
    /// Owning portfolio.
    pub portfolio_id: PortfolioId,
    /// Instrument (every leg's).
    pub symbol: Symbol,
    /// How the legs depend on each other.
    pub contingency: Contingency,
    /// The legs, each with its own intent and client order id.
    pub orders: Vec<OrderIntent>,
}
