//! [`Tracker`]: every order the connector placed, and what it has already reported about each.
//! Binance tells the same thing several ways (the REST answer, the user-data event, the
//! queries after a gap), in any order; the tracker turns them into one report per change:
//! one `Accepted`, each trade once (by trade id), one ending, one `Amended` per amendment.
//! `Accepted` always comes first, as from the simulated venue: an order whose first news is a
//! trade (a market order's REST answer, or its event when that wins the race) is reported
//! accepted just before the fill, so the sequence does not depend on which source was first.
//! It also holds the orders whose placement outcome is unknown until a query settles them.

use crate::codec::user::OrderUpdate;
use chimera_kernel::event::{ExecutionReport, Fill, Liquidity, RejectReason, ReportKind};
use chimera_kernel::ids::{Asset, ClientOrderId, PortfolioId, Symbol, TradeId, VenueOrderId};
use chimera_kernel::order::{OrderIntent, Side};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Money, Price, Quantity};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};

/// What the connector knows of one order.
#[derive(Debug, Clone)]
pub struct Track {
    /// The order as asked.
    pub intent: OrderIntent,
    /// Binance's id, once known.
    pub order_id: Option<i64>,
    /// Executed so far (sum of the reported trades).
    pub filled: Decimal,
    /// `Accepted` reported (always before the first fill).
    pub accepted: bool,
    /// An ending reported.
    pub done: bool,
    /// Trade ids reported.
    pub trades: HashSet<i64>,
    /// The last amendment confirmed.
    pub amended: u32,
    /// An amendment requested and not yet confirmed: its number.
    pub amend_pending: Option<u32>,
    /// The placement's outcome is unknown: the server time it was sent at.
    pub unresolved_since: Option<i64>,
    /// Placed through the USDⓈ-M algo-order endpoint (cancel and query there too).
    pub algo: bool,
}

/// All tracked orders of the connector.
#[derive(Debug, Default)]
pub struct Tracker {
    orders: BTreeMap<ClientOrderId, Track>,
}

fn report(t: &Track, ts: i64, kind: ReportKind) -> ExecutionReport {
    ExecutionReport {
        portfolio_id: t.intent.portfolio_id.clone(),
        client_order_id: t.intent.client_order_id.clone(),
        venue_order_id: t.order_id.map(|id| VenueOrderId::new(id.to_string())),
        symbol: t.intent.symbol.clone(),
        ts: Timestamp(ts),
        kind,
    }
}

impl Tracker {
    /// Whether `id` was placed (or is being placed) through this connector.
    pub fn knows(&self, id: &ClientOrderId) -> bool {
        self.orders.contains_key(id)
    }

    /// The track of `id`.
    pub fn get(&self, id: &ClientOrderId) -> Option<&Track> {
        self.orders.get(id)
    }

    /// Starts tracking `intent` (no-op when already tracked); `algo`: placed at the algo
    /// endpoint.
    pub fn insert(&mut self, intent: &OrderIntent, algo: bool) {
        self.orders
            .entry(intent.client_order_id.clone())
            .or_insert_with(|| Track {
                intent: intent.clone(),
                order_id: None,
                filled: Decimal::ZERO,
                accepted: false,
                done: false,
                trades: HashSet::new(),
                amended: 0,
                amend_pending: None,
                unresolved_since: None,
                algo,
            });
    }

    /// Stops tracking an order that never reached Binance (a transient failure before sending).
    pub fn forget(&mut self, id: &ClientOrderId) {
        self.orders.remove(id);
    }

    /// Marks the placement of `id` as of unknown outcome, sent at `sent_at` (server ms).
    pub fn set_unresolved(&mut self, id: &ClientOrderId, sent_at: Option<i64>) {
        if let Some(t) = self.orders.get_mut(id) {
            t.unresolved_since = sent_at;
        }
    }

    /// Orders whose placement outcome is unknown: `(id, symbol, sent at)`.
    pub fn unresolved(&self) -> Vec<(ClientOrderId, Symbol, i64)> {
        self.orders
            .iter()
            .filter_map(|(id, t)| {
                t.unresolved_since
                    .map(|at| (id.clone(), t.intent.symbol.clone(), at))
            })
            .collect()
    }

    /// Orders of `portfolios` placed (outcome known) and not yet ended: what a gap in their
    /// account's user stream may have changed.
    pub fn working(&self, portfolios: &[PortfolioId]) -> Vec<(ClientOrderId, Symbol)> {
        self.orders
            .iter()
            .filter(|(_, t)| {
                !t.done
                    && t.unresolved_since.is_none()
                    && portfolios.contains(&t.intent.portfolio_id)
            })
            .map(|(id, t)| (id.clone(), t.intent.symbol.clone()))
            .collect()
    }

    /// Notes an amendment request; `false` when it was already confirmed or is pending (send
    /// nothing).
    pub fn request_amend(&mut self, id: &ClientOrderId, amendment: u32) -> bool {
        match self.orders.get_mut(id) {
            Some(t) if t.amended >= amendment || t.amend_pending == Some(amendment) => false,
            Some(t) => {
                t.amend_pending = Some(amendment);
                true
            }
            None => true,
        }
    }

    /// Confirms the pending amendment of `id` with the order's new price and quantity.
    pub fn amended(
        &mut self,
        id: &ClientOrderId,
        price: Option<Price>,
        qty: Quantity,
        ts: i64,
    ) -> Option<ExecutionReport> {
        let t = self.orders.get_mut(id)?;
        let n = t.amend_pending.take()?;
        if n <= t.amended {
            return None;
        }
        t.amended = n;
        t.intent.qty = qty;
        if let Some(p) = price {
            if let Some(kind) = t.intent.kind.with_limit_price(p) {
                t.intent.kind = kind;
            }
        }
        Some(report(
            t,
            ts,
            ReportKind::Amended {
                price,
                qty,
                amendment: n,
            },
        ))
    }

    /// A refusal of the placement of `id` (REST error): `Rejected` once.
    pub fn rejected(
        &mut self,
        id: &ClientOrderId,
        reason: RejectReason,
        message: String,
        ts: i64,
    ) -> Option<ExecutionReport> {
        let t = self.orders.get_mut(id)?;
        t.unresolved_since = None;
        if t.done {
            return None;
        }
        t.done = true;
        Some(report(t, ts, ReportKind::Rejected { reason, message }))
    }

    /// Applies an order update from any source; returns what is new in it.
    pub fn apply(&mut self, u: &OrderUpdate) -> Vec<ExecutionReport> {
        let Some(t) = self.orders.get_mut(&ClientOrderId::new(&u.client_order_id)) else {
            return Vec::new();
        };
        t.unresolved_since = None;
        if t.order_id.is_none() && u.order_id > 0 {
            t.order_id = Some(u.order_id);
        }
        let mut out = Vec::new();
        let accept = |t: &mut Track, out: &mut Vec<ExecutionReport>| {
            if !t.accepted && !t.done {
                t.accepted = true;
                out.push(report(t, u.time, ReportKind::Accepted));
            }
        };
        if let Some(trade) = &u.trade {
            if t.done && t.trades.contains(&trade.id) {
                return out;
            }
            if t.trades.insert(trade.id) {
                let (Ok(price), Ok(qty)) = (Price::new(trade.price), Quantity::new(trade.qty))
                else {
                    tracing::warn!(id = %u.client_order_id, "trade with an invalid price or quantity ignored");
                    return out;
                };
                if u.exec_type != "CALCULATED" {
                    accept(t, &mut out);
                }
                t.accepted = true;
                t.filled += trade.qty;
                let fill = Fill {
                    trade_id: TradeId::new(trade.id.to_string()),
                    price,
                    qty,
                    fee: Money::new(trade.fee, Asset::new(&trade.fee_asset)),
                    liquidity: if trade.maker {
                        Liquidity::Maker
                    } else {
                        Liquidity::Taker
                    },
                };
                let kind = if u.exec_type == "CALCULATED" {
                    t.done = u.status == "FILLED";
                    ReportKind::Liquidated {
                        side: if u.side == "BUY" {
                            Side::Buy
                        } else {
                            Side::Sell
                        },
                        fill,
                    }
                } else if t.filled >= t.intent.qty.get()
                    || u.status == "FILLED" && u.cum_qty <= t.filled
                {
                    t.done = true;
                    ReportKind::Filled(fill)
                } else {
                    ReportKind::PartiallyFilled(fill)
                };
                out.push(report(t, u.time, kind));
            }
            return out;
        }
        if u.status == "PENDING_NEW" {
            // A list's pending order: not on the book until its working order has filled.
            return out;
        }
        match u.exec_type.as_str() {
            "NEW" => accept(t, &mut out),
            "CANCELED" if !t.done => {
                t.done = true;
                out.push(report(t, u.time, ReportKind::Canceled));
            }
            "EXPIRED" | "TRADE_PREVENTION" | "EXPIRED_IN_MATCH" if !t.done => {
                t.done = true;
                out.push(report(t, u.time, ReportKind::Expired));
            }
            "REJECTED" if !t.done => {
                t.done = true;
                out.push(report(
                    t,
                    u.time,
                    ReportKind::Rejected {
                        reason: RejectReason::VenueError,
                        message: u.reject_reason.clone(),
                    },
                ));
            }
            "AMENDMENT" | "REPLACED" => {
                let price = Price::new(u.price).ok().filter(|_| u.price > Decimal::ZERO);
                if let (Ok(qty), Some(_)) = (Quantity::new(u.qty), t.amend_pending) {
                    let id = t.intent.client_order_id.clone();
                    out.extend(self.amended(&id, price, qty, u.time));
                }
            }
            // A status without an execution (REST answers, queries): NEW/PARTIALLY_FILLED
            // mean accepted; endings are reported when no fill is still missing.
            "" => match u.status.as_str() {
                "NEW" | "PARTIALLY_FILLED" | "FILLED" => accept(t, &mut out),
                "CANCELED" | "EXPIRED" | "EXPIRED_IN_MATCH" | "REJECTED"
                    if !t.done && u.cum_qty <= t.filled =>
                {
                    t.done = true;
                    let kind = match u.status.as_str() {
                        "CANCELED" => ReportKind::Canceled,
                        "REJECTED" => ReportKind::Rejected {
                            reason: RejectReason::VenueError,
                            message: u.reject_reason.clone(),
                        },
                        _ => ReportKind::Expired,
                    };
                    out.push(report(t, u.time, kind));
                }
                _ => {}
            },
            _ => {}
        }
        out
    }
}
