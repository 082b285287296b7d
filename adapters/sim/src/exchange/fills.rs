//! Account checks and executions of the simulated exchange: what an order may do and what
//! its fills do to the account.

use super::SimExchange;
use crate::market::Level;
use chimera_kernel::event::ExecutionReport;
use chimera_kernel::event::{Fill, Liquidity, RejectReason, ReportKind};
use chimera_kernel::ids::{numbered, PortfolioId, TradeId};
use chimera_kernel::instrument::{Instrument, MarketKind};
use chimera_kernel::order::{Order, OrderIntent, Side};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Money, Price, Quantity};
use chimera_kernel::Decimal;

impl SimExchange {
    /// What the portfolio's resting orders hold of what a new `side` order on `instrument`
    /// would use, as Binance holds it: on spot, the quote a resting buy would pay (the base a
    /// resting sell would deliver), contingent orders included; on perpetuals, the initial
    /// margin of resting orders that would open or add to a position (armed stops and
    /// reduce-only orders hold nothing).
    ///
    /// The legs of an order list hold once between them (the dearest leg's hold), and the legs
    /// of `own_list` (the list of the order being checked) not at all.
    fn reserved(
        &self,
        portfolio: &PortfolioId,
        instrument: &Instrument,
        side: Side,
        own_list: Option<&chimera_kernel::ids::ClientOrderId>,
    ) -> Decimal {
        let mut held = Decimal::ZERO;
        let mut lists: std::collections::BTreeMap<&chimera_kernel::ids::ClientOrderId, Decimal> =
            std::collections::BTreeMap::new();
        for working in self.resting.all() {
            let order = &working.order;
            if order.intent.portfolio_id != *portfolio {
                continue;
            }
            let list = self.in_list(&order.intent.client_order_id);
            if list.is_some() && list == own_list {
                continue;
            }
            let before = held;
            let Some(other) = self.instruments.get(&order.intent.symbol) else {
                continue;
            };
            let remaining = order.remaining();
            let price = order
                .intent
                .kind
                .limit_price()
                .or(order.intent.kind.stop_price());
            match (instrument.kind, other.kind) {
                (MarketKind::Perp, MarketKind::Perp) => {
                    if working.armed.is_some() || order.intent.reduce_only {
                        continue;
                    }
                    if let Some(price) = price {
                        held += other.notional(price, remaining) / other.leverage;
                    }
                }
                (MarketKind::Spot, MarketKind::Spot) => match (side, order.intent.side) {
                    (Side::Buy, Side::Buy) if other.quote == instrument.quote => {
                        if let Some(price) = price {
                            held += other.notional(price, remaining);
                        }
                    }
                    (Side::Sell, Side::Sell) if other.base == instrument.base => {
                        held += remaining.get();
                    }
                    _ => {}
                },
                _ => {}
            }
            if let Some(list) = list {
                let hold = held - before;
                held = before;
                let most = lists.entry(list).or_default();
                *most = (*most).max(hold);
            }
        }
        held + lists.values().copied().sum::<Decimal>()
    }

    pub(super) fn check_account(
        &mut self,
        instrument: &Instrument,
        intent: &OrderIntent,
        price: Price,
    ) -> Result<(), (RejectReason, String)> {
        let reserved = self.reserved(
            &intent.portfolio_id,
            instrument,
            intent.side,
            self.in_list(&intent.client_order_id),
        );
        let account = self.account(&intent.portfolio_id);
        let position = account
            .position(&intent.symbol)
            .map_or(Decimal::ZERO, |p| p.qty.get());
        let signed = intent.qty.get() * intent.side.sign();
        // A close-position order is cut to the position when it executes, so any size reduces.
        let reduces = position * signed < Decimal::ZERO
            && (intent.close_position || intent.qty.get() <= position.abs());
        if intent.reduce_only && !reduces {
            return Err((
                RejectReason::ReduceOnlyWouldIncrease,
                format!("position {position}, order {signed}"),
            ));
        }
        let notional = instrument.notional(price, intent.qty);
        let fee = notional * instrument.taker_fee.get().max(Decimal::ZERO);
        let (have, need, asset) = match (instrument.kind, intent.side) {
            (MarketKind::Perp, _) if reduces => return Ok(()),
            (MarketKind::Perp, _) => (
                account.available_margin().get(),
                notional / instrument.leverage + fee,
                &instrument.quote,
            ),
            (MarketKind::Spot, Side::Buy) => (
                account.balance(&instrument.quote).get(),
                notional + fee,
                &instrument.quote,
            ),
            (MarketKind::Spot, Side::Sell) => (
                account.balance(&instrument.base).get(),
                intent.qty.get(),
                &instrument.base,
            ),
        };
        let have = have - reserved;
        if have < need {
            return Err((
                RejectReason::InsufficientBalance,
                format!("needs {need} {asset}, has {have} free ({reserved} held by open orders)"),
            ));
        }
        Ok(())
    }

    /// Fills the whole order over `levels` (the last level absorbs any excess).
    pub(super) fn execute(
        &mut self,
        order: Order,
        levels: &[Level],
        liquidity: Liquidity,
        at: Timestamp,
    ) {
        let _ = self.execute_partial(order, levels, liquidity, at, true);
    }

    /// Fills over `levels`; returns the unfilled order when levels run out and `sweep` is off.
    pub(super) fn execute_partial(
        &mut self,
        mut order: Order,
        levels: &[Level],
        liquidity: Liquidity,
        at: Timestamp,
        sweep: bool,
    ) -> Option<Order> {
        let Some(instrument) = self.instruments.get(&order.intent.symbol).cloned() else {
            return Some(order);
        };
        let rate = match liquidity {
            Liquidity::Maker => instrument.maker_fee,
            Liquidity::Taker => instrument.taker_fee,
        };
        for (i, &(price, available)) in levels.iter().enumerate() {
            let remaining = order.remaining();
            if remaining.is_zero() {
                break;
            }
            let last_level = i + 1 == levels.len();
            let take = match available {
                Some(q) if !(sweep && last_level) => remaining.min(q),
                _ => remaining,
            };
            if take.is_zero() {
                continue;
            }
            self.next_trade += 1;
            let fee = Money::new(
                instrument.notional(price, take) * rate.get(),
                instrument.quote.clone(),
            );
            let fill = Fill {
                // `<client order id>.<n>`: one per fill, so not through `format!`.
                trade_id: TradeId::new(numbered(
                    &[order.intent.client_order_id.as_str(), "."],
                    order.fills.len() as u64 + 1,
                )),
                price,
                qty: take,
                fee,
                liquidity,
            };
            if let (Liquidity::Taker, Some(_)) = (liquidity, available) {
                // A level of the L2 book: what we took is gone until its next update.
                if let Some(market) = self.markets.get_mut(&order.intent.symbol) {
                    market.consume(order.intent.side.opposite(), price, take);
                }
            }
            let done = remaining.checked_sub(take).is_some_and(Quantity::is_zero);
            let _ = self.account(&order.intent.portfolio_id).apply_fill(
                &order.intent.symbol,
                order.intent.side,
                &fill,
            );
            let kind = if done {
                ReportKind::Filled(fill)
            } else {
                ReportKind::PartiallyFilled(fill)
            };
            order = self.emit(order, at, kind);
        }
        (!order.remaining().is_zero()).then_some(order)
    }

    /// Applies a report to the venue's copy of the order and queues it for the client.
    pub(super) fn emit(&mut self, mut order: Order, at: Timestamp, kind: ReportKind) -> Order {
        // A leg's fill (even partial) or end ends its list.
        let ends_list = !self.list_of.is_empty()
            && (kind.ends_order() || matches!(kind, ReportKind::PartiallyFilled(_)));
        let canceled = kind == ReportKind::Canceled;
        let ends_working = !self.pending.is_empty() && kind.ends_order();
        let report = ExecutionReport {
            portfolio_id: order.intent.portfolio_id.clone(),
            client_order_id: order.intent.client_order_id.clone(),
            venue_order_id: order.venue_order_id.clone(),
            symbol: order.intent.symbol.clone(),
            ts: at,
            kind,
        };
        let _ = order.apply(&report);
        self.reports.push_back(report);
        if ends_list {
            self.end_list(&order.intent.client_order_id, at, canceled);
        }
        if ends_working {
            let kind = self
                .reports
                .back()
                .map_or(ReportKind::Expired, |r| r.kind.clone());
            self.working_ended(&order.intent.client_order_id, at, &kind);
        }
        order
    }
}
