//! The position manager: what happens to a position between its entry and its exit.
//!
//! Per open position:
//! - a protective stop (a reduce-only stop-market order at the venue that closes the whole
//!   position), first placed `stop_pct` % or `stop_atr` ATRs from the entry (times the
//!   decision's `sl_mult`), then trailed `trail_pct` % or `trail_atr` ATRs behind the best
//!   price since entry, only ever in the favourable direction: moved by cancelling the old
//!   stop and placing the new one;
//! - a take-profit ladder: reduce-only take-profit orders resting at the venue, each closing a
//!   fraction of the entry quantity at a distance from the entry (times `tp_mult`);
//! - add-ons: up to `max_adds` more entries (or what a rule's `max_adds_override` says), each
//!   once the price has moved `add_spacing_atr` ATRs in the position's favour beyond the last
//!   entry or add-on, sized by `add_sizes` (fractions of the first entry, the last repeating);
//! - ROE and, on perpetuals, the liquidation price and its distance (see [`liquidation_price`]).
//!
//! The levels are pure functions here; the engine places and moves the orders.

use crate::order::Side;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One rung of the take-profit ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeProfitLevel {
    /// Distance from the entry in percent of the entry price.
    #[serde(default, with = "crate::value::decimal_str::option")]
    pub pct: Option<Decimal>,
    /// Distance from the entry in ATRs.
    #[serde(default, with = "crate::value::decimal_str::option")]
    pub atr: Option<Decimal>,
    /// Fraction of the entry quantity this rung closes (0–1).
    #[serde(with = "crate::value::decimal_str")]
    pub fraction: Decimal,
}

/// How positions are managed. Nothing is managed by default.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ManagerConfig {
    /// First stop, % from the entry.
    #[serde(with = "crate::value::decimal_str::option")]
    pub stop_pct: Option<Decimal>,
    /// First stop, ATRs from the entry.
    #[serde(with = "crate::value::decimal_str::option")]
    pub stop_atr: Option<Decimal>,
    /// Trailing distance, % of the best price.
    #[serde(with = "crate::value::decimal_str::option")]
    pub trail_pct: Option<Decimal>,
    /// Trailing distance, in ATRs.
    #[serde(with = "crate::value::decimal_str::option")]
    pub trail_atr: Option<Decimal>,
    /// Move the trailing stop only when it improves by at least this percent of the price
    /// (each move is a cancel and a new order: venues count them against rate limits).
    #[serde(with = "crate::value::decimal_str::option")]
    pub trail_min_step_pct: Option<Decimal>,
    /// The take-profit ladder, nearest first.
    pub take_profit: Vec<TakeProfitLevel>,
    /// Add-ons allowed per position.
    pub max_adds: u32,
    /// Spacing between add-ons, in ATRs of favourable move.
    #[serde(with = "crate::value::decimal_str::option")]
    pub add_spacing_atr: Option<Decimal>,
    /// Add-on sizes as fractions of the first entry's quantity (the last repeats; 1 when
    /// empty).
    #[serde(with = "crate::value::decimal_str::vec")]
    pub add_sizes: Vec<Decimal>,
    /// The ATR's period.
    pub atr_period: Option<usize>,
}

impl ManagerConfig {
    /// Whether anything is managed.
    pub fn is_active(&self) -> bool {
        *self != Self::default()
    }

    /// Whether a level needs the ATR.
    pub fn needs_atr(&self) -> bool {
        self.stop_atr.is_some()
            || self.trail_atr.is_some()
            || self.add_spacing_atr.is_some()
            || self.take_profit.iter().any(|l| l.atr.is_some())
    }

    /// The ATR feature the levels read.
    pub fn atr_spec(&self) -> crate::features::FeatureSpec {
        crate::features::FeatureSpec::Atr(self.atr_period.unwrap_or(14).max(1))
    }

    /// Every problem, each naming its field.
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let positive = |name: &str, v: Option<Decimal>, problems: &mut Vec<String>| {
            if v.is_some_and(|v| v <= Decimal::ZERO) {
                problems.push(format!("{prefix}.{name}: must be above 0"));
            }
        };
        positive("stop_pct", self.stop_pct, &mut problems);
        positive("stop_atr", self.stop_atr, &mut problems);
        positive("trail_pct", self.trail_pct, &mut problems);
        positive("trail_atr", self.trail_atr, &mut problems);
        positive("add_spacing_atr", self.add_spacing_atr, &mut problems);
        positive("trail_min_step_pct", self.trail_min_step_pct, &mut problems);
        for (name, v) in [("stop_pct", self.stop_pct), ("trail_pct", self.trail_pct)] {
            if v.is_some_and(|v| v >= Decimal::ONE_HUNDRED) {
                problems.push(format!("{prefix}.{name}: must be below 100"));
            }
        }
        if self.stop_pct.is_some() && self.stop_atr.is_some() {
            problems.push(format!("{prefix}.stop_pct/stop_atr: give one, not both"));
        }
        if self.trail_pct.is_some() && self.trail_atr.is_some() {
            problems.push(format!("{prefix}.trail_pct/trail_atr: give one, not both"));
        }
        let mut total = Decimal::ZERO;
        for (i, level) in self.take_profit.iter().enumerate() {
            if level.pct.is_some() == level.atr.is_some() {
                problems.push(format!("{prefix}.take_profit[{i}]: give pct or atr (one)"));
            }
            positive(&format!("take_profit[{i}].pct"), level.pct, &mut problems);
            positive(&format!("take_profit[{i}].atr"), level.atr, &mut problems);
            if level.fraction <= Decimal::ZERO || level.fraction > Decimal::ONE {
                problems.push(format!(
                    "{prefix}.take_profit[{i}].fraction: must be above 0 and at most 1"
                ));
            }
            total += level.fraction;
        }
        if total > Decimal::ONE {
            problems.push(format!(
                "{prefix}.take_profit: the fractions add up to {total}, more than the position"
            ));
        }
        if self.max_adds > 0 && self.add_spacing_atr.is_none() {
            problems.push(format!(
                "{prefix}.add_spacing_atr: needed when max_adds > 0"
            ));
        }
        if self.add_sizes.iter().any(|s| *s <= Decimal::ZERO) {
            problems.push(format!("{prefix}.add_sizes: every size must be above 0"));
        }
        if self.atr_period == Some(0) {
            problems.push(format!("{prefix}.atr_period: must be at least 1"));
        }
        problems
    }

    /// The distance of the first stop from the entry, if one is configured (`None` also when
    /// it is in ATRs and the ATR is not warm).
    pub fn stop_distance(
        &self,
        entry: Decimal,
        atr: Option<Decimal>,
        sl_mult: Decimal,
    ) -> Option<Decimal> {
        let d = match (self.stop_pct, self.stop_atr) {
            (Some(pct), _) => entry * pct / Decimal::ONE_HUNDRED,
            (None, Some(k)) => k * atr?,
            (None, None) => return None,
        };
        Some(d * sl_mult)
    }

    /// The trailing distance from the best price, if trailing is configured.
    pub fn trail_distance(
        &self,
        best: Decimal,
        atr: Option<Decimal>,
        sl_mult: Decimal,
    ) -> Option<Decimal> {
        let d = match (self.trail_pct, self.trail_atr) {
            (Some(pct), _) => best * pct / Decimal::ONE_HUNDRED,
            (None, Some(k)) => k * atr?,
            (None, None) => return None,
        };
        Some(d * sl_mult)
    }

    /// The ladder's prices and fractions for an entry at `entry` on `side`.
    pub fn ladder(
        &self,
        side: Side,
        entry: Decimal,
        atr: Option<Decimal>,
        tp_mult: Decimal,
    ) -> Vec<(Decimal, Decimal)> {
        self.take_profit
            .iter()
            .filter_map(|level| {
                let d = match (level.pct, level.atr) {
                    (Some(pct), _) => entry * pct / Decimal::ONE_HUNDRED,
                    (None, Some(k)) => k * atr?,
                    (None, None) => return None,
                } * tp_mult;
                Some((entry + side.sign() * d, level.fraction))
            })
            .collect()
    }

    /// The size of add-on number `n` (0-based) as a fraction of the first entry.
    pub fn add_size(&self, n: u32) -> Decimal {
        let i = usize::try_from(n).unwrap_or(usize::MAX);
        self.add_sizes
            .get(i)
            .or(self.add_sizes.last())
            .copied()
            .unwrap_or(Decimal::ONE)
    }
}

/// A stop candidate trailed from `best`, kept only if it improves `current` (higher for a
/// long, lower for a short): a trailing stop never moves against the position.
pub fn trail(
    side: Side,
    current: Option<Decimal>,
    best: Decimal,
    distance: Decimal,
) -> Option<Decimal> {
    let candidate = best - side.sign() * distance;
    match current {
        Some(stop) if side.sign() * (candidate - stop) <= Decimal::ZERO => None,
        _ => Some(candidate),
    }
}

/// The price at which an isolated linear position is liquidated: where the loss has eaten
/// the initial margin down to the maintenance margin.
///
/// long: `entry · (1 − 1/leverage + mmr)`; short: `entry · (1 + 1/leverage − mmr)`.
/// `None` without leverage (spot, or leverage 1 long: the price would have to reach zero).
pub fn liquidation_price(
    side: Side,
    entry: Decimal,
    leverage: Decimal,
    maintenance_rate: Decimal,
) -> Option<Decimal> {
    if leverage <= Decimal::ONE && side == Side::Buy {
        return None;
    }
    if leverage <= Decimal::ZERO {
        return None;
    }
    let initial = Decimal::ONE / leverage;
    let price = match side {
        Side::Buy => entry * (Decimal::ONE - initial + maintenance_rate),
        Side::Sell => entry * (Decimal::ONE + initial - maintenance_rate),
    };
    (price > Decimal::ZERO).then_some(price)
}

/// How far the mark is from liquidation, in percent of the mark.
pub fn liquidation_distance_pct(mark: Decimal, liquidation: Decimal) -> Option<Decimal> {
    (mark > Decimal::ZERO)
        .then(|| ((mark - liquidation).abs() / mark * Decimal::ONE_HUNDRED).round_dp(4))
}

/// A position's return on equity and, on a perpetual, how far it is from liquidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionRisk {
    /// Unrealised PnL over the margin committed at entry.
    #[serde(with = "crate::value::decimal_str::option")]
    pub roe: Option<Decimal>,
    /// The price at which it would be liquidated (isolated margin at the instrument's leverage).
    #[serde(with = "crate::value::decimal_str::option")]
    pub liquidation_price: Option<Decimal>,
    /// The mark's distance from it, in percent of the mark.
    #[serde(with = "crate::value::decimal_str::option")]
    pub liquidation_distance_pct: Option<Decimal>,
}

impl PositionRisk {
    /// The figures of `position` on `instrument` (`None` when flat).
    pub fn of(
        position: &crate::portfolio::Position,
        instrument: &crate::instrument::Instrument,
    ) -> Option<Self> {
        if position.is_flat() {
            return None;
        }
        let side = if position.qty.is_positive() {
            Side::Buy
        } else {
            Side::Sell
        };
        let liquidation = match instrument.kind {
            crate::instrument::MarketKind::Perp => liquidation_price(
                side,
                position.avg_entry(),
                instrument.leverage,
                instrument.maintenance_margin_rate,
            ),
            crate::instrument::MarketKind::Spot => None,
        };
        let mark = position.mark.map(crate::value::Price::get);
        Some(Self {
            roe: position.roe(),
            liquidation_price: liquidation,
            liquidation_distance_pct: mark
                .zip(liquidation)
                .and_then(|(m, l)| liquidation_distance_pct(m, l)),
        })
    }
}

/// What the manager tracks of one position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedPosition {
    /// The position's direction.
    pub side: Side,
    /// Average entry when management started.
    #[serde(with = "crate::value::decimal_str")]
    pub entry: Decimal,
    /// The first entry's quantity (ladder fractions and add-on sizes refer to it).
    #[serde(with = "crate::value::decimal_str")]
    pub initial_qty: Decimal,
    /// The best price since entry.
    #[serde(with = "crate::value::decimal_str")]
    pub best: Decimal,
    /// The protective stop's level.
    #[serde(default, with = "crate::value::decimal_str::option")]
    pub stop: Option<Decimal>,
    /// The working stop order.
    pub stop_order: Option<crate::ids::ClientOrderId>,
    /// The take-profit orders placed.
    pub ladder_orders: Vec<crate::ids::ClientOrderId>,
    /// Whether the ladder was placed.
    pub ladder_placed: bool,
    /// Add-ons made.
    pub adds: u32,
    /// The price of the last entry or add-on: the next add-on is spaced from it.
    #[serde(with = "crate::value::decimal_str")]
    pub last_add: Decimal,
    /// Add-ons allowed.
    pub max_adds: u32,
    /// The decision's multipliers.
    #[serde(with = "crate::value::decimal_str")]
    pub tp_mult: Decimal,
    /// The decision's stop multiplier.
    #[serde(with = "crate::value::decimal_str")]
    pub sl_mult: Decimal,
}
