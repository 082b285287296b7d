//! One-triggers-the-other lists at the simulated venue (Binance spot OTO and OTOCO): only the
//! working order goes on the book; the pending order, or the pending OCO pair, is placed the
//! moment the working order has filled in full. If the working order ends any other way, the
//! pending orders end with it (canceled with it, else expired) without ever being placed. A
//! cancel of a pending order cancels the working order, and so the whole list, as Binance
//! does.

use super::SimExchange;
use chimera_kernel::event::ReportKind;
use chimera_kernel::ids::ClientOrderId;
use chimera_kernel::order::{Contingency, Order, OrderIntent, OrderListRequest};
use chimera_kernel::time::Timestamp;
use serde::{Deserialize, Serialize};

/// What waits for a working order to fill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingLegs {
    /// The list's id.
    list_id: ClientOrderId,
    /// OTO (one pending order) or OTOCO (a pending OCO pair).
    contingency: Contingency,
    /// The pending orders.
    legs: Vec<OrderIntent>,
}

impl SimExchange {
    /// Places the working order of an admitted OTO/OTOCO and holds the rest.
    pub(super) fn hold_pending(&mut self, list: &OrderListRequest, now: Timestamp) {
        let Some((working, pending)) = list.orders.split_first() else {
            return;
        };
        self.pending.insert(
            working.client_order_id.clone(),
            PendingLegs {
                list_id: list.list_id.clone(),
                contingency: list.contingency,
                legs: pending.to_vec(),
            },
        );
        self.submit(working.clone(), now);
    }

    /// The working order whose list holds `pending_leg`, if any.
    pub(super) fn working_of_pending(&self, pending_leg: &ClientOrderId) -> Option<ClientOrderId> {
        self.pending
            .iter()
            .find(|(_, p)| p.legs.iter().any(|l| l.client_order_id == *pending_leg))
            .map(|(working, _)| working.clone())
    }

    /// `working` ended with `kind`: its pending orders are placed (filled in full) or end
    /// with it.
    pub(super) fn working_ended(
        &mut self,
        working: &ClientOrderId,
        at: Timestamp,
        kind: &ReportKind,
    ) {
        let Some(pending) = self.pending.remove(working) else {
            return;
        };
        if !matches!(kind, ReportKind::Filled(_)) {
            let end = if *kind == ReportKind::Canceled {
                ReportKind::Canceled
            } else {
                ReportKind::Expired
            };
            for leg in pending.legs {
                self.known
                    .insert(&leg.client_order_id, &leg.portfolio_id, leg.created_at);
                self.emit(Order::new(leg), at, end.clone());
            }
            return;
        }
        if pending.contingency == Contingency::Otoco {
            let pair = OrderListRequest {
                list_id: pending.list_id,
                portfolio_id: pending.legs[0].portfolio_id.clone(),
                symbol: pending.legs[0].symbol.clone(),
                contingency: Contingency::Oco,
                orders: pending.legs,
            };
            self.submit_list(&pair, at);
        } else {
            for leg in pending.legs {
                self.submit(leg, at);
            }
        }
    }
}
