//! Function calls in conditions: `abs`, `min`, `max`, and features — `feature("atr:14")`,
//! `feature("mid", "ETHUSDT")`, or the short forms `atr(14)`, `mid()`. A feature's name is
//! checked when the rules are read, with the feature engine's own parser, so a rule can only
//! name a feature that exists.

use super::ast::{Expr, Func, Type};
use super::lexer::Pos;
use super::RuleError;
use crate::features::FeatureSpec;
use crate::ids::Symbol;
use std::str::FromStr;

/// Features that take one whole-number argument, callable as `atr(14)`.
const NUMERIC_FEATURES: [&str; 7] = ["ema", "sma", "atr", "rv", "depth", "imbalance", "vwap"];
/// Features without an argument, callable as `mid()`.
const PLAIN_FEATURES: [&str; 3] = ["tr", "mid", "spread_bps"];

/// The call `name(args)` at `pos`, typed.
///
/// # Errors
/// [`RuleError`] for an unknown function, a wrong number or type of arguments, or an unknown
/// feature.
pub(super) fn resolve(
    name: &str,
    pos: Pos,
    args: Vec<(Expr, Type, Pos)>,
) -> Result<(Expr, Type), RuleError> {
    let arity = |n: usize| -> Result<(), RuleError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(RuleError::at(
                pos,
                format!("{name}() takes {n} argument(s), found {}", args.len()),
            ))
        }
    };
    let text_arg = |i: usize| -> Result<String, RuleError> {
        match &args[i] {
            (Expr::Text(s), _, _) => Ok(s.clone()),
            (_, _, p) => Err(RuleError::at(
                *p,
                format!("{name}() takes a quoted text here"),
            )),
        }
    };
    let spec = |text: &str, at: Pos| {
        FeatureSpec::from_str(text).map_err(|e| RuleError::at(at, e.to_string()))
    };
    match name {
        "abs" | "min" | "max" => {
            let (func, n) = match name {
                "abs" => (Func::Abs, 1),
                "min" => (Func::Min, 2),
                _ => (Func::Max, 2),
            };
            arity(n)?;
            let mut exprs = Vec::new();
            for (arg, ty, at) in args {
                if ty != Type::Num {
                    return Err(RuleError::at(
                        at,
                        format!("{name}() takes numbers, found {}", ty.name()),
                    ));
                }
                exprs.push(arg);
            }
            Ok((Expr::Call(func, exprs), Type::Num))
        }
        "feature" => {
            if args.is_empty() || args.len() > 2 {
                return Err(RuleError::at(
                    pos,
                    "feature() takes a feature's name and optionally a symbol: feature(\"atr:14\") or feature(\"mid\", \"ETHUSDT\")",
                ));
            }
            let parsed = spec(&text_arg(0)?, args[0].2)?;
            let symbol = if args.len() == 2 {
                let text = text_arg(1)?;
                if text.trim().is_empty() {
                    return Err(RuleError::at(args[1].2, "the symbol is empty"));
                }
                Some(Symbol::new(text))
            } else {
                None
            };
            Ok((Expr::Feature(parsed, symbol), Type::Num))
        }
        _ if NUMERIC_FEATURES.contains(&name) => {
            arity(1)?;
            let (arg, _, at) = &args[0];
            let Expr::Num(n) = arg else {
                return Err(RuleError::at(
                    *at,
                    format!("{name}() takes a whole number, like {name}(14)"),
                ));
            };
            Ok((
                Expr::Feature(spec(&format!("{name}:{n}"), *at)?, None),
                Type::Num,
            ))
        }
        _ if PLAIN_FEATURES.contains(&name) => {
            arity(0)?;
            Ok((Expr::Feature(spec(name, pos)?, None), Type::Num))
        }
        _ => Err(RuleError::at(
            pos,
            format!(
                "unknown function `{name}` (abs, min, max, feature, {}, {})",
                NUMERIC_FEATURES.join(", "),
                PLAIN_FEATURES.join(", ")
            ),
        )),
    }
}
