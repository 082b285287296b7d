//! The market regime of a symbol: FROZEN, NORMAL or EXTREME, from where the current realised
//! volatility ranks within its own rolling history. It is re-evaluated on a schedule (daily by
//! default), not on every bar, so decisions see a stable label; each evaluation has a revision
//! number and an expiry (a label not re-evaluated in time is no longer trusted).

use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegimeLabel {
    /// Volatility in the lowest part of its history: little moves, fees dominate.
    Frozen,
    /// In between.
    Normal,
    /// In the highest part of its history.
    Extreme,
}

/// How the regime is classified.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegimeConfig {
    /// Realised-volatility values kept as history.
    pub history: usize,
    /// At or below this percentile (0–100) of the history: FROZEN.
    pub frozen_below_pct: f64,
    /// At or above this percentile: EXTREME.
    pub extreme_above_pct: f64,
    /// Time between evaluations.
    pub every_ms: i64,
    /// How long an evaluation stays valid.
    pub valid_ms: i64,
}

impl Default for RegimeConfig {
    fn default() -> Self {
        Self {
            history: 1_000,
            frozen_below_pct: 10.0,
            extreme_above_pct: 90.0,
            every_ms: 86_400_000,
            valid_ms: 2 * 86_400_000,
        }
    }
}

/// One evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Regime {
    /// The label.
    pub label: RegimeLabel,
    /// The current volatility's percentile within the history (0–100).
    pub percentile: f64,
    /// Evaluations so far (1 for the first).
    pub revision: u64,
    /// When it was evaluated.
    pub at: Timestamp,
    /// When it stops being valid.
    pub expires_at: Timestamp,
}

impl Regime {
    /// Whether it is still valid at `now`.
    pub fn valid_at(&self, now: Timestamp) -> bool {
        now < self.expires_at
    }
}

/// The classifier of one symbol.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RegimeClassifier {
    config: RegimeConfig,
    history: VecDeque<f64>,
    next_at: Option<Timestamp>,
    current: Option<Regime>,
}

impl RegimeClassifier {
    /// A classifier with `config`.
    pub fn new(config: RegimeConfig) -> Self {
        Self {
            config,
            history: VecDeque::with_capacity(config.history.max(1) + 1),
            next_at: None,
            current: None,
        }
    }

    /// Records the realised volatility `vol` at `now`, and re-evaluates when due (the first
    /// time once the history holds at least 20 values). Returns the new evaluation, if any.
    pub fn update(&mut self, vol: f64, now: Timestamp) -> Option<Regime> {
        self.history.push_back(vol);
        if self.history.len() > self.config.history.max(1) {
            self.history.pop_front();
        }
        let due = self.next_at.is_none_or(|at| now >= at);
        if !due || self.history.len() < 20.min(self.config.history.max(1)) {
            return None;
        }
        let (mut below, mut equal) = (0.0, 0.0);
        for v in &self.history {
            match v.total_cmp(&vol) {
                std::cmp::Ordering::Less => below += 1.0,
                std::cmp::Ordering::Equal => equal += 1.0,
                std::cmp::Ordering::Greater => {}
            }
        }
        // Mid-rank percentile: ties count half, so a flat history ranks at 50.
        let percentile = (below + equal / 2.0) / self.history.len() as f64 * 100.0;
        let label = if percentile <= self.config.frozen_below_pct {
            RegimeLabel::Frozen
        } else if percentile >= self.config.extreme_above_pct {
            RegimeLabel::Extreme
        } else {
            RegimeLabel::Normal
        };
        let regime = Regime {
            label,
            percentile,
            revision: self.current.map_or(1, |r| r.revision + 1),
            at: now,
            expires_at: now.plus_millis(self.config.valid_ms),
        };
        self.current = Some(regime);
        self.next_at = Some(now.plus_millis(self.config.every_ms.max(1)));
        Some(regime)
    }

    /// The latest evaluation, valid or not (see [`Regime::valid_at`]).
    pub fn current(&self) -> Option<Regime> {
        self.current
    }
}
