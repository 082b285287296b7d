//! [`StrategyRegistry`]: strategies by name, filled at the composition root. The kernel ships
//! two ([`StrategyRegistry::builtin`]: `ema-cross`, `scripted`); a user's crate registers its
//! own beside them and hands the registry to `chimera backtest`, `chimera up` or the node, so it
//! runs its strategies without editing Chimera. [`Params`] validates `key=value` params and
//! reports every problem at once.

use super::{EmaCross, Scripted, ScriptedOrder, Strategy};
use crate::ids::Symbol;
use crate::value::Quantity;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

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

/// Builds one strategy from its params, or lists every problem with them.
pub type StrategyBuilder =
    Arc<dyn Fn(&StrategyParams) -> Result<Box<dyn Strategy>, Vec<String>> + Send + Sync>;

/// Strategies by name.
#[derive(Clone, Default)]
pub struct StrategyRegistry {
    builders: BTreeMap<String, StrategyBuilder>,
}

impl fmt::Debug for StrategyRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.builders.keys()).finish()
    }
}

impl StrategyRegistry {
    /// No strategies.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The strategies Chimera ships: `ema-cross` and `scripted`.
    pub fn builtin() -> Self {
        let mut registry = Self::empty();
        registry.register("ema-cross", build_ema_cross);
        registry.register("scripted", build_scripted);
        registry
    }

    /// Adds (or replaces) the strategy `name`.
    pub fn register(
        &mut self,
        name: impl Into<String>,
        builder: impl Fn(&StrategyParams) -> Result<Box<dyn Strategy>, Vec<String>>
            + Send
            + Sync
            + 'static,
    ) -> &mut Self {
        self.builders.insert(name.into(), Arc::new(builder));
        self
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.builders.keys().map(String::as_str)
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.builders.contains_key(name)
    }

    /// Builds the strategy `name`.
    ///
    /// # Errors
    /// [`StrategyConfigError`] listing every missing, unknown or invalid param, or the unknown
    /// name with the registered ones.
    pub fn build(
        &self,
        name: &str,
        params: &StrategyParams,
    ) -> Result<Box<dyn Strategy>, StrategyConfigError> {
        let fail = |problems| StrategyConfigError {
            strategy: name.to_owned(),
            problems,
        };
        match self.builders.get(name) {
            Some(builder) => builder(params).map_err(fail),
            None => Err(fail(vec![format!(
                "unknown strategy `{name}` (available: {})",
                self.names().collect::<Vec<_>>().join(", ")
            )])),
        }
    }
}

/// Builds one of the built-in strategies ([`StrategyRegistry::builtin`]).
///
/// # Errors
/// As [`StrategyRegistry::build`].
pub fn build_strategy(
    name: &str,
    params: &StrategyParams,
) -> Result<Box<dyn Strategy>, StrategyConfigError> {
    StrategyRegistry::builtin().build(name, params)
}

/// Reads `key=value` params, collecting every problem (unknown keys, missing or invalid
/// values) so a user sees them all at once.
#[derive(Debug)]
pub struct Params<'a> {
    given: &'a StrategyParams,
    known: &'static [&'static str],
    /// Problems found so far, one line each.
    pub problems: Vec<String>,
}

impl<'a> Params<'a> {
    /// Starts reading `params`; keys outside `known` are problems already.
    pub fn new(params: &'a StrategyParams, known: &'static [&'static str]) -> Self {
        let problems = params
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| format!("unknown param `{k}` (known: {})", known.join(", ")))
            .collect();
        Self {
            given: params,
            known,
            problems,
        }
    }

    /// The raw value of `key`, if given.
    pub fn optional(&self, key: &str) -> Option<&'a str> {
        debug_assert!(self.known.contains(&key));
        self.given.get(key).map(String::as_str)
    }

    /// The raw value of a required `key` (a problem when missing).
    pub fn required(&mut self, key: &str) -> Option<&'a str> {
        let value = self.optional(key);
        if value.is_none() {
            self.problems.push(format!("missing param `{key}`"));
        }
        value
    }

    /// A required `key` parsed by `parse` (a problem when missing or invalid).
    pub fn parse<T>(
        &mut self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.required(key)?;
        parse(raw)
            .map_err(|e| self.problems.push(format!("`{key}={raw}`: {e}")))
            .ok()
    }

    /// An optional `key` parsed by `parse`, `default` when absent (a problem when invalid).
    pub fn parse_or<T>(
        &mut self,
        key: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        let Some(raw) = self.optional(key) else {
            return default;
        };
        match parse(raw) {
            Ok(value) => value,
            Err(e) => {
                self.problems.push(format!("`{key}={raw}`: {e}"));
                default
            }
        }
    }

    /// `Ok(value)` when no problem was found, else every problem.
    ///
    /// # Errors
    /// The problems collected.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Vec<String>> {
        match value {
            Some(value) if self.problems.is_empty() => Ok(value),
            _ => Err(self.problems),
        }
    }
}

/// A whole number > 0.
///
/// # Errors
/// When `text` is not one.
pub fn positive_usize(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("expected a whole number > 0".into()),
    }
}

/// A quantity > 0.
///
/// # Errors
/// When `text` is not one.
pub fn positive_qty(text: &str) -> Result<Quantity, String> {
    match text.parse::<Quantity>() {
        Ok(q) if !q.is_zero() => Ok(q),
        Ok(_) => Err("must be > 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// `true` or `false`.
///
/// # Errors
/// When `text` is neither.
pub fn boolean(text: &str) -> Result<bool, String> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn build_ema_cross(params: &StrategyParams) -> Result<Box<dyn Strategy>, Vec<String>> {
    let mut p = Params::new(params, &["fast", "slow", "qty", "close_on_stop", "entries"]);
    let fast = p.parse("fast", positive_usize);
    let slow = p.parse("slow", positive_usize);
    let qty = p.parse("qty", positive_qty);
    let close_on_stop = p.parse_or("close_on_stop", true, boolean);
    let on_cross_only = p.parse_or("entries", false, |text| match text.trim() {
        "always" => Ok(false),
        "cross" => Ok(true),
        _ => Err("expected `always` (enter whenever flat) or `cross` (only on a crossover)".into()),
    });
    if let (Some(f), Some(s)) = (fast, slow) {
        if f >= s {
            p.problems
                .push(format!("`fast` ({f}) must be smaller than `slow` ({s})"));
        }
    }
    let built = match (fast, slow, qty) {
        (Some(f), Some(s), Some(q)) => Some(Box::new(
            EmaCross::new(f, s, q)
                .with_close_on_stop(close_on_stop)
                .with_entries_on_cross_only(on_cross_only),
        ) as Box<dyn Strategy>),
        _ => None,
    };
    p.finish(built)
}

fn build_scripted(params: &StrategyParams) -> Result<Box<dyn Strategy>, Vec<String>> {
    let mut p = Params::new(params, &["orders", "symbol"]);
    let mut parsed = Vec::new();
    if let Some(raw) = p.required("orders") {
        for item in raw.split(',').filter(|item| !item.trim().is_empty()) {
            match ScriptedOrder::parse(item) {
                Ok(order) => parsed.push(order),
                Err(e) => p.problems.push(format!("`orders`: {e}")),
            }
        }
    }
    let symbol = p.optional("symbol").map(Symbol::new);
    p.finish(Some(
        Box::new(Scripted::new(parsed, symbol)) as Box<dyn Strategy>
    ))
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
