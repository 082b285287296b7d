//! L0 gates: the checks an entry must pass before any rule or model is consulted, in this
//! order: kill switch, trading window, health level, margin ratio. Each is a pure function of
//! what the runtime passes in ([`GateInputs`]); the shared budgets (margin and per-symbol
//! concurrency across every node) come after, as a reservation the engine asks the runtime
//! for (see [`super::BudgetClaim`]).
//!
//! Health follows the design's downgrade matrix: GREEN trades normally, YELLOW scales sizes
//! by `yellow_size_mult`, and from `block_from` (ORANGE by default) no new position opens.
//! Exits and protective orders are never gated.

use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The system's health, graded by monitoring (`prod:{health}:system:state`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum HealthLevel {
    /// All well.
    #[default]
    Green,
    /// Degraded: trade smaller.
    Yellow,
    /// Serious: no new positions.
    Orange,
    /// Critical: no new positions.
    Red,
}

impl HealthLevel {
    /// `GREEN`, `YELLOW`, `ORANGE` or `RED`.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthLevel::Green => "GREEN",
            HealthLevel::Yellow => "YELLOW",
            HealthLevel::Orange => "ORANGE",
            HealthLevel::Red => "RED",
        }
    }
}

impl std::str::FromStr for HealthLevel {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_uppercase().as_str() {
            "GREEN" => Ok(HealthLevel::Green),
            "YELLOW" => Ok(HealthLevel::Yellow),
            "ORANGE" => Ok(HealthLevel::Orange),
            "RED" => Ok(HealthLevel::Red),
            other => Err(format!(
                "`{other}` is not a health level (GREEN, YELLOW, ORANGE, RED)"
            )),
        }
    }
}

/// When entries are allowed, in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradingWindow {
    /// Days entries are allowed (`mon` … `sun`); empty: every day.
    #[serde(default)]
    pub days: Vec<String>,
    /// Sessions as `HH:MM-HH:MM` (a session may cross midnight: `22:00-02:00`); empty: all day.
    #[serde(default)]
    pub sessions: Vec<String>,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn minutes(text: &str) -> Option<i64> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..=24).contains(&h) && (0..60).contains(&m) && h * 60 + m <= 1440).then_some(h * 60 + m)
}

fn session(text: &str) -> Option<(i64, i64)> {
    let (a, b) = text.split_once('-')?;
    let (a, b) = (minutes(a)?, minutes(b)?);
    (a != b).then_some((a, b))
}

impl TradingWindow {
    /// Every problem with the window, each naming the field.
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut problems = Vec::new();
        for day in &self.days {
            if !DAYS.contains(&day.trim().to_ascii_lowercase().as_str()) {
                problems.push(format!("{prefix}.days: `{day}` is not a day (mon … sun)"));
            }
        }
        for s in &self.sessions {
            if session(s).is_none() {
                problems.push(format!(
                    "{prefix}.sessions: `{s}` is not a session (HH:MM-HH:MM, start ≠ end)"
                ));
            }
        }
        problems
    }

    /// Whether `now` falls in the window. A session belongs to the day it starts on, so
    /// `fri 22:00-02:00` covers the small hours of Saturday.
    pub fn contains(&self, now: Timestamp) -> bool {
        let day = now.0.div_euclid(86_400_000);
        let minute = now.0.rem_euclid(86_400_000) / 60_000;
        let day_allowed = |d: i64| {
            self.days.is_empty()
                || self.days.iter().any(|name| {
                    let index = (d + 3).rem_euclid(7) as usize;
                    name.trim().eq_ignore_ascii_case(DAYS[index])
                })
        };
        if self.sessions.is_empty() {
            return day_allowed(day);
        }
        self.sessions
            .iter()
            .filter_map(|s| session(s))
            .any(|(a, b)| {
                if a < b {
                    (a..b).contains(&minute) && day_allowed(day)
                } else {
                    (minute >= a && day_allowed(day)) || (minute < b && day_allowed(day - 1))
                }
            })
    }
}

/// How health levels change entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthPolicy {
    /// Size multiplier at YELLOW.
    #[serde(with = "crate::value::decimal_str")]
    pub yellow_size_mult: Decimal,
    /// From this level on, no new positions.
    pub block_from: HealthLevel,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            yellow_size_mult: Decimal::new(5, 1),
            block_from: HealthLevel::Orange,
        }
    }
}

/// The L0 gates' settings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GateConfig {
    /// When entries are allowed (always, when absent).
    pub window: Option<TradingWindow>,
    /// What health levels do.
    pub health: HealthPolicy,
    /// Entries stop once margin in use reaches this fraction of equity (perpetuals).
    #[serde(with = "crate::value::decimal_str::option")]
    pub max_margin_ratio: Option<Decimal>,
    /// Open positions allowed per symbol across every node sharing the budget store.
    pub max_concurrent_per_symbol: Option<u32>,
    /// Initial margin (quote) all nodes together may have in use.
    #[serde(with = "crate::value::decimal_str::option")]
    pub shared_margin_budget: Option<Decimal>,
}

impl GateConfig {
    /// Every problem, each naming its field.
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut problems = self
            .window
            .as_ref()
            .map(|w| w.problems(&format!("{prefix}.window")))
            .unwrap_or_default();
        let mult = self.health.yellow_size_mult;
        if mult <= Decimal::ZERO || mult > Decimal::ONE {
            problems.push(format!(
                "{prefix}.health.yellow_size_mult: {mult} is not above 0 and at most 1"
            ));
        }
        if self.health.block_from == HealthLevel::Green {
            problems.push(format!(
                "{prefix}.health.block_from: GREEN would block every entry"
            ));
        }
        if self.max_margin_ratio.is_some_and(|r| r <= Decimal::ZERO) {
            problems.push(format!("{prefix}.max_margin_ratio: must be above 0"));
        }
        if self.max_concurrent_per_symbol == Some(0) {
            problems.push(format!(
                "{prefix}.max_concurrent_per_symbol: 0 would block every entry"
            ));
        }
        if self
            .shared_margin_budget
            .is_some_and(|b| b <= Decimal::ZERO)
        {
            problems.push(format!("{prefix}.shared_margin_budget: must be above 0"));
        }
        problems
    }
}

/// What the gates read about the moment.
#[derive(Debug, Clone, Copy)]
pub struct GateInputs {
    /// The engine's time.
    pub now: Timestamp,
    /// The kill switch is on: no new positions anywhere.
    pub kill_switch: bool,
    /// The system's health.
    pub health: HealthLevel,
    /// Margin in use (quote).
    pub margin_used: Decimal,
    /// Equity (quote).
    pub equity: Decimal,
}

/// Which gate stopped an entry. A closed set: decisions record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Gate {
    /// The kill switch is on.
    KillSwitch,
    /// Outside the trading window.
    TradingWindow,
    /// Health at or past the blocking level.
    Health,
    /// Margin in use at or past its limit.
    MarginBudget,
}

impl GateConfig {
    /// Runs the gates in order: `Err` names the first that blocks, `Ok` carries the size
    /// multiplier health asks for.
    ///
    /// # Errors
    /// The [`Gate`] that blocks the entry.
    pub fn check(&self, inputs: &GateInputs) -> Result<Decimal, Gate> {
        if inputs.kill_switch {
            return Err(Gate::KillSwitch);
        }
        if self
            .window
            .as_ref()
            .is_some_and(|w| !w.contains(inputs.now))
        {
            return Err(Gate::TradingWindow);
        }
        if inputs.health >= self.health.block_from {
            return Err(Gate::Health);
        }
        if let Some(max) = self.max_margin_ratio {
            if inputs.equity <= Decimal::ZERO || inputs.margin_used >= max * inputs.equity {
                return Err(Gate::MarginBudget);
            }
        }
        Ok(if inputs.health == HealthLevel::Yellow {
            self.health.yellow_size_mult
        } else {
            Decimal::ONE
        })
    }
}
