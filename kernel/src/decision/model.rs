//! L2: a model's probability that the entry works, mapped to a size multiplier.
//!
//! The engine never calls a model itself: it asks for a score with a deadline
//! ([`crate::request::RequestKind::ModelScore`]) and carries on when the answer comes back.
//! A runtime answers with a [`Scorer`] it holds in a [`ScorerRegistry`] (in process, on a
//! blocking thread with a timeout on a node), or with a remote service. No answer by the
//! deadline, or a failure, and the decision keeps the rules' result and records why.
//!
//! The mapping is linear between two anchors: `p ≤ p_low` gives `mult_low`, `p ≥ p_high`
//! gives `mult_high`; below `skip_below` (if set) the entry is skipped with reason `MODEL`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a model takes part in decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The scorer's name (registered with the runtime).
    pub model: String,
    /// How long to wait for the score (engine time).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: i64,
    /// The features sent (of the entry's symbol).
    #[serde(default)]
    pub features: Vec<crate::features::FeatureSpec>,
    /// Lower anchor probability.
    #[serde(default = "half", with = "crate::value::decimal_str")]
    pub p_low: Decimal,
    /// Upper anchor probability.
    #[serde(default = "p_high", with = "crate::value::decimal_str")]
    pub p_high: Decimal,
    /// Multiplier at or below `p_low`.
    #[serde(default = "half", with = "crate::value::decimal_str")]
    pub mult_low: Decimal,
    /// Multiplier at or above `p_high`.
    #[serde(default = "mult_high", with = "crate::value::decimal_str")]
    pub mult_high: Decimal,
    /// Skip the entry below this probability.
    #[serde(default, with = "crate::value::decimal_str::option")]
    pub skip_below: Option<Decimal>,
}

fn default_timeout_ms() -> i64 {
    50
}
fn half() -> Decimal {
    Decimal::new(5, 1)
}
fn p_high() -> Decimal {
    Decimal::new(8, 1)
}
fn mult_high() -> Decimal {
    Decimal::new(15, 1)
}

impl ModelConfig {
    /// A model `name` with the default mapping.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            model: name.into(),
            timeout_ms: default_timeout_ms(),
            features: Vec::new(),
            p_low: half(),
            p_high: p_high(),
            mult_low: half(),
            mult_high: mult_high(),
            skip_below: None,
        }
    }

    /// Every problem, each naming its field.
    pub fn problems(&self, prefix: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if self.model.trim().is_empty() {
            problems.push(format!("{prefix}.model: empty"));
        }
        if self.timeout_ms <= 0 {
            problems.push(format!("{prefix}.timeout_ms: must be above 0"));
        }
        let unit = Decimal::ZERO..=Decimal::ONE;
        if !unit.contains(&self.p_low) || !unit.contains(&self.p_high) || self.p_low >= self.p_high
        {
            problems.push(format!(
                "{prefix}.p_low/p_high: need 0 ≤ p_low < p_high ≤ 1, found {} and {}",
                self.p_low, self.p_high
            ));
        }
        if self.mult_low <= Decimal::ZERO || self.mult_high <= Decimal::ZERO {
            problems.push(format!("{prefix}.mult_low/mult_high: must be above 0"));
        }
        if self.skip_below.is_some_and(|p| !unit.contains(&p)) {
            problems.push(format!("{prefix}.skip_below: must be within 0 and 1"));
        }
        problems
    }

    /// The size multiplier for probability `p` (clamped to [0, 1]).
    pub fn size_mult(&self, p: Decimal) -> Decimal {
        let p = p.clamp(Decimal::ZERO, Decimal::ONE);
        if p <= self.p_low {
            return self.mult_low;
        }
        if p >= self.p_high {
            return self.mult_high;
        }
        let t = (p - self.p_low) / (self.p_high - self.p_low);
        (self.mult_low + t * (self.mult_high - self.mult_low)).round_dp(6)
    }
}

/// Why a scorer gave no probability.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoreError {
    /// A feature the model needs is missing or not a number.
    #[error("feature `{0}` is missing or not a number")]
    MissingFeature(String),
    /// The model produced something that is not a probability.
    #[error("the model's output {0} is not a probability")]
    NotAProbability(String),
    /// No scorer by that name.
    #[error("no model named `{0}`")]
    UnknownModel(String),
}

/// A model: features in, the probability that the entry works out.
///
/// Called by a runtime, never by the engine (see the module doc). Implementations must be
/// deterministic for backtests to repeat.
pub trait Scorer: Send {
    /// The model's name, as decision configs refer to it.
    fn name(&self) -> &str;

    /// The probability for `features` (feature name → value).
    ///
    /// # Errors
    /// [`ScoreError`] when an input is missing or the output is not in [0, 1].
    fn score(&mut self, features: &BTreeMap<String, f64>) -> Result<f64, ScoreError>;
}

/// Logistic regression: `p = 1 / (1 + e^-(bias + Σ weight·feature))`, the simplest model a
/// user can configure without code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogisticScorer {
    /// The model's name.
    pub name: String,
    /// Intercept.
    #[serde(default)]
    pub bias: f64,
    /// Feature name → weight.
    pub weights: BTreeMap<String, f64>,
}

impl Scorer for LogisticScorer {
    fn name(&self) -> &str {
        &self.name
    }

    fn score(&mut self, features: &BTreeMap<String, f64>) -> Result<f64, ScoreError> {
        let mut z = self.bias;
        for (name, weight) in &self.weights {
            let x = features
                .get(name)
                .copied()
                .filter(|x| x.is_finite())
                .ok_or_else(|| ScoreError::MissingFeature(name.clone()))?;
            z += weight * x;
        }
        let p = 1.0 / (1.0 + (-z).exp());
        if p.is_finite() {
            Ok(p)
        } else {
            Err(ScoreError::NotAProbability(p.to_string()))
        }
    }
}

/// The scorers a runtime holds, by name.
#[derive(Default)]
pub struct ScorerRegistry {
    scorers: BTreeMap<String, Box<dyn Scorer>>,
}

impl std::fmt::Debug for ScorerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.scorers.keys()).finish()
    }
}

impl ScorerRegistry {
    /// Adds (or replaces) a scorer under its name.
    pub fn register(&mut self, scorer: Box<dyn Scorer>) {
        self.scorers.insert(scorer.name().to_owned(), scorer);
    }

    /// Whether a scorer is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.scorers.contains_key(name)
    }

    /// Scores `features` (as the request carries them: decimal text) with `model`.
    ///
    /// # Errors
    /// [`ScoreError`]: unknown model, unreadable feature, or not a probability.
    pub fn score(
        &mut self,
        model: &str,
        features: &BTreeMap<String, String>,
    ) -> Result<Decimal, ScoreError> {
        let scorer = self
            .scorers
            .get_mut(model)
            .ok_or_else(|| ScoreError::UnknownModel(model.to_owned()))?;
        let mut values = BTreeMap::new();
        for (name, text) in features {
            let x: f64 = text
                .parse()
                .map_err(|_| ScoreError::MissingFeature(name.clone()))?;
            values.insert(name.clone(), x);
        }
        let p = scorer.score(&values)?;
        if !(0.0..=1.0).contains(&p) {
            return Err(ScoreError::NotAProbability(p.to_string()));
        }
        Decimal::try_from(p)
            .map(|d| d.round_dp(6))
            .map_err(|_| ScoreError::NotAProbability(p.to_string()))
    }
}
