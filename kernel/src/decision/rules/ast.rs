//! The parsed form of a rule: a typed expression tree. Types are checked when the rules are
//! parsed, so evaluating a rule never fails: it is true, false or unknown.

use crate::features::FeatureSpec;
use crate::ids::Symbol;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Num,
    Text,
    Bool,
}

impl Type {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Type::Num => "a number",
            Type::Text => "text",
            Type::Bool => "true/false",
        }
    }
}

/// A name a rule can read. Every variable is about the signal being decided and the
/// portfolio deciding it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Var {
    /// Last price (mid or close) of the signal's symbol.
    Price,
    /// `buy` or `sell`.
    Side,
    /// The signal's symbol.
    Symbol,
    /// The signal's name (`cross_up`, ...).
    Signal,
    /// The signal's strength, if the strategy gave one.
    SignalValue,
    /// `FROZEN`, `NORMAL` or `EXTREME` (unknown while warming up or expired).
    Regime,
    /// `GREEN`, `YELLOW`, `ORANGE` or `RED`.
    Health,
    /// UTC hour, 0–23.
    Hour,
    /// UTC minute, 0–59.
    Minute,
    /// UTC day of the week: `mon` … `sun`.
    Weekday,
    /// Signed position of the signal's symbol.
    Position,
    /// Portfolio equity (quote).
    Equity,
    /// Drawdown from the highest equity seen, in percent.
    DrawdownPct,
    /// Open positions of the portfolio.
    OpenPositions,
    /// Adds already made to the position on the signal's symbol.
    Adds,
}

impl Var {
    pub(crate) const ALL: [(&'static str, Var); 15] = [
        ("price", Var::Price),
        ("side", Var::Side),
        ("symbol", Var::Symbol),
        ("signal", Var::Signal),
        ("signal_value", Var::SignalValue),
        ("regime", Var::Regime),
        ("health", Var::Health),
        ("hour", Var::Hour),
        ("minute", Var::Minute),
        ("weekday", Var::Weekday),
        ("position", Var::Position),
        ("equity", Var::Equity),
        ("drawdown_pct", Var::DrawdownPct),
        ("open_positions", Var::OpenPositions),
        ("adds", Var::Adds),
    ];

    pub(crate) fn named(name: &str) -> Option<Var> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    pub(crate) fn ty(self) -> Type {
        match self {
            Var::Side | Var::Symbol | Var::Signal | Var::Regime | Var::Health | Var::Weekday => {
                Type::Text
            }
            _ => Type::Num,
        }
    }
}

/// Arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

/// Comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// Built-in functions of numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Abs,
    Min,
    Max,
}

/// A typed expression.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Num(f64),
    Text(String),
    Bool(bool),
    Var(Var),
    /// A feature of the signal's symbol (`None`) or of a named one.
    Feature(FeatureSpec, Option<Symbol>),
    Neg(Box<Expr>),
    Not(Box<Expr>),
    Arith(Arith, Box<Expr>, Box<Expr>),
    Cmp(Cmp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

impl Expr {
    /// Whether the expression reads `var`.
    pub(crate) fn reads(&self, var: Var) -> bool {
        match self {
            Expr::Var(v) => *v == var,
            Expr::Neg(e) | Expr::Not(e) => e.reads(var),
            Expr::Arith(_, a, b) | Expr::Cmp(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.reads(var) || b.reads(var)
            }
            Expr::Call(_, args) => args.iter().any(|a| a.reads(var)),
            Expr::Num(_) | Expr::Text(_) | Expr::Bool(_) | Expr::Feature(..) => false,
        }
    }

    /// The features the expression reads.
    pub(crate) fn features(&self, out: &mut Vec<(FeatureSpec, Option<Symbol>)>) {
        match self {
            Expr::Feature(spec, symbol) => {
                let pair = (spec.clone(), symbol.clone());
                if !out.contains(&pair) {
                    out.push(pair);
                }
            }
            Expr::Neg(e) | Expr::Not(e) => e.features(out),
            Expr::Arith(_, a, b) | Expr::Cmp(_, a, b) | Expr::And(a, b) | Expr::Or(a, b) => {
                a.features(out);
                b.features(out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.features(out)),
            Expr::Num(_) | Expr::Text(_) | Expr::Bool(_) | Expr::Var(_) => {}
        }
    }
}

/// What a rule does when its condition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", content = "value", rename_all = "snake_case")]
pub enum RuleAction {
    /// Do not open the position.
    SkipEntry,
    /// Multiply the size.
    SizeMult(#[serde(with = "crate::value::decimal_str")] Decimal),
    /// Multiply the take-profit distance.
    TpMult(#[serde(with = "crate::value::decimal_str")] Decimal),
    /// Multiply the stop-loss distance.
    SlMult(#[serde(with = "crate::value::decimal_str")] Decimal),
    /// Allow this many add-ons to the position instead of the configured number.
    MaxAddsOverride(u32),
}

impl RuleAction {
    /// The action's name in the rule language.
    pub fn keyword(&self) -> &'static str {
        match self {
            RuleAction::SkipEntry => "skip_entry",
            RuleAction::SizeMult(_) => "size_mult",
            RuleAction::TpMult(_) => "tp_mult",
            RuleAction::SlMult(_) => "sl_mult",
            RuleAction::MaxAddsOverride(_) => "max_adds_override",
        }
    }
}

/// One parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Its name, unique in the file.
    pub name: String,
    /// Higher first; rules of equal priority keep their order in the file.
    pub priority: i64,
    pub(crate) condition: Expr,
    /// What it does.
    pub actions: Vec<RuleAction>,
    /// The line it starts on.
    pub line: u32,
}
