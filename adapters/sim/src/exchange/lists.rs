//! Order lists at the simulated venue: spot OCOs (and the admission of OTO/OTOCO lists, run
//! by [`super::pending_lists`]), as Binance runs them (see
//! [`chimera_kernel::order::OrderListRequest`]). A list is admitted whole or every leg is
//! refused with the same reason; the price relationship (for a SELL, limit > last > stop) is
//! checked first. Once admitted, a fill or a trigger of one leg expires the others in the
//! same matching step, and a cancel of one cancels them all. The legs hold the account's
//! balance once between them (both sell the same base; a BUY list holds its dearer leg).
//!
//! Perpetual markets have no order lists (Binance's futures API has none): a list for one is
//! refused, and the engine emulates the OCO there instead.

use super::{reject, SimExchange};
use chimera_kernel::event::{RejectReason, ReportKind};
use chimera_kernel::ids::ClientOrderId;
use chimera_kernel::instrument::MarketKind;
use chimera_kernel::order::{
    check_oco_prices, Contingency, Order, OrderListRequest, TriggerSource,
};
use chimera_kernel::time::Timestamp;

type Refusal = (RejectReason, String);

impl SimExchange {
    /// Receives an order list sent at `now`. Idempotent by its legs' client order ids.
    pub fn submit_list(&mut self, list: &OrderListRequest, now: Timestamp) {
        self.now = self.now.max(now);
        if list.orders.iter().any(|o| self.received(o)) {
            return;
        }
        let market = self
            .instruments
            .get(&list.symbol)
            .map_or(MarketKind::Spot, |i| i.kind);
        if let Err((reason, detail)) = self.list_admissible(list) {
            let at = self.clock(&list.symbol, now);
            for leg in &list.orders {
                self.known
                    .insert(&leg.client_order_id, &leg.portfolio_id, leg.created_at);
                self.reports
                    .push_back(reject(leg, market, at, reason, &detail));
            }
            return;
        }
        if list.contingency != Contingency::Oco {
            self.hold_pending(list, now);
            return;
        }
        let ids: Vec<ClientOrderId> = list
            .orders
            .iter()
            .map(|o| o.client_order_id.clone())
            .collect();
        for id in &ids {
            self.list_of.insert(id.clone(), list.list_id.clone());
        }
        self.lists.insert(list.list_id.clone(), ids);
        for leg in &list.orders {
            self.submit(leg.clone(), now);
        }
    }

    /// Binance's checks on a list before its legs' own.
    fn list_admissible(&mut self, list: &OrderListRequest) -> Result<(), Refusal> {
        let invalid = |why: &str| Err((RejectReason::InvalidOrder, why.to_string()));
        let Some(instrument) = self.instruments.get(&list.symbol) else {
            return Err((
                RejectReason::UnknownInstrument,
                format!("symbol {}", list.symbol),
            ));
        };
        if instrument.kind != MarketKind::Spot {
            return invalid("order lists are a spot feature");
        }
        let pair = match (list.contingency, list.orders.as_slice()) {
            (Contingency::Oco, [a, b]) => [a, b],
            (Contingency::Oto, [working, pending]) => {
                return one_triggers(working, &[pending], &list.symbol);
            }
            (Contingency::Otoco, [working, a, b]) => {
                one_triggers(working, &[a, b], &list.symbol)?;
                // The pair's prices are checked against the market when it is placed.
                return oco_shape(a, b).map(drop);
            }
            (Contingency::Oco, _) => return invalid("an OCO has exactly two orders"),
            (Contingency::Oto, _) => return invalid("an OTO has a working and a pending order"),
            (Contingency::Otoco, _) => {
                return invalid("an OTOCO has a working order and a pending pair")
            }
        };
        let [a, b] = pair;
        if a.symbol != list.symbol || b.symbol != list.symbol {
            return invalid("the legs of an OCO share symbol, side and quantity");
        }
        let (limit, stop) = oco_shape(a, b)?;
        let (Some(limit_price), Some(stop_price)) =
            (limit.kind.limit_price(), stop.kind.stop_price())
        else {
            return invalid("an OCO has one limit leg and one stop leg");
        };
        let market = self.markets.entry(list.symbol.clone()).or_default();
        // The last trade, else the mid (a book-only replay has no trades yet).
        let last = market.trigger_price(TriggerSource::Last).or_else(|| {
            market
                .mid()
                .and_then(|m| chimera_kernel::value::Price::new(m).ok())
        });
        let Some(last) = last else {
            return Err((RejectReason::NoMarketData, "no price known yet".into()));
        };
        check_oco_prices(a.side, limit_price, last, stop_price)
            .map_err(|e| (e.reason(), e.to_string()))
    }

    /// Whether `id` is a leg of a working list.
    pub(super) fn in_list(&self, id: &ClientOrderId) -> Option<&ClientOrderId> {
        self.list_of.get(id)
    }

    /// `leg` filled, triggered or ended: the list's other legs end with it — canceled when
    /// `leg` was canceled, else expired — wherever they are (resting, or still on the way).
    pub(super) fn end_list(&mut self, leg: &ClientOrderId, at: Timestamp, canceled: bool) {
        let Some(list_id) = self.list_of.remove(leg) else {
            return;
        };
        let Some(ids) = self.lists.remove(&list_id) else {
            return;
        };
        let kind = if canceled {
            ReportKind::Canceled
        } else {
            ReportKind::Expired
        };
        for id in ids {
            self.list_of.remove(&id);
            if id == *leg {
                continue;
            }
            if let Some(seq) = self.resting_index.remove(&id) {
                if let Some(working) = self.resting.remove(seq) {
                    self.emit(working.order, at, kind.clone());
                }
                continue;
            }
            let on_the_way = self
                .inbound
                .iter()
                .find(|(_, intent)| intent.client_order_id == id)
                .map(|(key, _)| *key);
            if let Some(intent) = on_the_way.and_then(|key| self.inbound.remove(&key)) {
                self.emit(Order::new(intent), at, ReportKind::Expired);
            }
        }
    }
}

/// An OCO pair's shape: same side and quantity, one limit leg and one stop leg (returned in
/// that order).
fn oco_shape<'a>(
    a: &'a chimera_kernel::order::OrderIntent,
    b: &'a chimera_kernel::order::OrderIntent,
) -> Result<
    (
        &'a chimera_kernel::order::OrderIntent,
        &'a chimera_kernel::order::OrderIntent,
    ),
    Refusal,
> {
    let invalid = |why: &str| Err((RejectReason::InvalidOrder, why.to_string()));
    if a.side != b.side || a.qty != b.qty || a.symbol != b.symbol {
        return invalid("the legs of an OCO share symbol, side and quantity");
    }
    match (a.kind.is_contingent(), b.kind.is_contingent()) {
        (false, true) => Ok((a, b)),
        (true, false) => Ok((b, a)),
        _ => invalid("an OCO has one limit leg and one stop leg"),
    }
}

/// An OTO/OTOCO's working order: a limit order on the list's symbol, like its pending ones.
fn one_triggers(
    working: &chimera_kernel::order::OrderIntent,
    pending: &[&chimera_kernel::order::OrderIntent],
    symbol: &chimera_kernel::ids::Symbol,
) -> Result<(), Refusal> {
    if !matches!(working.kind, chimera_kernel::order::OrderKind::Limit { .. }) {
        return Err((
            RejectReason::InvalidOrder,
            "the working order of an OTO/OTOCO is a limit order".into(),
        ));
    }
    if working.symbol != *symbol || pending.iter().any(|p| p.symbol != *symbol) {
        return Err((
            RejectReason::InvalidOrder,
            "every order of a list is on its symbol".into(),
        ));
    }
    Ok(())
}
