//! The `[api]` section: where the HTTP API listens and how much each token may ask of it.

use chimera_ports::Problems;
use serde::Deserialize;

/// The API runtime.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// API identity (in audit records, alerts and control commands it sends).
    pub id: String,
    /// Where to listen (host:port).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Requests one token may make per minute (a burst of as many, refilled evenly).
    #[serde(default = "default_rate")]
    pub requests_per_minute: u32,
    /// How long a call that sends a control command waits for its acknowledgement, ms; after
    /// that it answers `202 Accepted` with the command's id.
    #[serde(default = "default_wait")]
    pub command_wait_ms: u64,
    /// Serve Prometheus `/metrics` and `/health` here (e.g. `"127.0.0.1:9105"`), apart from the
    /// API's own port, whose every route but `/health` needs a token.
    #[serde(default)]
    pub metrics_listen: Option<String>,
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_rate() -> u32 {
    600
}
fn default_wait() -> u64 {
    5_000
}

impl ApiConfig {
    /// Adds every bad field to `problems`.
    pub fn validate(&self, problems: &mut Problems) {
        problems.check(!self.id.is_empty(), "api.id", "must not be empty");
        problems.check(
            self.listen.parse::<std::net::SocketAddr>().is_ok(),
            "api.listen",
            format!(
                "{:?} (expected host:port, e.g. 127.0.0.1:8080)",
                self.listen
            ),
        );
        problems.check(
            self.requests_per_minute >= 1,
            "api.requests_per_minute",
            "must be ≥ 1",
        );
        problems.check(
            (100..=60_000).contains(&self.command_wait_ms),
            "api.command_wait_ms",
            format!("{} (must be 100 to 60000)", self.command_wait_ms),
        );
    }
}
