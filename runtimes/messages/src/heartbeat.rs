//! [`Heartbeat`]: a node's periodic liveness and load report on `system.events` (and, with
//! shared state, under `node:{heartbeat}:<id>`), typed so monitoring reads fields instead of
//! guessing at JSON.

use chimera_kernel::ids::PortfolioId;
use serde::{Deserialize, Serialize};

/// A node is alive, with its load per portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename = "heartbeat")]
pub struct Heartbeat {
    /// The node.
    pub node: String,
    /// Counts up from 0 at the node's start.
    pub beat: u64,
    /// Most portfolios the scheduler may place on the node.
    #[serde(default)]
    pub capacity: u32,
    /// Messages this node sent to the dead-letter topic since it started.
    pub dead_letters: u64,
    /// One entry per portfolio the node runs.
    pub portfolios: Vec<PortfolioLoad>,
}

/// One portfolio's figures in a [`Heartbeat`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortfolioLoad {
    /// The portfolio.
    pub portfolio: PortfolioId,
    /// Market events applied.
    pub events: u64,
    /// Order commands published.
    pub orders: u64,
    /// Fills applied.
    pub fills: u64,
    /// Redelivered inputs skipped.
    pub skipped: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
    /// Rehearsals of its order branch run (`[node] rehearse_us`; none by default): nothing
    /// they did is among the other figures.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rehearsals: u64,
    /// Inputs waiting in its queue.
    pub queue: usize,
    /// The queue's capacity (alerts at 70 % and 95 %).
    pub queue_capacity: usize,
    /// Quotes replaced by newer ones while queued.
    pub coalesced: usize,
    /// Equity in the reporting asset at the last checkpoint (a decimal string; empty before the
    /// first).
    pub equity: String,
}

#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}
