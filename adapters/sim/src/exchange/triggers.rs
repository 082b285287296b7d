//! Contingent orders (stops, take-profits, trailing stops) waiting at the venue for their
//! trigger. Each market event of the symbol moves the trigger prices it carries (trades the
//! last price; mark-price events, or the mid where the data has no mark, the mark price; a bar
//! both, along its worst-case path); an order whose condition is met fires and executes as a
//! market order, or as a limit at its price. At that moment a reduce-only or close-position
//! order is cut to the position the account holds, and expires if there is none.

use super::admit::Cap;
use super::{Arming, SimExchange};
use crate::market::TriggerPath;
use chimera_kernel::event::{Liquidity, MarketEvent, ReportKind};
use chimera_kernel::order::{Order, OrderKind, Side, TriggerSource};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};
use chimera_kernel::Decimal;

impl SimExchange {
    /// Fires the contingent orders of `event`'s symbol whose condition it meets, in the order
    /// they were placed.
    pub(super) fn fire_triggers(&mut self, event: &MarketEvent) {
        if !self.resting.any_armed() {
            return;
        }
        let symbol = event.symbol();
        let Some(market) = self.markets.get(symbol) else {
            return;
        };
        // Only trades and bars move the last price; the mark moves with mark-price and
        // funding events, or with the book where the data carries no mark.
        let moves = match event {
            MarketEvent::Trade(_)
            | MarketEvent::Bar(_)
            | MarketEvent::MarkPrice(_)
            | MarketEvent::Funding(_) => true,
            MarketEvent::Quote(_) | MarketEvent::BookDelta(_) | MarketEvent::BookSnapshot(_) => {
                market.mark.is_none()
            }
        };
        if !moves {
            return;
        }
        // The path per (trigger source, side), computed once for the event and only when an
        // order is armed (a mark from the mid costs two decimal operations).
        let mut paths: [[Option<TriggerPath>; 2]; 2] = [[None; 2]; 2];
        let mut fired: Vec<(u64, Price)> = Vec::new();
        for (&id, working) in self.resting.armed_mut() {
            if working.rested_at >= self.event_seq || working.order.intent.symbol != *symbol {
                continue;
            }
            let Some(arming) = working.armed.as_mut() else {
                continue;
            };
            let kind = working.order.intent.kind;
            let side = working.order.intent.side;
            let Some(source) = kind.trigger_source() else {
                continue;
            };
            let path = *paths[usize::from(source == TriggerSource::Mark)]
                [usize::from(side == Side::Sell)]
            .get_or_insert_with(|| market.trigger_path(event, source, side));
            for price in path.prices() {
                let fires = match arming {
                    Arming::Level => kind.fires_at(side, price) == Some(true),
                    Arming::Trailing(trailing) => trailing.on_trade(price),
                };
                if fires {
                    fired.push((id, price));
                    break;
                }
            }
        }
        for (id, price) in fired {
            if let Some(working) = self.resting.remove(id) {
                self.resting_index
                    .remove(&working.order.intent.client_order_id);
                self.fire(working.order, event, price);
            }
        }
    }

    /// A triggered order executes.
    fn fire(&mut self, order: Order, event: &MarketEvent, fired_at: Price) {
        let at = self.clock(&order.intent.symbol, Timestamp(0));
        // A triggered leg of an order list ends the others before it trades.
        self.end_list(&order.intent.client_order_id, at, false);
        let Ok(cap) = self.reduce_cap(&order) else {
            self.emit(order, at, ReportKind::Expired);
            return;
        };
        let live = order.intent.kind.triggered();
        if let (MarketEvent::Bar(bar), OrderKind::Market) = (event, live) {
            let price =
                Self::bar_trigger_fill(order.intent.kind, order.intent.side, bar.open, fired_at);
            let wanted = cap.unwrap_or(order.remaining());
            let rest = self.execute_partial(
                order,
                &[(price, Some(wanted))],
                Liquidity::Taker,
                bar.ts,
                false,
            );
            if let Some(rest) = rest {
                self.emit(rest, bar.ts, ReportKind::Expired);
            }
            return;
        }
        self.trade(order, live, at, cap);
    }

    /// For a reduce-only (or close-position) order: how much it may still execute, the size
    /// of the position on the other side; `Err` when there is none. `Ok(None)` for others.
    fn reduce_cap(&mut self, order: &Order) -> Result<Cap, ()> {
        if !order.intent.reduce_only && !order.intent.close_position {
            return Ok(None);
        }
        let position = self
            .account(&order.intent.portfolio_id)
            .position(&order.intent.symbol)
            .map_or(Decimal::ZERO, |p| p.qty.get());
        let reducible = position * order.intent.side.sign() < Decimal::ZERO;
        if !reducible {
            return Err(());
        }
        Ok(Some(
            Quantity::new(position.abs())
                .map_err(|_| ())?
                .min(order.remaining()),
        ))
    }
}
