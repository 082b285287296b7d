//! The sections of the runtime processes: `[node]`, `[gateway]`, `[feed]` (validated by
//! [`crate::config::load`]).

use serde::Deserialize;

/// The execution node.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Node identity: the portfolios assigned to it in the database are the ones it runs.
    pub id: String,
    /// Capacity of each portfolio's queue (≥ 8).
    #[serde(default = "default_queue")]
    pub queue_capacity: usize,
    /// Most inputs a portfolio handles between two checkpoints (≥ 1).
    #[serde(default = "default_batch")]
    pub batch_max: usize,
    /// Heartbeat and metrics period, ms (≥ 100).
    #[serde(default = "default_heartbeat")]
    pub heartbeat_ms: u64,
    /// Register the `[[portfolios]]` of the config, assigned to this node, when they are not in
    /// the database yet (development convenience; the control plane owns them in production).
    #[serde(default)]
    pub register_portfolios: bool,
    /// Models the portfolios' decision policies may name (`[[node.scorers]]`, logistic
    /// regressions: `name`, `bias`, `weights = { "atr:14" = 0.5 }`).
    #[serde(default)]
    pub scorers: Vec<chimera_kernel::decision::LogisticScorer>,
    /// Most portfolios the scheduler places on this node (≥ 1); sent with every heartbeat.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// Serve Prometheus `/metrics` and `/health` here (e.g. `"127.0.0.1:9101"`).
    #[serde(default)]
    pub metrics_listen: Option<String>,
}

fn default_capacity() -> u32 {
    64
}
fn default_queue() -> usize {
    1024
}
fn default_batch() -> usize {
    256
}
fn default_heartbeat() -> u64 {
    1_000
}

/// The trade gateway.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Gateway identity (also its consumer group).
    pub id: String,
    /// The venue (`sim`; real exchanges plug in through the venue port).
    #[serde(default)]
    pub venue: VenueKind,
    /// How far (event time, ms) the simulated venue may lag the newest market event while it
    /// waits for orders stamped earlier, so fills do not depend on message timing.
    #[serde(default = "default_hold")]
    pub sim_hold_ms: i64,
    /// Serve Prometheus `/metrics` and `/health` here (e.g. `"127.0.0.1:9102"`).
    #[serde(default)]
    pub metrics_listen: Option<String>,
}

/// The venue a configured gateway drives. Only the simulation is built from configuration; an
/// exchange adapter is handed to `chimera_gateway::run_gateway_on` by the binary that links it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueKind {
    /// The simulated venue, in event time from `market.data`.
    #[default]
    Sim,
}
fn default_hold() -> i64 {
    86_400_000
}

/// The market-data feed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// Feed identity.
    pub id: String,
    /// Files to replay (CSV bars, Binance captures, JSON lines), merged in time order. A CSV
    /// bar file carries no symbol: write it `SYMBOL=path` (e.g. `BTCUSDT=bars.csv`).
    pub files: Vec<String>,
    /// Replay speed: 0 = as fast as possible, N = N × real time.
    #[serde(default)]
    pub speed: f64,
    /// Serve Prometheus `/metrics` and `/health` here (e.g. `"127.0.0.1:9103"`).
    #[serde(default)]
    pub metrics_listen: Option<String>,
}
