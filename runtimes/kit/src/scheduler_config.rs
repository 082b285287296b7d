//! The `[scheduler]` section: how fast the scheduler notices a dead node and how long its
//! leadership lasts without renewal.

use chimera_ports::Problems;
use serde::Deserialize;

/// The scheduler runtime.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Scheduler identity (in alerts and the leader lease).
    pub id: String,
    /// A node whose last heartbeat is older than this is dead and its portfolios move (ms,
    /// ≥ 3 × the nodes' heartbeat period is sensible).
    #[serde(default = "default_dead_after")]
    pub dead_after_ms: u64,
    /// How often the schedule is looked at (heartbeats taken in, deaths declared), ms.
    #[serde(default = "default_tick")]
    pub tick_ms: u64,
    /// How often the portfolio list is read from the database, ms.
    #[serde(default = "default_refresh")]
    pub refresh_ms: u64,
    /// The leader lease: a standby takes over at most this long after the leader vanished, ms.
    #[serde(default = "default_leader")]
    pub leader_ttl_ms: u64,
    /// Serve Prometheus `/metrics` and `/health` here (e.g. `"127.0.0.1:9104"`).
    #[serde(default)]
    pub metrics_listen: Option<String>,
}

fn default_dead_after() -> u64 {
    3_000
}
fn default_tick() -> u64 {
    100
}
fn default_refresh() -> u64 {
    1_000
}
fn default_leader() -> u64 {
    2_000
}

impl SchedulerConfig {
    /// Adds every bad field to `problems`.
    pub fn validate(&self, problems: &mut Problems) {
        problems.check(!self.id.is_empty(), "scheduler.id", "must not be empty");
        problems.check(
            self.dead_after_ms >= 200,
            "scheduler.dead_after_ms",
            format!("{} (must be ≥ 200)", self.dead_after_ms),
        );
        problems.check(
            (10..=self.dead_after_ms).contains(&self.tick_ms),
            "scheduler.tick_ms",
            format!("{} (must be 10 to dead_after_ms)", self.tick_ms),
        );
        problems.check(
            self.refresh_ms >= 100,
            "scheduler.refresh_ms",
            format!("{} (must be ≥ 100)", self.refresh_ms),
        );
        problems.check(
            self.leader_ttl_ms >= 300,
            "scheduler.leader_ttl_ms",
            format!("{} (must be ≥ 300)", self.leader_ttl_ms),
        );
    }
}
