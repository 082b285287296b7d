//! The kill switches in force, as one document in the shared store ([`KILL_SWITCH_KEY`]): who
//! engaged which [`KillMode`] over which [`KillScope`], why, and until when. Nodes and the
//! gateway poll it; the API, `chimera ctl` and the scheduler change it and announce each change
//! ([`ControlCommand::KillSwitchChanged`]).
//!
//! [`ControlCommand::KillSwitchChanged`]: crate::ControlCommand::KillSwitchChanged

use chimera_kernel::ids::{PortfolioId, Symbol};
use chimera_kernel::risk::{KillMode, KillState};
use serde::{Deserialize, Serialize};

/// Where the kill switches are kept (a JSON [`KillSwitchBoard`]).
pub const KILL_SWITCH_KEY: &str = "prod:{kill_switch}";

/// The lock writers take around a change of [`KILL_SWITCH_KEY`].
pub const KILL_SWITCH_LOCK_KEY: &str = "lock:{kill_switch}";

/// What a switch covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub enum KillScope {
    /// Every portfolio, every symbol.
    Global,
    /// One portfolio, every symbol it trades.
    Portfolio {
        /// The portfolio.
        portfolio_id: PortfolioId,
    },
    /// One symbol, in every portfolio.
    Symbol {
        /// The symbol.
        symbol: Symbol,
    },
}

impl KillScope {
    /// Whether the switch applies to `portfolio` at all.
    pub fn covers_portfolio(&self, portfolio: &PortfolioId) -> bool {
        match self {
            KillScope::Global | KillScope::Symbol { .. } => true,
            KillScope::Portfolio { portfolio_id } => portfolio_id == portfolio,
        }
    }
}

impl std::fmt::Display for KillScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KillScope::Global => f.write_str("global"),
            KillScope::Portfolio { portfolio_id } => write!(f, "portfolio {portfolio_id}"),
            KillScope::Symbol { symbol } => write!(f, "symbol {symbol}"),
        }
    }
}

impl std::str::FromStr for KillScope {
    type Err = String;

    /// `global`, `portfolio:<id>` or `symbol:<symbol>`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once(':') {
            None if text == "global" => Ok(KillScope::Global),
            Some(("portfolio", id)) if !id.is_empty() => Ok(KillScope::Portfolio {
                portfolio_id: PortfolioId::new(id),
            }),
            Some(("symbol", symbol)) if !symbol.is_empty() => Ok(KillScope::Symbol {
                symbol: Symbol::new(symbol),
            }),
            _ => Err(format!(
                "scope {text:?}: expected global, portfolio:<id> or symbol:<symbol>"
            )),
        }
    }
}

/// One engaged switch. (Unknown fields are not refused: `flatten` and serde's strict mode do
/// not go together; the API validates what it accepts on its own.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitch {
    /// Its id (what releasing names); engaging the same id again replaces it.
    pub id: String,
    /// How hard.
    pub mode: KillMode,
    /// Over what.
    #[serde(flatten)]
    pub scope: KillScope,
    /// Why, for the record.
    pub reason: String,
    /// Who engaged it (a token's name, `ctl`).
    pub engaged_by: String,
    /// When, epoch ms.
    pub engaged_at: i64,
    /// When it lapses by itself, epoch ms (`None`: held until released).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl KillSwitch {
    /// Whether it is in force at `now` (epoch ms).
    pub fn is_active(&self, now: i64) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

/// Every switch, with a version that grows with each change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitchBoard {
    /// Grows by one per change.
    pub version: u64,
    /// The switches, oldest first (expired ones linger until the next change prunes them).
    pub switches: Vec<KillSwitch>,
}

impl KillSwitchBoard {
    /// The switches in force at `now`.
    pub fn active(&self, now: i64) -> impl Iterator<Item = &KillSwitch> {
        self.switches.iter().filter(move |s| s.is_active(now))
    }

    /// What `portfolio`'s engine must be told at `now`.
    pub fn state_for(&self, portfolio: &PortfolioId, now: i64) -> KillState {
        let mut state = KillState::default();
        for switch in self.active(now) {
            match &switch.scope {
                KillScope::Global => state.engage_all(switch.mode),
                KillScope::Portfolio { portfolio_id } if portfolio_id == portfolio => {
                    state.engage_all(switch.mode);
                }
                KillScope::Portfolio { .. } => {}
                KillScope::Symbol { symbol } => state.engage_symbol(symbol.clone(), switch.mode),
            }
        }
        state
    }

    /// The hardest mode in force at `now` for `symbol` of `portfolio`, if any.
    pub fn mode_for(&self, portfolio: &PortfolioId, symbol: &Symbol, now: i64) -> Option<KillMode> {
        self.active(now)
            .filter(|s| match &s.scope {
                KillScope::Global => true,
                KillScope::Portfolio { portfolio_id } => portfolio_id == portfolio,
                KillScope::Symbol { symbol: s } => s == symbol,
            })
            .map(|s| s.mode)
            .max()
    }

    /// Adds `switch` (replacing one of the same id); `false` when exactly that switch was
    /// already there (nothing changed).
    pub fn engage(&mut self, switch: KillSwitch) -> bool {
        if let Some(existing) = self.switches.iter_mut().find(|s| s.id == switch.id) {
            if *existing == switch {
                return false;
            }
            *existing = switch;
        } else {
            self.switches.push(switch);
        }
        self.version += 1;
        true
    }

    /// Removes the switch `id`; what was removed (`None`: no such switch).
    pub fn release(&mut self, id: &str) -> Option<KillSwitch> {
        let at = self.switches.iter().position(|s| s.id == id)?;
        self.version += 1;
        Some(self.switches.remove(at))
    }

    /// Drops switches expired at `now`; those dropped.
    pub fn prune(&mut self, now: i64) -> Vec<KillSwitch> {
        let (active, expired): (Vec<_>, Vec<_>) =
            self.switches.drain(..).partition(|s| s.is_active(now));
        self.switches = active;
        if !expired.is_empty() {
            self.version += 1;
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn switch(id: &str, mode: KillMode, scope: KillScope, expires_at: Option<i64>) -> KillSwitch {
        KillSwitch {
            id: id.into(),
            mode,
            scope,
            reason: "test".into(),
            engaged_by: "tester".into(),
            engaged_at: 0,
            expires_at,
        }
    }

    #[test]
    fn scopes_combine_per_portfolio_and_symbol_and_expire() {
        let (p1, p2) = (PortfolioId::new("p1"), PortfolioId::new("p2"));
        let (btc, eth) = (Symbol::new("BTCUSDT"), Symbol::new("ETHUSDT"));
        let mut board = KillSwitchBoard::default();
        assert!(board.engage(switch(
            "a",
            KillMode::HaltEntries,
            KillScope::Global,
            Some(1_000)
        )));
        assert!(board.engage(switch(
            "b",
            KillMode::Flatten,
            KillScope::Symbol {
                symbol: btc.clone()
            },
            None
        )));
        assert!(board.engage(switch(
            "c",
            KillMode::CancelAll,
            KillScope::Portfolio {
                portfolio_id: p2.clone()
            },
            None
        )));
        assert!(
            !board.engage(board.switches[0].clone()),
            "same switch again"
        );
        assert_eq!(board.version, 3);
        assert_eq!(board.mode_for(&p1, &eth, 0), Some(KillMode::HaltEntries));
        assert_eq!(board.mode_for(&p1, &btc, 0), Some(KillMode::Flatten));
        assert_eq!(board.mode_for(&p2, &eth, 0), Some(KillMode::CancelAll));
        assert_eq!(board.mode_for(&p1, &eth, 1_000), None, "expired");
        let state = board.state_for(&p2, 0);
        assert_eq!(state.mode_for(&eth), Some(KillMode::CancelAll));
        assert_eq!(state.mode_for(&btc), Some(KillMode::Flatten));
        assert_eq!(board.prune(1_000).len(), 1);
        assert_eq!(board.release("b").map(|s| s.mode), Some(KillMode::Flatten));
        assert!(board.release("b").is_none());
        let text = serde_json::to_string(&board).unwrap();
        assert!(
            text.contains(r#""scope":"portfolio","portfolio_id":"p2""#),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<KillSwitchBoard>(&text).unwrap(),
            board
        );
    }

    #[test]
    fn scopes_parse_from_the_command_line_form() {
        assert_eq!("global".parse::<KillScope>(), Ok(KillScope::Global));
        assert_eq!(
            "symbol:BTCUSDT".parse::<KillScope>().map(|s| s.to_string()),
            Ok("symbol BTCUSDT".to_owned())
        );
        assert!("portfolio:p1".parse::<KillScope>().is_ok());
        for bad in ["", "all", "portfolio:", "desk:x"] {
            assert!(bad.parse::<KillScope>().is_err(), "{bad}");
        }
    }
}
