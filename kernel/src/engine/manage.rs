//! The engine's side of the position manager ([`crate::position_manager`]): after every
//! market event and fill of a symbol, it places the protective stop and the take-profit
//! ladder of a new position, trails the stop (cancel the old order, place the new one), makes
//! the add-ons, and once the position is flat cancels what protected it.

use super::{Output, PortfolioEngine};
use crate::decision::Decision;
use crate::ids::{ClientOrderId, Symbol};
use crate::order::{OrderKind, Side, TriggerSource};
use crate::position_manager::{trail, ManagedPosition};
use crate::strategy::OrderRequest;
use crate::value::{Price, Quantity};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What a decision asked of the position it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Plan {
    #[serde(with = "crate::value::decimal_str")]
    tp_mult: Decimal,
    #[serde(with = "crate::value::decimal_str")]
    sl_mult: Decimal,
    max_adds: u32,
}

impl PortfolioEngine {
    /// Sets how positions are managed.
    #[must_use]
    pub fn with_manager(mut self, config: crate::position_manager::ManagerConfig) -> Self {
        self.manager = config;
        self.rebuild_feature_view();
        self
    }

    /// The positions under management, by symbol.
    pub fn managed(&self) -> &std::collections::BTreeMap<Symbol, ManagedPosition> {
        &self.managed
    }

    /// Remembers what `decision` asked for the position `entry` opens.
    pub(super) fn plan_position(&mut self, entry: &crate::decision::Entry, decision: &Decision) {
        if !self.manager.is_active() || self.managed.contains_key(&entry.symbol) {
            return;
        }
        self.plans.insert(
            entry.symbol.clone(),
            Plan {
                tp_mult: decision.tp_mult,
                sl_mult: decision.sl_mult,
                max_adds: decision.max_adds.unwrap_or(self.manager.max_adds),
            },
        );
    }

    /// The position on `symbol`'s return on equity and distance from liquidation (`None` when
    /// flat or unknown).
    pub fn position_risk(&self, symbol: &Symbol) -> Option<crate::position_manager::PositionRisk> {
        crate::position_manager::PositionRisk::of(
            self.portfolio.position(symbol)?,
            self.portfolio.instruments.get(symbol)?,
        )
    }

    /// Add-ons made to the position on `symbol`.
    pub(super) fn position_adds(&self, symbol: &Symbol) -> u32 {
        self.managed.get(symbol).map_or(0, |m| m.adds)
    }

    /// Sends `request` and returns the client order id it got, if it was sent.
    fn send(&mut self, request: OrderRequest) -> Option<ClientOrderId> {
        self.submit(request)
            .map(|id| ClientOrderId::for_intent(&id))
    }

    fn cancel_if_open(&mut self, id: &ClientOrderId) {
        let now = self.clock;
        if let Some(order) = self.open_orders.get_mut(id) {
            if let Some(request) = order.request_cancel(now) {
                self.outputs
                    .push_back(Output::Command(super::Command::Cancel(request)));
            }
        }
    }

    /// Manages the position on `symbol` (see the module doc).
    pub(super) fn manage(&mut self, symbol: &Symbol) {
        if !self.manager.is_active() || self.stopped {
            return;
        }
        let qty = self
            .portfolio
            .position(symbol)
            .map_or(Decimal::ZERO, |p| p.qty.get());
        let side = if qty > Decimal::ZERO {
            Side::Buy
        } else {
            Side::Sell
        };
        let flipped = self.managed.get(symbol).is_some_and(|m| m.side != side);
        if qty.is_zero() || flipped {
            if let Some(old) = self.managed.remove(symbol) {
                for id in old.stop_order.iter().chain(&old.ladder_orders) {
                    self.cancel_if_open(id);
                }
            }
            if qty.is_zero() {
                return;
            }
        }
        let Some(price) = self.market_view.top(symbol).last_or_mid().map(Price::get) else {
            return;
        };
        let atr = self
            .features
            .value(symbol, &self.manager.atr_spec())
            .and_then(crate::value::decimal_from_f64_8dp)
            .filter(|a| *a > Decimal::ZERO);
        if !self.managed.contains_key(symbol) {
            let plan = self.plans.remove(symbol).unwrap_or(Plan {
                tp_mult: Decimal::ONE,
                sl_mult: Decimal::ONE,
                max_adds: self.manager.max_adds,
            });
            let entry = self
                .portfolio
                .position(symbol)
                .map_or(price, crate::portfolio::Position::avg_entry);
            self.managed.insert(
                symbol.clone(),
                ManagedPosition {
                    side,
                    entry,
                    initial_qty: qty.abs(),
                    best: entry,
                    stop: None,
                    stop_order: None,
                    ladder_orders: Vec::new(),
                    ladder_placed: false,
                    adds: 0,
                    last_add: entry,
                    max_adds: plan.max_adds,
                    tp_mult: plan.tp_mult,
                    sl_mult: plan.sl_mult,
                },
            );
        }
        self.protect(symbol, side, price, atr);
        self.place_ladder(symbol, side, atr);
        self.add_on(symbol, side, price, atr);
    }

    /// The first stop, then trailing.
    fn protect(&mut self, symbol: &Symbol, side: Side, price: Decimal, atr: Option<Decimal>) {
        let Some(m) = self.managed.get_mut(symbol) else {
            return;
        };
        if side.sign() * (price - m.best) > Decimal::ZERO {
            m.best = price;
        }
        let (entry, best, current, sl_mult) = (m.entry, m.best, m.stop, m.sl_mult);
        let mut wanted = None;
        if current.is_none() {
            wanted = self
                .manager
                .stop_distance(entry, atr, sl_mult)
                .map(|d| entry - side.sign() * d);
        }
        if let Some(d) = self.manager.trail_distance(best, atr, sl_mult) {
            let base = wanted.or(current);
            if let Some(better) = trail(side, base, best, d) {
                let step = self
                    .manager
                    .trail_min_step_pct
                    .map_or(Decimal::ZERO, |pct| price * pct / Decimal::ONE_HUNDRED);
                let enough = base.is_none_or(|b| (better - b).abs() >= step);
                if enough {
                    wanted = Some(better);
                }
            }
        }
        let Some(level) = wanted else { return };
        let Some(instrument) = self.portfolio.instruments.get(symbol) else {
            return;
        };
        let level = instrument.round_price(level);
        if level.get() <= Decimal::ZERO || Some(level.get()) == current {
            return;
        }
        let old = self.managed.get(symbol).and_then(|m| m.stop_order.clone());
        if let Some(old) = &old {
            self.cancel_if_open(old);
        }
        let request = OrderRequest::close_position(
            symbol.clone(),
            side.opposite(),
            OrderKind::StopMarket {
                stop_price: level,
                trigger: TriggerSource::Last,
            },
            if current.is_none() { "stop" } else { "trail" },
        );
        let id = self.send(request);
        if let Some(m) = self.managed.get_mut(symbol) {
            m.stop = Some(level.get());
            m.stop_order = id;
        }
    }

    fn place_ladder(&mut self, symbol: &Symbol, side: Side, atr: Option<Decimal>) {
        let Some(m) = self.managed.get(symbol) else {
            return;
        };
        if m.ladder_placed || self.manager.take_profit.is_empty() {
            return;
        }
        let ladder = self.manager.ladder(side, m.entry, atr, m.tp_mult);
        if ladder.len() < self.manager.take_profit.len() {
            return; // an ATR rung waits for the ATR
        }
        let initial = m.initial_qty;
        let Some(instrument) = self.portfolio.instruments.get(symbol).cloned() else {
            return;
        };
        let mut ids = Vec::new();
        for (level, fraction) in ladder {
            let qty = Quantity::new(initial * fraction).unwrap_or(Quantity::ZERO);
            let qty = instrument.round_qty_down(qty);
            if qty.is_zero() || level <= Decimal::ZERO {
                continue;
            }
            let request = OrderRequest::new(
                symbol.clone(),
                side.opposite(),
                qty,
                OrderKind::TakeProfitMarket {
                    stop_price: instrument.round_price(level),
                    trigger: TriggerSource::Last,
                },
                "take_profit",
            )
            .reduce_only();
            ids.extend(self.send(request));
        }
        if let Some(m) = self.managed.get_mut(symbol) {
            m.ladder_placed = true;
            m.ladder_orders = ids;
        }
    }

    fn add_on(&mut self, symbol: &Symbol, side: Side, price: Decimal, atr: Option<Decimal>) {
        let (Some(m), Some(spacing), Some(atr)) =
            (self.managed.get(symbol), self.manager.add_spacing_atr, atr)
        else {
            return;
        };
        if m.adds >= m.max_adds || self.halted.is_some() {
            return;
        }
        if side.sign() * (price - m.last_add) < spacing * atr {
            return;
        }
        let gates = crate::decision::GateInputs {
            now: self.clock,
            kill_switch: self.kill.mode_for(symbol).is_some(),
            health: self.gate_state.health,
            margin_used: self.portfolio.margin_used().get(),
            equity: self.portfolio.equity().get(),
        };
        if self.policy.gates.check(&gates).is_err() {
            return;
        }
        let qty =
            Quantity::new(m.initial_qty * self.manager.add_size(m.adds)).unwrap_or(Quantity::ZERO);
        if let Some(m) = self.managed.get_mut(symbol) {
            m.adds += 1;
            m.last_add = price;
        }
        self.submit(OrderRequest::market(symbol.clone(), side, qty, "add"));
    }
}
