//! [`KafkaConfig`]: brokers, identity, provisioning and time-outs.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Connection and behaviour settings of the Kafka adapter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// `host:port[,host:port...]` (required; empty is reported by [`Self::validate`] with the
    /// other problems).
    #[serde(default)]
    pub brokers: String,
    /// Client id shown in broker logs and metrics.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// Create a topic on first use (development); off in production.
    #[serde(default = "default_true")]
    pub auto_create_topics: bool,
    /// Partitions of an auto-created topic (≥ 1).
    #[serde(default = "default_partitions")]
    pub partitions: i32,
    /// Replication factor of an auto-created topic (≥ 1).
    #[serde(default = "default_replication")]
    pub replication: i32,
    /// How long a publish may take before it fails as transient, ms (≥ 1).
    #[serde(default = "default_delivery_timeout_ms")]
    pub delivery_timeout_ms: u64,
    /// Group session timeout: how long a silent member keeps its partitions, ms (≥ 1000).
    #[serde(default = "default_session_timeout_ms")]
    pub session_timeout_ms: u64,
    /// Exclusive readers instead of group members: each subscription reads every partition
    /// of its topic itself (`assign`, no group coordination, no rebalances), starting from the
    /// offsets committed under its group name, and acknowledges by committing there. For
    /// processes that are by construction the only reader of a group — `chimera-live`'s node
    /// and gateway, whose group names carry their identity — a restart then resumes at once
    /// from the last acknowledged offset, however the previous process died; a zombie is fenced
    /// by the caller (checkpoint revisions), not by the broker. Partitions added to a topic
    /// after subscribing are not read.
    #[serde(default)]
    pub exclusive: bool,
    /// Further librdkafka properties, passed as they are (e.g. `security.protocol`).
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
}

fn default_client_id() -> String {
    "chimera".to_owned()
}
fn default_true() -> bool {
    true
}
fn default_partitions() -> i32 {
    3
}
fn default_replication() -> i32 {
    1
}
fn default_delivery_timeout_ms() -> u64 {
    30_000
}
fn default_session_timeout_ms() -> u64 {
    10_000
}

impl KafkaConfig {
    /// A development config for `brokers` with every default.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            client_id: default_client_id(),
            auto_create_topics: true,
            partitions: default_partitions(),
            replication: default_replication(),
            delivery_timeout_ms: default_delivery_timeout_ms(),
            session_timeout_ms: default_session_timeout_ms(),
            exclusive: false,
            extra: BTreeMap::new(),
        }
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`KafkaConfigError`] listing every bad field.
    pub fn validate(&self) -> Result<(), KafkaConfigError> {
        let mut problems = Vec::new();
        if self.brokers.trim().is_empty() {
            problems.push("brokers: required (host:port[,host:port…])".to_owned());
        } else if self.brokers.split(',').any(|b| {
            b.rsplit_once(':')
                .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err())
        }) {
            problems.push(format!(
                "brokers: {:?} is not a list of host:port",
                self.brokers
            ));
        }
        if self.client_id.is_empty() {
            problems.push("client_id: must not be empty".to_owned());
        }
        if self.partitions < 1 {
            problems.push(format!("partitions: {} (must be ≥ 1)", self.partitions));
        }
        if self.replication < 1 {
            problems.push(format!("replication: {} (must be ≥ 1)", self.replication));
        }
        if self.delivery_timeout_ms == 0 {
            problems.push("delivery_timeout_ms: must be ≥ 1".to_owned());
        }
        if self.session_timeout_ms < 1_000 {
            problems.push(format!(
                "session_timeout_ms: {} (must be ≥ 1000)",
                self.session_timeout_ms
            ));
        }
        for key in self.extra.keys() {
            if matches!(
                key.as_str(),
                "enable.idempotence"
                    | "acks"
                    | "enable.auto.commit"
                    | "group.id"
                    | "group.instance.id"
            ) {
                problems.push(format!(
                    "extra.{key}: set by the adapter to keep its delivery guarantees"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(KafkaConfigError { problems })
        }
    }
}

/// An invalid [`KafkaConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Kafka config: {}", problems.join("; "))]
pub struct KafkaConfigError {
    /// One line per bad field.
    pub problems: Vec<String>,
}
