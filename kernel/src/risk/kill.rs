//! The kill switch as one portfolio's engine sees it: a graded [`KillMode`] for all its
//! symbols and per symbol. Where the switches come from (who engaged them, their scope, their
//! expiry) is the runtime's business; the engine is told the resulting [`KillState`], whole,
//! each time it changes, so applying it twice changes nothing.

use crate::ids::Symbol;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How hard the switch stops trading. Graded: each mode does what the ones before it do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KillMode {
    /// No new exposure: an order that would open or increase a position is refused; orders
    /// that reduce one go on (sent reduce-only). Working orders are left alone.
    HaltEntries,
    /// As [`KillMode::HaltEntries`], and working orders that could increase a position (those
    /// not reduce-only, and execution algorithms' parents of that kind) are cancelled.
    ReduceOnly,
    /// As [`KillMode::ReduceOnly`], and every working order is cancelled, protective ones too.
    CancelAll,
    /// As [`KillMode::CancelAll`], and every position is closed at market once its orders
    /// are gone; a position that reappears (a fill in flight) is closed again.
    Flatten,
}

impl KillMode {
    /// Every mode, mildest first.
    pub const ALL: [KillMode; 4] = [
        KillMode::HaltEntries,
        KillMode::ReduceOnly,
        KillMode::CancelAll,
        KillMode::Flatten,
    ];

    /// The wire name (`halt_entries`, `reduce_only`, `cancel_all`, `flatten`).
    pub fn code(self) -> &'static str {
        match self {
            KillMode::HaltEntries => "halt_entries",
            KillMode::ReduceOnly => "reduce_only",
            KillMode::CancelAll => "cancel_all",
            KillMode::Flatten => "flatten",
        }
    }

    /// The mode named `code` (see [`KillMode::code`]).
    pub fn from_code(code: &str) -> Option<KillMode> {
        KillMode::ALL.into_iter().find(|m| m.code() == code)
    }
}

impl std::fmt::Display for KillMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// The kill switches in force for one portfolio: a mode for all its symbols and modes for
/// single symbols. A symbol's effective mode is the harder of the two.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillState {
    /// For every symbol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all: Option<KillMode>,
    /// For single symbols.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub symbols: BTreeMap<Symbol, KillMode>,
}

impl KillState {
    /// No switch in force.
    pub fn is_clear(&self) -> bool {
        self.all.is_none() && self.symbols.is_empty()
    }

    /// The mode in force for `symbol`, if any.
    pub fn mode_for(&self, symbol: &Symbol) -> Option<KillMode> {
        self.all.max(self.symbols.get(symbol).copied())
    }

    /// Adds `mode` for every symbol (keeping the harder one).
    pub fn engage_all(&mut self, mode: KillMode) {
        self.all = self.all.max(Some(mode));
    }

    /// Adds `mode` for `symbol` (keeping the harder one).
    pub fn engage_symbol(&mut self, symbol: Symbol, mode: KillMode) {
        let entry = self.symbols.entry(symbol).or_insert(mode);
        *entry = (*entry).max(mode);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_harder_mode_wins_and_codes_round_trip() {
        let mut state = KillState::default();
        assert!(state.is_clear());
        let btc = Symbol::new("BTCUSDT");
        let eth = Symbol::new("ETHUSDT");
        state.engage_symbol(btc.clone(), KillMode::Flatten);
        state.engage_symbol(btc.clone(), KillMode::HaltEntries);
        state.engage_all(KillMode::ReduceOnly);
        assert_eq!(state.mode_for(&btc), Some(KillMode::Flatten));
        assert_eq!(state.mode_for(&eth), Some(KillMode::ReduceOnly));
        for mode in KillMode::ALL {
            assert_eq!(KillMode::from_code(mode.code()), Some(mode));
            assert_eq!(
                serde_json::to_string(&mode).unwrap_or_default(),
                format!("\"{}\"", mode.code())
            );
        }
        assert_eq!(KillMode::from_code("panic"), None);
    }
}
