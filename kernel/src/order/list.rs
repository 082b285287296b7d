//! Order lists: orders a venue links so that what happens to one ends the others. The kernel
//! knows one contingency, the OCO (one-cancels-the-other: Binance spot's `POST
//! /api/v3/orderList/oco`): a take-profit limit leg and a stop leg on the same side and
//! quantity. When either fills (in part or in full) or triggers, the venue expires the other;
//! a cancel of either cancels both. The venue admits the list whole or refuses every leg
//! (Binance checks the price relationship first: for a SELL, limit > last > stop).
//!
//! One-triggers-the-other lists ([`Contingency::Oto`], [`Contingency::Otoco`]) put a working
//! limit order on the book and hold one order (or an OCO pair) until it has filled in full.
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
    /// One cancels the other: `[limit leg, stop leg]`.
    Oco,
    /// One triggers the other: `[working, pending]`. Only the working order (a limit) is on
    /// the book; the pending order is placed when the working one has filled in full, and
    /// ends with it if it ends otherwise (Binance spot `POST /api/v3/orderList/oto`).
    Oto,
    /// One triggers an OCO: `[working, pending limit leg, pending stop leg]`; the pending pair
    /// is placed as an OCO when the working order has filled in full (Binance spot
    /// `POST /api/v3/orderList/otoco`).
    Otoco,
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
