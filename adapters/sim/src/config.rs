//! [`SimConfig`]: how the simulated venue fills orders.

use serde::{Deserialize, Serialize};

/// Where a market order placed on a bar fills when only bars are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarFill {
    /// At the close of the bar the order was placed on (the strategy saw that close).
    #[default]
    Close,
    /// At the open of the next bar (more conservative).
    NextOpen,
}

impl std::str::FromStr for BarFill {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "close" => Ok(BarFill::Close),
            "next-open" | "next_open" => Ok(BarFill::NextOpen),
            other => Err(format!(
                "unknown bar fill `{other}` (expected close or next-open)"
            )),
        }
    }
}

/// Simulated venue settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    /// Bar fill model.
    pub bar_fill: BarFill,
    /// Milliseconds between a submit and the order reaching the matching engine.
    pub latency_ms: i64,
    /// Extra uniformly random latency in `[0, jitter_ms]`, drawn from the seeded generator.
    pub latency_jitter_ms: i64,
    /// Seed of the jitter generator.
    pub seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bar_fill: BarFill::Close,
            latency_ms: 0,
            latency_jitter_ms: 0,
            seed: 42,
        }
    }
}

/// An invalid [`SimConfig`], listing every problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid simulated-venue config: {}", problems.join("; "))]
pub struct SimConfigError {
    /// One line per bad field.
    pub problems: Vec<String>,
}

impl SimConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`SimConfigError`] naming each bad field and its value.
    pub fn validate(&self) -> Result<(), SimConfigError> {
        let mut problems = Vec::new();
        if self.latency_ms < 0 {
            problems.push(format!("latency_ms = {}: must be >= 0", self.latency_ms));
        }
        if self.latency_jitter_ms < 0 {
            problems.push(format!(
                "latency_jitter_ms = {}: must be >= 0",
                self.latency_jitter_ms
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SimConfigError { problems })
        }
    }
}
