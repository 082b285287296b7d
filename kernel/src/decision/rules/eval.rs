//! Evaluating a condition. Three-valued: a comparison that reads something unknown (a feature
//! still warming up, a regime not yet classified, a division by zero) is unknown, `and`, `or`
//! and `not` follow Kleene's logic, and a rule fires only when its condition is known true. So
//! `not (atr(14) > 5)` does not fire while the ATR warms up.

use super::ast::{Arith, Cmp, Expr, Func, Var};
use super::RuleInputs;

/// A value during evaluation (`None` in the results: unknown).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Val<'a> {
    Num(f64),
    Text(&'a str),
    Bool(bool),
}

/// Whether `expr` holds for `inputs`: `Some(true)`, `Some(false)` or unknown.
pub(crate) fn holds(expr: &Expr, inputs: &RuleInputs<'_>) -> Option<bool> {
    match eval(expr, inputs)? {
        Val::Bool(b) => Some(b),
        _ => None,
    }
}

fn num(expr: &Expr, inputs: &RuleInputs<'_>) -> Option<f64> {
    match eval(expr, inputs)? {
        Val::Num(x) if x.is_finite() => Some(x),
        _ => None,
    }
}

fn eval<'a>(expr: &'a Expr, inputs: &RuleInputs<'a>) -> Option<Val<'a>> {
    Some(match expr {
        Expr::Num(x) => Val::Num(*x),
        Expr::Text(s) => Val::Text(s),
        Expr::Bool(b) => Val::Bool(*b),
        Expr::Var(var) => variable(*var, inputs)?,
        Expr::Feature(spec, symbol) => Val::Num((inputs.feature)(
            symbol.as_ref().unwrap_or(inputs.symbol),
            spec,
        )?),
        Expr::Neg(e) => Val::Num(-num(e, inputs)?),
        Expr::Not(e) => Val::Bool(!holds(e, inputs)?),
        Expr::And(a, b) => match (holds(a, inputs), holds(b, inputs)) {
            (Some(false), _) | (_, Some(false)) => Val::Bool(false),
            (Some(true), Some(true)) => Val::Bool(true),
            _ => return None,
        },
        Expr::Or(a, b) => match (holds(a, inputs), holds(b, inputs)) {
            (Some(true), _) | (_, Some(true)) => Val::Bool(true),
            (Some(false), Some(false)) => Val::Bool(false),
            _ => return None,
        },
        Expr::Arith(op, a, b) => {
            let (a, b) = (num(a, inputs)?, num(b, inputs)?);
            let x = match op {
                Arith::Add => a + b,
                Arith::Sub => a - b,
                Arith::Mul => a * b,
                Arith::Div => {
                    if b == 0.0 {
                        return None;
                    }
                    a / b
                }
            };
            if !x.is_finite() {
                return None;
            }
            Val::Num(x)
        }
        Expr::Call(func, args) => {
            let first = num(args.first()?, inputs)?;
            Val::Num(match func {
                Func::Abs => first.abs(),
                Func::Min => first.min(num(args.get(1)?, inputs)?),
                Func::Max => first.max(num(args.get(1)?, inputs)?),
            })
        }
        Expr::Cmp(op, a, b) => {
            let (a, b) = (eval(a, inputs)?, eval(b, inputs)?);
            let ordering = match (a, b) {
                (Val::Num(a), Val::Num(b)) => a.partial_cmp(&b)?,
                (Val::Text(a), Val::Text(b)) => {
                    // Text compares without regard to case: `regime == "frozen"` reads as meant.
                    if a.eq_ignore_ascii_case(b) {
                        std::cmp::Ordering::Equal
                    } else {
                        std::cmp::Ordering::Less
                    }
                }
                (Val::Bool(a), Val::Bool(b)) => a.cmp(&b),
                _ => return None,
            };
            Val::Bool(match op {
                Cmp::Lt => ordering.is_lt(),
                Cmp::Le => ordering.is_le(),
                Cmp::Gt => ordering.is_gt(),
                Cmp::Ge => ordering.is_ge(),
                Cmp::Eq => ordering.is_eq(),
                Cmp::Ne => ordering.is_ne(),
            })
        }
    })
}

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn variable<'a>(var: Var, inputs: &RuleInputs<'a>) -> Option<Val<'a>> {
    let ms = inputs.now.0;
    let day_ms = ms.rem_euclid(86_400_000);
    Some(match var {
        Var::Price => Val::Num(inputs.price?),
        Var::Side => Val::Text(inputs.side.as_str()),
        Var::Symbol => Val::Text(inputs.symbol.as_str()),
        Var::Signal => Val::Text(inputs.signal),
        Var::SignalValue => Val::Num(inputs.signal_value?),
        Var::Regime => Val::Text(match inputs.regime? {
            crate::features::RegimeLabel::Frozen => "FROZEN",
            crate::features::RegimeLabel::Normal => "NORMAL",
            crate::features::RegimeLabel::Extreme => "EXTREME",
        }),
        Var::Health => Val::Text(inputs.health.as_str()),
        // Whole hours and minutes: exact in f64.
        Var::Hour => Val::Num((day_ms / 3_600_000) as f64),
        Var::Minute => Val::Num((day_ms / 60_000 % 60) as f64),
        // 1970-01-01 was a Thursday (index 3 from Monday).
        Var::Weekday => Val::Text(
            WEEKDAYS[usize::try_from((ms.div_euclid(86_400_000) + 3).rem_euclid(7)).ok()?],
        ),
        Var::Position => Val::Num(inputs.position),
        Var::Equity => Val::Num(inputs.equity),
        Var::DrawdownPct => Val::Num(inputs.drawdown_pct),
        Var::OpenPositions => Val::Num(inputs.open_positions as f64),
        Var::Adds => Val::Num(f64::from(inputs.adds)),
    })
}
