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

/// When a resting limit order fills, on data that has an L2 book.
///
/// Orders resting where only quotes, trades or bars are known always use the trade-through
/// rule (they fill when the market trades strictly through their price).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueModel {
    /// Queue position: the order joins the back of its price level (the level's size when it
    /// arrives is the queue ahead of it). Trades at its price hitting its side shrink the queue
    /// ahead; only the traded volume beyond it fills the order. A level that shrinks without
    /// trades shrinks the queue ahead only down to the level's new size (cancellations are
    /// assumed to come from behind the order unless the level gets smaller than the queue
    /// ahead — the risk-averse assumption). A trade through the price, or the opposite side
    /// of the book reaching it, fills the order completely.
    #[default]
    Queue,
    /// Fill on touch: the whole order fills as soon as a trade prints at its price or the
    /// opposite side reaches it. Optimistic; an upper bound on fills.
    Touch,
}

impl std::str::FromStr for QueueModel {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "queue" => Ok(QueueModel::Queue),
            "touch" => Ok(QueueModel::Touch),
            other => Err(format!(
                "unknown queue model `{other}` (expected queue or touch)"
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
    /// How resting limit orders fill on L2 data.
    pub queue: QueueModel,
    /// Milliseconds between the venue seeing a market event and the strategies seeing it.
    pub market_data_latency_ms: i64,
    /// Extra uniformly random market-data latency in `[0, jitter]`, seeded; events still reach
    /// the strategies in the order they were published.
    pub market_data_jitter_ms: i64,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            bar_fill: BarFill::Close,
            latency_ms: 0,
            latency_jitter_ms: 0,
            seed: 42,
            queue: QueueModel::Queue,
            market_data_latency_ms: 0,
            market_data_jitter_ms: 0,
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
        for (name, value) in [
            ("market_data_latency_ms", self.market_data_latency_ms),
            ("market_data_jitter_ms", self.market_data_jitter_ms),
        ] {
            if value < 0 {
                problems.push(format!("{name} = {value}: must be >= 0"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SimConfigError { problems })
        }
    }
}
