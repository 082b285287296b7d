//! The decision pipeline: what turns a strategy's entry signal into an order, or into a
//! recorded reason not to trade.
//!
//! ```text
//! Entry ─► L0 gates ─► L1 rules ─► L2 model (request, deadline, fallback) ─► sizing
//!       ─► shared budgets (reservation request, tied to the intent id) ─► order ─► pre-trade risk
//! ```
//!
//! Every stage is pure: the gates read [`GateInputs`], the rules read [`rules::RuleInputs`], the model
//! and the shared budgets are requests the engine makes and results the runtime feeds back.
//! Every entry ends in exactly one [`DecisionRecord`] (open or skip, the multipliers, the reason
//! code and the trace of every gate, rule, model answer and sizing step), which runtimes store
//! as a signal record so a decision can be explained later and labelled by the label back-fill.
//!
//! The default policy (no gates, rules, model or sizing configured) opens every entry at the
//! strategy's own quantity: a strategy that uses entries behaves exactly as one that submits
//! its orders itself, with a record of each decision besides.

mod gates;
mod local;
mod model;
pub mod rules;

pub use crate::request::BudgetClaim;
pub use gates::{Gate, GateConfig, GateInputs, HealthLevel, HealthPolicy, TradingWindow};
pub use local::LocalServices;
pub use model::{LogisticScorer, ModelConfig, ScoreError, Scorer, ScorerRegistry};
pub use rules::{RuleError, RuleSet};

use crate::ids::{IntentId, PortfolioId, SignalId, Symbol, Tag};
use crate::order::Side;
use crate::sizing::{SizingRefusal, SizingRule};
use crate::time::Timestamp;
use crate::value::Quantity;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An entry a strategy asks for: open (or add to) a position on `symbol` in direction `side`.
/// The pipeline decides whether and how much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Instrument.
    pub symbol: Symbol,
    /// Direction of the position to open.
    pub side: Side,
    /// The strategy's own quantity: what is ordered when no sizing rule is configured
    /// (times the decision's size multiplier).
    pub qty: Quantity,
    /// What the strategy saw (`cross_up`, `breakout`, ...); the order is tagged `entry`.
    pub signal: Tag,
    /// A strength or level, if the strategy has one.
    #[serde(default, with = "crate::value::decimal_str::option")]
    pub value: Option<Decimal>,
}

/// How a portfolio decides (see the module doc).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecisionPolicy {
    /// L0.
    pub gates: GateConfig,
    /// L1.
    pub rules: RuleSet,
    /// L2, if any.
    pub model: Option<ModelConfig>,
    /// How entries are sized (`None`: the strategy's quantity).
    pub sizing: Option<SizingRule>,
    /// The configuration's revision, stamped on every record.
    pub config_rev: u64,
}

impl DecisionPolicy {
    /// Whether anything beyond the default is configured.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Every problem with the policy, each naming its field.
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut problems = self.gates.problems(&format!("{prefix}.gates"));
        if let Some(model) = &self.model {
            problems.extend(model.problems(&format!("{prefix}.model")));
        }
        problems
    }
}

/// Open or skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionAction {
    /// An order is sent.
    Open,
    /// No order: see the reason.
    Skip,
}

/// Why a decision came out as it did. A closed set of codes, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DecisionReason {
    /// Opened.
    Open,
    /// The kill switch is on.
    KillSwitch,
    /// Outside the trading window.
    TradingWindow,
    /// Health too low.
    Health,
    /// Margin in use at its limit.
    MarginBudget,
    /// A rule said `skip_entry`.
    Rule,
    /// The model's probability was below its skip threshold.
    Model,
    /// No size (see the trace).
    Sizing,
    /// A shared budget (concurrency or margin) is exhausted, or did not answer in time.
    RiskBudget,
    /// The portfolio is paused or stopped.
    Halted,
}

impl DecisionReason {
    /// The code as stored (`RISK_BUDGET`, ...).
    pub fn code(self) -> &'static str {
        match self {
            DecisionReason::Open => "OPEN",
            DecisionReason::KillSwitch => "KILL_SWITCH",
            DecisionReason::TradingWindow => "TRADING_WINDOW",
            DecisionReason::Health => "HEALTH",
            DecisionReason::MarginBudget => "MARGIN_BUDGET",
            DecisionReason::Rule => "RULE",
            DecisionReason::Model => "MODEL",
            DecisionReason::Sizing => "SIZING",
            DecisionReason::RiskBudget => "RISK_BUDGET",
            DecisionReason::Halted => "HALTED",
        }
    }
}

impl From<Gate> for DecisionReason {
    fn from(gate: Gate) -> Self {
        match gate {
            Gate::KillSwitch => DecisionReason::KillSwitch,
            Gate::TradingWindow => DecisionReason::TradingWindow,
            Gate::Health => DecisionReason::Health,
            Gate::MarginBudget => DecisionReason::MarginBudget,
        }
    }
}

/// Why the model's answer was not used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum ModelFallback {
    /// No answer by the deadline.
    TimedOut,
    /// The scorer failed.
    Failed {
        /// What it said.
        reason: String,
    },
}

/// One step of a decision, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum TraceStep {
    /// A gate blocked the entry.
    GateBlocked {
        /// Which.
        gate: Gate,
    },
    /// Health scaled the size.
    HealthScaled {
        /// The level.
        level: HealthLevel,
        /// The multiplier.
        #[serde(with = "crate::value::decimal_str")]
        size_mult: Decimal,
    },
    /// A rule fired.
    Rule(rules::FiredRule),
    /// The model answered.
    ModelScored {
        /// The model.
        model: String,
        /// Its probability.
        #[serde(with = "crate::value::decimal_str")]
        p: Decimal,
        /// The size multiplier it maps to.
        #[serde(with = "crate::value::decimal_str")]
        size_mult: Decimal,
    },
    /// The model's answer was not used: the decision kept the rules' result.
    ModelFallback {
        /// The model.
        model: String,
        /// Why.
        #[serde(flatten)]
        fallback: ModelFallback,
    },
    /// The size.
    Sized {
        /// The quantity.
        qty: Quantity,
        /// Margin or balance cut it.
        capped: bool,
    },
    /// No size.
    SizingRefused {
        /// Why.
        refusal: SizingRefusal,
    },
    /// The shared budgets answered.
    Budget {
        /// Reserved.
        granted: bool,
        /// The store's reason when refused (or `timed_out`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
}

/// What was decided about one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Open or skip.
    pub action: DecisionAction,
    /// Size multiplier (health × rules × model).
    #[serde(with = "crate::value::decimal_str")]
    pub size_mult: Decimal,
    /// Take-profit distance multiplier.
    #[serde(with = "crate::value::decimal_str")]
    pub tp_mult: Decimal,
    /// Stop-loss distance multiplier.
    #[serde(with = "crate::value::decimal_str")]
    pub sl_mult: Decimal,
    /// Add-ons allowed, when a rule overrode the configured number.
    pub max_adds: Option<u32>,
    /// The quantity ordered, when opened.
    pub qty: Option<Quantity>,
    /// The reason code.
    pub reason: DecisionReason,
    /// Every gate, rule, model answer and sizing step on the way.
    pub trace: Vec<TraceStep>,
}

impl Decision {
    /// A decision still open to every stage: multipliers at 1, nothing traced.
    pub fn pending() -> Self {
        Self {
            action: DecisionAction::Open,
            size_mult: Decimal::ONE,
            tp_mult: Decimal::ONE,
            sl_mult: Decimal::ONE,
            max_adds: None,
            qty: None,
            reason: DecisionReason::Open,
            trace: Vec::new(),
        }
    }

    /// Ends the decision as a skip for `reason`.
    pub fn skip(&mut self, reason: DecisionReason) {
        self.action = DecisionAction::Skip;
        self.reason = reason;
        self.qty = None;
    }
}

/// A decision as stored: the signal, what the pipeline saw and what it decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Unique and stable (replays produce the same id).
    pub signal_id: SignalId,
    /// The portfolio.
    pub portfolio_id: PortfolioId,
    /// When the signal came (engine time).
    pub t0: Timestamp,
    /// Instrument.
    pub symbol: Symbol,
    /// Direction.
    pub side: Side,
    /// The strategy's signal name.
    pub signal: Tag,
    /// Its strength, if any.
    #[serde(default, with = "crate::value::decimal_str::option")]
    pub value: Option<Decimal>,
    /// The symbol's features at t0 (name → value), warm ones only.
    pub features: BTreeMap<String, String>,
    /// The regime at t0, if classified.
    pub regime: Option<crate::features::RegimeLabel>,
    /// What was decided.
    pub decision: Decision,
    /// The model's probability, when it answered.
    #[serde(default, with = "crate::value::decimal_str::option")]
    pub model_p: Option<Decimal>,
    /// The decision policy's revision.
    pub config_rev: u64,
    /// The entry order's intent id, when opened.
    pub intent_id: Option<IntentId>,
}

/// The claims an entry on `symbol` makes under `gates`, with `margin` its initial margin.
pub fn budget_claims(
    gates: &GateConfig,
    symbol: &Symbol,
    quote: &str,
    margin: Decimal,
) -> Vec<BudgetClaim> {
    let mut claims = Vec::new();
    if let Some(max) = gates.max_concurrent_per_symbol {
        claims.push(BudgetClaim {
            budget: format!("risk:{{concurrency}}:{symbol}"),
            amount: 1,
            ceiling: i64::from(max),
        });
    }
    if let Some(budget) = gates.shared_margin_budget {
        let micro = |d: Decimal| {
            use rust_decimal::prelude::ToPrimitive;
            (d * Decimal::from(1_000_000))
                .ceil()
                .to_i64()
                .unwrap_or(i64::MAX)
        };
        claims.push(BudgetClaim {
            budget: format!("risk:{{budget}}:margin:{quote}"),
            amount: micro(margin).max(1),
            ceiling: micro(budget),
        });
    }
    claims
}
