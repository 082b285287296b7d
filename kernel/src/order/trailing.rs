//! [`TrailingTrigger`]: when a trailing stop or take-profit fires, by Binance's rules (spot
//! `trailingDelta`, in basis points): the order tracks the most favourable trade price since it
//! started tracking — the highest for a sell, the lowest for a buy — and fires on the first
//! trade at least `delta` basis points back from it. With an activation price (`stopPrice`) it
//! starts tracking only at the first trade that meets the activation condition, which sets the
//! first extreme; without one, from the first trade it sees. The extreme only ever moves in the
//! order's favour, so the trigger level does too.

use super::Side;
use crate::value::Price;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Which contingent order trails (it decides the activation condition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrailingKind {
    /// `STOP_LOSS` / `STOP_LOSS_LIMIT`: activates when a sell's market falls to the activation
    /// price (a buy's rises to it).
    StopLoss,
    /// `TAKE_PROFIT` / `TAKE_PROFIT_LIMIT`: activates when a sell's market rises to the
    /// activation price (a buy's falls to it).
    TakeProfit,
}

/// Where a trailing trigger stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TrailingState {
    /// Waiting for the activation price.
    Waiting,
    /// Tracking: the most favourable trade price so far.
    Tracking {
        /// Highest (sell) or lowest (buy) trade price since tracking started.
        extreme: Price,
    },
    /// Fired, at this trade price.
    Triggered {
        /// The trade that fired it.
        at: Price,
    },
}

/// A trailing trigger, fed trade prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrailingTrigger {
    side: Side,
    kind: TrailingKind,
    delta_bips: u32,
    activation: Option<Price>,
    state: TrailingState,
}

impl TrailingTrigger {
    /// A trigger for a `side` order of `kind` that fires `delta_bips` basis points (1 to 9 999)
    /// back from the extreme, tracking from `activation` if given.
    pub fn new(side: Side, kind: TrailingKind, delta_bips: u32, activation: Option<Price>) -> Self {
        Self {
            side,
            kind,
            delta_bips: delta_bips.clamp(1, 9_999),
            activation,
            state: TrailingState::Waiting,
        }
    }

    /// Where it stands.
    pub fn state(&self) -> TrailingState {
        self.state
    }

    /// The trade price that would fire it now (`None` until it tracks).
    pub fn trigger_level(&self) -> Option<Decimal> {
        let TrailingState::Tracking { extreme } = self.state else {
            return None;
        };
        let delta = Decimal::from(self.delta_bips) / Decimal::from(10_000);
        Some(match self.side {
            Side::Sell => extreme.get() * (Decimal::ONE - delta),
            Side::Buy => extreme.get() * (Decimal::ONE + delta),
        })
    }

    /// Whether `price` meets the activation condition.
    fn activates(&self, price: Price) -> bool {
        let Some(stop) = self.activation else {
            return true;
        };
        match (self.kind, self.side) {
            (TrailingKind::TakeProfit, Side::Sell) | (TrailingKind::StopLoss, Side::Buy) => {
                price >= stop
            }
            (TrailingKind::StopLoss, Side::Sell) | (TrailingKind::TakeProfit, Side::Buy) => {
                price <= stop
            }
        }
    }

    /// Feeds one trade; returns `true` when this trade fires the order (once).
    pub fn on_trade(&mut self, price: Price) -> bool {
        match self.state {
            TrailingState::Triggered { .. } => false,
            TrailingState::Waiting => {
                if self.activates(price) {
                    self.state = TrailingState::Tracking { extreme: price };
                }
                false
            }
            TrailingState::Tracking { extreme } => {
                let fires = self.trigger_level().is_some_and(|level| match self.side {
                    Side::Sell => price.get() <= level,
                    Side::Buy => price.get() >= level,
                });
                if fires {
                    self.state = TrailingState::Triggered { at: price };
                    return true;
                }
                let better = match self.side {
                    Side::Sell => price > extreme,
                    Side::Buy => price < extreme,
                };
                if better {
                    self.state = TrailingState::Tracking { extreme: price };
                }
                false
            }
        }
    }
}
