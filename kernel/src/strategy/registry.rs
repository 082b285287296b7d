//! Builds a built-in strategy from its name and `key=value` params, validating every param and
//! reporting all problems at once.

use super::{EmaCross, Scripted, ScriptedOrder, Strategy};
use crate::ids::Symbol;
use crate::value::Quantity;
use std::collections::BTreeMap;
use std::fmt;

/// Names of the built-in strategies.
pub const STRATEGY_NAMES: &[&str] = &["ema-cross", "scripted"];

/// Strategy parameters as given by the user.
pub type StrategyParams = BTreeMap<String, String>;

/// A strategy could not be built; lists every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct StrategyConfigError {
    /// The strategy name as given.
    pub strategy: String,
    /// One line per problem.
    pub problems: Vec<String>,
}

impl fmt::Display for StrategyConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "strategy `{}` is misconfigured: {}",
            self.strategy,
            self.problems.join("; ")
        )
    }
}

struct Checker<'a> {
    params: &'a StrategyParams,
    problems: Vec<String>,
    known: &'static [&'static str],
}

impl<'a> Checker<'a> {
    fn new(params: &'a StrategyParams, known: &'static [&'static str]) -> Self {
        let problems = params
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| format!("unknown param `{k}` (known: {})", known.join(", ")))
            .collect();
        Self {
            params,
            problems,
            known,
        }
    }

    fn required(&mut self, key: &str) -> Option<&'a str> {
        debug_assert!(self.known.contains(&key));
        let value = self.params.get(key).map(String::as_str);
        if value.is_none() {
            self.problems.push(format!("missing param `{key}`"));
        }
        value
    }

    fn parse<T>(&mut self, key: &str, parse: impl FnOnce(&str) -> Result<T, String>) -> Option<T> {
        let raw = self.required(key)?;
        parse(raw)
            .map_err(|e| self.problems.push(format!("`{key}={raw}`: {e}")))
            .ok()
    }
}

fn positive_usize(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number > 0".into()),
    }
}

fn positive_qty(text: &str) -> Result<Quantity, String> {
    match text.parse::<Quantity>() {
        Ok(q) if !q.is_zero() => Ok(q),
        Ok(_) => Err("must be > 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Builds a built-in strategy.
///
/// # Errors
/// [`StrategyConfigError`] listing every missing, unknown or invalid param, or the unknown name.
pub fn build_strategy(
    name: &str,
    params: &StrategyParams,
) -> Result<Box<dyn Strategy>, StrategyConfigError> {
    let fail = |problems| StrategyConfigError {
        strategy: name.to_owned(),
        problems,
    };
    match name {
        "ema-cross" => {
            let mut c = Checker::new(params, &["fast", "slow", "qty"]);
            let fast = c.parse("fast", positive_usize);
            let slow = c.parse("slow", positive_usize);
            let qty = c.parse("qty", positive_qty);
            if let (Some(f), Some(s)) = (fast, slow) {
                if f >= s {
                    c.problems
                        .push(format!("`fast` ({f}) must be smaller than `slow` ({s})"));
                }
            }
            match (fast, slow, qty) {
                (Some(f), Some(s), Some(q)) if c.problems.is_empty() => {
                    Ok(Box::new(EmaCross::new(f, s, q)))
                }
                _ => Err(fail(c.problems)),
            }
        }
        "scripted" => {
            let mut c = Checker::new(params, &["orders", "symbol"]);
            let orders = c.required("orders").map(|raw| {
                raw.split(',')
                    .filter(|item| !item.trim().is_empty())
                    .map(ScriptedOrder::parse)
                    .collect::<Vec<_>>()
            });
            let mut parsed = Vec::new();
            for item in orders.into_iter().flatten() {
                match item {
                    Ok(order) => parsed.push(order),
                    Err(e) => c.problems.push(format!("`orders`: {e}")),
                }
            }
            let symbol = params.get("symbol").map(Symbol::new);
            if c.problems.is_empty() {
                Ok(Box::new(Scripted::new(parsed, symbol)))
            } else {
                Err(fail(c.problems))
            }
        }
        other => Err(fail(vec![format!(
            "unknown strategy `{other}` (available: {})",
            STRATEGY_NAMES.join(", ")
        )])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> StrategyParams {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn lists_every_problem() {
        let err = build_strategy(
            "ema-cross",
            &params(&[("fast", "0"), ("qty", "-1"), ("colour", "red")]),
        )
        .err()
        .unwrap();
        assert_eq!(err.problems.len(), 4, "{err}");
        let text = err.to_string();
        for needle in ["colour", "fast=0", "missing param `slow`", "qty=-1"] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
    }

    #[test]
    fn builds_known_strategies() {
        assert!(build_strategy(
            "ema-cross",
            &params(&[("fast", "10"), ("slow", "20"), ("qty", "0.1")])
        )
        .is_ok());
        assert!(build_strategy(
            "scripted",
            &params(&[("orders", "2022-01-01T00:00:00Z:BUY:1")])
        )
        .is_ok());
        assert!(build_strategy("nope", &params(&[])).is_err());
    }
}
