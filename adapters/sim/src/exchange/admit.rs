//! An order reaching the matching engine: the venue's checks (listing, type and time in force,
//! filters, reduce-only, balance, post-only, immediate trigger), then it trades, rests, arms
//! or is refused with Binance's code and wording.

use super::{reject, Arming, SimExchange, Working};
use crate::config::BarFill;
use crate::market::Level;
use chimera_kernel::event::{Liquidity, RejectReason, ReportKind};
use chimera_kernel::ids::VenueOrderId;
use chimera_kernel::instrument::Instrument;
use chimera_kernel::order::{
    Order, OrderIntent, OrderKind, Side, TimeInForce, TrailingTrigger, TriggerSource,
};
use chimera_kernel::time::Timestamp;
use chimera_kernel::value::{Price, Quantity};
use chimera_kernel::Decimal;

/// The quantity an order may still execute once `cap` (the position a reduce-only order may
/// close) is applied; `None` when no cap applies.
pub(super) type Cap = Option<Quantity>;

impl SimExchange {
    /// The order reaches the matching engine: validate, then fill, rest, arm or reject.
    pub(super) fn activate(&mut self, intent: OrderIntent, at: Timestamp) {
        let Some(instrument) = self.instruments.get(&intent.symbol).cloned() else {
            let detail = format!("symbol {} is not listed", intent.symbol);
            self.reports.push_back(reject(
                &intent,
                chimera_kernel::instrument::MarketKind::Spot,
                at,
                RejectReason::UnknownInstrument,
                &detail,
            ));
            return;
        };
        if let Err((reason, detail)) = self.admissible(&instrument, &intent) {
            self.reports
                .push_back(reject(&intent, instrument.kind, at, reason, &detail));
            return;
        }
        let mut order = Order::new(intent);
        // Ids derive from the client order id, so a venue rebuilt after a restart never reuses
        // an id it handed out before (fills are unique by trade id downstream).
        order.venue_order_id = Some(VenueOrderId::new(
            ["sim-", order.intent.client_order_id.as_str()].concat(),
        ));
        let order = self.emit(order, at, ReportKind::Accepted);
        if order.intent.kind.is_contingent() {
            self.arm(order);
        } else {
            let kind = order.intent.kind;
            self.trade(order, kind, at, None);
        }
    }

    /// Every check an order passes before the venue accepts it.
    fn admissible(
        &mut self,
        instrument: &Instrument,
        intent: &OrderIntent,
    ) -> Result<(), (RejectReason, String)> {
        let kind = intent.kind;
        kind.check_time_in_force(intent.time_in_force)
            .map_err(|why| (RejectReason::InvalidOrder, why.to_string()))?;
        let market = self.markets.entry(intent.symbol.clone()).or_default();
        let stop = kind.stop_price();
        let reference = kind
            .limit_price()
            .or(stop)
            .or_else(|| market.reference_price(intent.side))
            .ok_or((RejectReason::NoMarketData, "no price known yet".to_string()))?;
        if let Some(stop) = stop {
            if !(stop.get() % instrument.tick_size.get()).is_zero() {
                return Err((RejectReason::TickSize, format!("stop price {stop}")));
            }
        }
        instrument
            .check_order(reference, kind.limit_price().is_some(), intent.qty)
            .map_err(|v| {
                (
                    v.into(),
                    format!("price {reference}, quantity {}", intent.qty),
                )
            })?;
        if let Some(price) = kind.limit_price() {
            // Binance's percent-price band: around the mark on futures, the market on spot.
            let source = match instrument.kind {
                chimera_kernel::instrument::MarketKind::Perp => TriggerSource::Mark,
                chimera_kernel::instrument::MarketKind::Spot => TriggerSource::Last,
            };
            let around = market
                .trigger_price(source)
                .or_else(|| market.mid().and_then(|m| Price::new(m).ok()));
            if let Some(around) = around {
                instrument
                    .check_price_band(intent.side, price, around)
                    .map_err(|v| (v.into(), format!("price {price}, market {around}")))?;
            }
        }
        if let (Some(source), Some(_)) = (kind.trigger_source(), stop) {
            let now = market.trigger_price(source);
            if now.is_some_and(|p| kind.fires_at(intent.side, p) == Some(true)) {
                return Err((
                    RejectReason::WouldImmediatelyTrigger,
                    format!(
                        "stop price {reference}, {source:?} price {}",
                        now.map_or_else(String::new, |p| p.to_string())
                    ),
                ));
            }
        }
        let post_only = intent.time_in_force == TimeInForce::Gtx
            || matches!(
                kind,
                OrderKind::Limit {
                    post_only: true,
                    ..
                }
            );
        if post_only {
            let crosses = !market
                .liquidity(intent.side, kind.limit_price(), Quantity::ZERO)
                .is_empty();
            if crosses {
                return Err((RejectReason::PostOnlyWouldCross, String::new()));
            }
        }
        self.check_account(instrument, intent, reference)
    }

    /// A contingent order starts waiting for its trigger. A trailing stop without an
    /// activation price starts tracking from the last price at once.
    fn arm(&mut self, order: Order) {
        let arming = match order.intent.kind {
            OrderKind::TrailingStop {
                flavour,
                delta_bips,
                activation,
                trigger,
                ..
            } => {
                let mut trailing =
                    TrailingTrigger::new(order.intent.side, flavour, delta_bips, activation);
                if activation.is_none() {
                    let market = self.markets.entry(order.intent.symbol.clone()).or_default();
                    if let Some(now) = market.trigger_price(trigger) {
                        trailing.on_trade(now);
                    }
                }
                Arming::Trailing(trailing)
            }
            _ => Arming::Level,
        };
        self.rest(order, Some(arming));
    }

    /// Executes a live (or just triggered) order as `kind`: takes what is marketable, then
    /// rests the rest (limit GTC), or expires it (IOC, FOK, market with nothing left, or the
    /// part of a capped reduce-only order beyond the position).
    pub(super) fn trade(&mut self, order: Order, kind: OrderKind, at: Timestamp, cap: Cap) {
        let tif = order.intent.time_in_force;
        let market = self.markets.entry(order.intent.symbol.clone()).or_default();
        let bar_driven = market.bar_driven;
        let wanted = cap.map_or(order.remaining(), |c| c.min(order.remaining()));
        let mut levels = market.liquidity(order.intent.side, kind.limit_price(), wanted);
        if matches!(kind, OrderKind::Market)
            && bar_driven
            && self.config.bar_fill == BarFill::NextOpen
            && cap.is_none()
        {
            self.awaiting_bar.push(order);
            return;
        }
        if tif == TimeInForce::Fok {
            let fillable: Option<Decimal> = levels
                .iter()
                .map(|(_, q)| q.map(Quantity::get))
                .sum::<Option<Decimal>>();
            if fillable.is_some_and(|f| f < wanted.get()) || levels.is_empty() {
                self.emit(order, at, ReportKind::Expired);
                return;
            }
        }
        let is_market = kind.limit_price().is_none();
        if let Some(cap) = cap {
            levels = cap_levels(levels, cap);
        }
        let rest = if levels.is_empty() {
            Some(order)
        } else {
            let sweep = is_market && cap.is_none();
            self.execute_partial(order, &levels, Liquidity::Taker, at, sweep)
        };
        let Some(rest) = rest else { return };
        let gone_beyond_cap = cap.is_some_and(|c| rest.filled_qty >= c || c.is_zero());
        if is_market || gone_beyond_cap || matches!(tif, TimeInForce::Ioc | TimeInForce::Fok) {
            self.emit(rest, at, ReportKind::Expired);
        } else {
            self.rest(rest, None);
        }
    }

    /// Rests `order` (armed when contingent), behind the book's volume at its price when the
    /// book is known.
    pub(super) fn rest(&mut self, order: Order, armed: Option<Arming>) {
        let queue_ahead = match (armed.is_some(), order.intent.kind.triggered().limit_price()) {
            (false, Some(price)) => self
                .markets
                .get(&order.intent.symbol)
                .filter(|m| m.uses_book())
                .map(|m| m.book.level_qty(order.intent.side, price)),
            _ => None,
        };
        self.seq += 1;
        self.resting_index
            .insert(order.intent.client_order_id.clone(), self.seq);
        self.resting.insert(
            self.seq,
            Working {
                order,
                rested_at: self.event_seq,
                armed,
                queue_ahead,
            },
        );
    }

    /// The price an order triggered by `event` trades at on bar data, where no book says:
    /// the trigger level, or the bar's open when the market opened beyond it.
    pub(super) fn bar_trigger_fill(
        kind: OrderKind,
        side: Side,
        open: Price,
        fired_at: Price,
    ) -> Price {
        match kind.fires_at(side, open) {
            Some(true) => open,
            Some(false) => match kind {
                OrderKind::StopMarket { stop_price, .. }
                | OrderKind::TakeProfitMarket { stop_price, .. } => stop_price,
                _ => fired_at,
            },
            None => fired_at,
        }
    }
}

/// `levels` cut so they offer at most `cap` in total.
fn cap_levels(levels: Vec<Level>, cap: Quantity) -> Vec<Level> {
    let mut left = cap;
    let mut out = Vec::with_capacity(levels.len());
    for (price, available) in levels {
        if left.is_zero() {
            break;
        }
        let take = available.map_or(left, |a| a.min(left));
        left = left.checked_sub(take).unwrap_or(Quantity::ZERO);
        out.push((price, Some(take)));
    }
    out
}
