//! The L1 rule language: users write rules as text; each has a priority, a condition over the
//! signal, its features, the regime, the time and the portfolio, and actions that skip the
//! entry or scale its size, take-profit and stop-loss distances, or change how many add-ons
//! are allowed.
//!
//! ```text
//! # Fees eat small moves: no entries in frozen markets.
//! rule frozen priority 100 when regime == "FROZEN" then skip_entry
//!
//! rule "volatile: smaller, wider stops"
//!   priority 50
//!   when atr(14) / price > 0.004 or regime == "EXTREME"
//!   then size_mult 0.5, sl_mult 1.5
//!
//! rule weekend when weekday == "sat" or weekday == "sun" then size_mult 0.5
//! ```
//!
//! **How rules combine.** Every rule whose condition is known true fires (see the `eval`
//! module for unknown values). If any fired rule says `skip_entry`, the entry is skipped.
//! Otherwise each parameter (`size_mult`, `tp_mult`, `sl_mult`, `max_adds_override`) is set
//! by the highest-priority fired rule that sets it (on equal priority, the rule written
//! first); fired rules that set it too are listed as overridden in the decision's trace. So
//! a specific rule overrides a general one by having a higher priority, and multipliers never
//! compound by accident.
//!
//! Errors point at the line and column of the text at fault. Parsing is linear in the
//! input's length, nesting is limited and nothing panics, whatever the text (the parser is
//! fuzzed, see `kernel/tests/rules_fuzz.rs`).

mod ast;
mod calls;
mod eval;
mod lexer;
mod parser;

pub use ast::{Rule, RuleAction};

use crate::features::{FeatureSpec, RegimeLabel};
use crate::ids::Symbol;
use crate::order::Side;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Rule text that does not parse, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct RuleError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// What is wrong and what was expected.
    pub message: String,
}

impl RuleError {
    pub(crate) fn at(pos: lexer::Pos, message: impl Into<String>) -> Self {
        Self {
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }
}

/// The longest rule text accepted, in bytes.
pub const MAX_RULES_BYTES: usize = 1 << 20;

/// What a rule reads about the moment (see the variables in the module doc of `ast`).
#[derive(Clone, Copy)]
pub struct RuleInputs<'a> {
    /// The engine's time.
    pub now: Timestamp,
    /// The signal's symbol.
    pub symbol: &'a Symbol,
    /// The signal's side.
    pub side: Side,
    /// The signal's name.
    pub signal: &'a str,
    /// The signal's strength, if any.
    pub signal_value: Option<f64>,
    /// The symbol's last price, if known.
    pub price: Option<f64>,
    /// The symbol's current regime, if classified and not expired.
    pub regime: Option<RegimeLabel>,
    /// The system's health.
    pub health: crate::decision::HealthLevel,
    /// Signed position of the symbol.
    pub position: f64,
    /// Portfolio equity.
    pub equity: f64,
    /// Drawdown from the peak, in percent.
    pub drawdown_pct: f64,
    /// Open positions.
    pub open_positions: usize,
    /// Add-ons made to the symbol's position.
    pub adds: u32,
    /// A feature's value (`None`: warming up or not computed).
    pub feature: &'a dyn Fn(&Symbol, &FeatureSpec) -> Option<f64>,
}

/// A parsed set of rules, in the order they are tried (highest priority first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    rules: Vec<Rule>,
    text: String,
}

/// A fired rule, for the decision's trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiredRule {
    /// The rule's name.
    pub rule: String,
    /// Its priority.
    pub priority: i64,
    /// The actions it applied.
    pub applied: Vec<RuleAction>,
    /// The actions a higher-priority rule had already decided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<RuleAction>,
}

/// What the rules decided together.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RuleOutcome {
    /// A fired rule said `skip_entry`: the first such rule's name.
    pub skipped_by: Option<String>,
    /// The size multiplier (1 when no rule set it).
    #[serde(with = "crate::value::decimal_str")]
    pub size_mult: Decimal,
    /// The take-profit multiplier.
    #[serde(with = "crate::value::decimal_str")]
    pub tp_mult: Decimal,
    /// The stop-loss multiplier.
    #[serde(with = "crate::value::decimal_str")]
    pub sl_mult: Decimal,
    /// The add-on limit a rule set, if any.
    pub max_adds: Option<u32>,
    /// Every rule that fired, in priority order.
    pub fired: Vec<FiredRule>,
}

impl RuleSet {
    /// Parses `text`.
    ///
    /// # Errors
    /// [`RuleError`] at the first problem, with its line and column.
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        if text.len() > MAX_RULES_BYTES {
            return Err(RuleError {
                line: 1,
                column: 1,
                message: format!("the rules are longer than {MAX_RULES_BYTES} bytes"),
            });
        }
        let tokens = lexer::tokenize(text)?;
        let mut rules = parser::Parser::new(tokens).rules()?;
        // Stable: equal priorities keep the file's order.
        rules.sort_by_key(|r| std::cmp::Reverse(r.priority));
        Ok(Self {
            rules,
            text: text.to_owned(),
        })
    }

    /// The rules, highest priority first.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The text the rules were parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// No rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a rule reads `drawdown_pct` (the engine then follows its peak equity on every
    /// event).
    pub fn reads_drawdown(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.condition.reads(ast::Var::DrawdownPct))
    }

    /// The features the rules read: of the signal's symbol (`None`) or of a named one.
    pub fn features(&self) -> Vec<(FeatureSpec, Option<Symbol>)> {
        let mut out = Vec::new();
        for rule in &self.rules {
            rule.condition.features(&mut out);
        }
        out
    }

    /// Fires the rules for `inputs` and combines what they say (see the module doc).
    pub fn decide(&self, inputs: &RuleInputs<'_>) -> RuleOutcome {
        let mut outcome = RuleOutcome {
            size_mult: Decimal::ONE,
            tp_mult: Decimal::ONE,
            sl_mult: Decimal::ONE,
            ..RuleOutcome::default()
        };
        let mut set = [false; 4];
        for rule in &self.rules {
            if eval::holds(&rule.condition, inputs) != Some(true) {
                continue;
            }
            let mut fired = FiredRule {
                rule: rule.name.clone(),
                priority: rule.priority,
                applied: Vec::new(),
                overridden: Vec::new(),
            };
            for action in &rule.actions {
                let slot = match action {
                    RuleAction::SkipEntry => {
                        if outcome.skipped_by.is_none() {
                            outcome.skipped_by = Some(rule.name.clone());
                        }
                        fired.applied.push(*action);
                        continue;
                    }
                    RuleAction::SizeMult(_) => 0,
                    RuleAction::TpMult(_) => 1,
                    RuleAction::SlMult(_) => 2,
                    RuleAction::MaxAddsOverride(_) => 3,
                };
                if set[slot] {
                    fired.overridden.push(*action);
                    continue;
                }
                set[slot] = true;
                match *action {
                    RuleAction::SizeMult(m) => outcome.size_mult = m,
                    RuleAction::TpMult(m) => outcome.tp_mult = m,
                    RuleAction::SlMult(m) => outcome.sl_mult = m,
                    RuleAction::MaxAddsOverride(n) => outcome.max_adds = Some(n),
                    RuleAction::SkipEntry => {}
                }
                fired.applied.push(*action);
            }
            outcome.fired.push(fired);
        }
        outcome
    }
}
